/**
 * A whole fuzz run, for the CLI (test/fuzz/run.ts) and the CI test alike:
 * start the server, warm it up, take the memory baseline, drive N generated
 * requests per RPC, then the malformed-frame cases, then check what must hold
 * afterwards (sends ended, health SERVING, memory back near the baseline once
 * the send retention has passed).
 */
import { type HealthAnswer, checkAllHealth } from './health.js';
import { closeSession, connect, H2Pool } from './h2-client.js';
import { type MalformedResult, runMalformed } from './malformed.js';
import { errorLogCollector, type HeapFigures, ProcessWatch, settledMemory } from './process-watch.js';
import {
  casesFor,
  emptyReport,
  type Finding,
  type FindingKind,
  Pools,
  type RpcReport,
  seedFor,
  sendCase,
  type Sender,
} from './requests.js';
import { type Rpc, RPCS } from './rpcs.js';
import type { FuzzCase } from './cases.js';
import { startFuzzServer } from './server.js';

export interface FuzzOptions {
  readonly perRpc: number;
  readonly seed: number;
  /** Requests in flight at once (default 8). */
  readonly concurrency?: number;
  /** How long one request may go unanswered before it counts as dropped (default 120 s: a 16 MiB body on a busy 2-core machine). */
  readonly timeoutMs?: number;
  /** Only these RPCs ("StoryService/SendStory"); all by default. */
  readonly only?: readonly string[];
  /** Run the malformed HTTP/2 and protocol cases too (default true). */
  readonly malformed?: boolean;
  /** Warm-up requests per RPC before the baseline (default 20). */
  readonly warmUp?: number;
  readonly progress?: (line: string) => void;
}

export interface FuzzReport {
  readonly perRpc: number;
  readonly seed: number;
  readonly rpcs: readonly RpcReport[];
  /** Up to EXAMPLES per RPC and kind; the reports count them all. */
  readonly findings: readonly Finding[];
  readonly malformed: readonly MalformedResult[];
  readonly unhandledRejections: readonly string[];
  readonly uncaughtExceptions: readonly string[];
  readonly warnings: readonly string[];
  readonly serverErrorLogs: readonly string[];
  /** Sends still running once everything was sent and the wait for them ran out. */
  readonly sendsStillRunning: number;
  readonly health: readonly HealthAnswer[];
  readonly memory: { readonly baseline: HeapFigures; readonly after: HeapFigures };
  readonly durationMs: number;
}

const EXAMPLES = 5;

async function waitForSends(running: () => number, ms: number): Promise<number> {
  const until = Date.now() + ms;
  while (running() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  return running();
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const unknown = options.only?.filter((name) => !RPCS.some((r) => r.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`no such RPC: ${unknown.join(', ')} (have ${RPCS.map((r) => r.name).join(', ')})`);
  const started = Date.now();
  const progress = options.progress ?? (() => {});
  const watch = new ProcessWatch().start();
  const logs = errorLogCollector();
  const { server, clock } = await startFuzzServer(logs.logger);
  const pool = new H2Pool(server.url, 4);
  try {
    const rpcs = options.only ? RPCS.filter((r) => options.only!.includes(r.name)) : RPCS;
    const findings: Finding[] = [];
    const kept = new Map<string, number>();
    const sender: Sender = {
      pool,
      pools: new Pools(),
      timeoutMs: options.timeoutMs ?? 120_000,
      found: (finding) => {
        const slot = `${finding.rpc}/${finding.kind satisfies FindingKind}`;
        const n = kept.get(slot) ?? 0;
        kept.set(slot, n + 1);
        if (n < EXAMPLES) findings.push(finding);
      },
    };
    const concurrency = options.concurrency ?? 8;

    // Warm-up: modules loaded, code compiled, pools filled; not counted.
    const warmUp = options.warmUp ?? 20;
    const scratch = new Map(rpcs.map((rpc) => [rpc.name, emptyReport(rpc)]));
    await drive(
      rpcs.map((rpc) => ({ rpc, cases: casesFor(rpc, warmUp, seedFor(rpc, options.seed) ^ 0x5eed, []) })),
      concurrency,
      async (rpc, fuzz) => sendCase({ ...sender, found: () => {} }, rpc, fuzz, scratch.get(rpc.name)!),
    );
    await waitForSends(() => server.app.sends.size, 30_000);
    const baseline = await settledMemory();
    progress(`baseline heapUsed ${mb(baseline.heapUsed)}; ${options.perRpc} requests for each of ${rpcs.length} RPCs`);

    const reports = rpcs.map(emptyReport);
    const byName = new Map(reports.map((r) => [r.rpc, r]));
    let done = 0;
    const total = options.perRpc * rpcs.length;
    const step = Math.max(1, Math.floor(total / 20));
    await drive(
      rpcs.map((rpc) => ({ rpc, cases: casesFor(rpc, options.perRpc, seedFor(rpc, options.seed)) })),
      concurrency,
      async (rpc, fuzz) => {
        await sendCase(sender, rpc, fuzz, byName.get(rpc.name)!);
        if (++done % step === 0) progress(`${done}/${total} requests, ${Math.round((Date.now() - started) / 1000)} s`);
      },
    );

    const malformed = options.malformed === false ? [] : await runMalformed(server.url, progress);
    const sendsStillRunning = await waitForSends(() => server.app.sends.size, 60_000);
    const probe = connect(server.url);
    const health = await checkAllHealth(probe);
    await closeSession(probe);
    await pool.close();
    // What the server keeps on purpose it keeps for the send retention: past it, memory should be back.
    clock.shift(server.app.registry.retentionMs + 1);
    await server.app.registry.sweep();
    const after = await settledMemory();
    return {
      perRpc: options.perRpc,
      seed: options.seed,
      rpcs: reports,
      findings,
      malformed,
      unhandledRejections: watch.unhandledRejections,
      uncaughtExceptions: watch.uncaughtExceptions,
      warnings: watch.warnings,
      serverErrorLogs: logs.lines,
      sendsStillRunning,
      health,
      memory: { baseline, after },
      durationMs: Date.now() - started,
    };
  } finally {
    await pool.close();
    await server.server.close();
    watch.stop();
  }
}

/** Round-robin over the RPCs (so state builds up across services as it would), `concurrency` requests in flight. */
async function drive(
  streams: { rpc: Rpc; cases: Iterator<FuzzCase> }[],
  concurrency: number,
  run: (rpc: Rpc, fuzz: FuzzCase) => Promise<void>,
): Promise<void> {
  function* interleaved(): Generator<[Rpc, FuzzCase]> {
    let live = streams;
    while (live.length > 0) {
      const next: typeof streams = [];
      for (const s of live) {
        const item = s.cases.next();
        if (item.done) continue;
        next.push(s);
        yield [s.rpc, item.value];
      }
      live = next;
    }
  }
  const tasks = interleaved();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = tasks.next(); !item.done; item = tasks.next()) await run(...item.value);
    }),
  );
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
