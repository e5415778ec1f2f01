/**
 * A benchmark, not a test: storycast under N concurrent SendStory streams.
 * For each store (SQLite, the default, and memory:// to compare) and each N,
 * a fresh `npm start` server on loopback (test/measure/load-server.ts) on a
 * fast simulated profile (load-fast.json: every call succeeds in a few ms, so
 * a send's time is the engine's pacing plus whatever the server adds); a
 * warm-up round, then N sends of --recipients each, all started at once (as
 * ghz -c N does), each on its own session so no two share a session's pace.
 * Per N: errors (must be 0: a failed stream, a summary short of everyone, an
 * event that matches no call), mean end-to-end time (request to summary, as
 * the client sees it) over the model's time for the same send (load-model.ts),
 * the delay from a call ending on the simulated transport to its event
 * reaching the client (load-delays.ts), the server's CPU per send and its peak
 * resident memory above idle per send, the client's CPU (this process) and
 * what the rest of the machine used meanwhile (not 0: the figures are shared).
 * Bounded: a round gives up after --timeout-s (30), counting what did not end
 * as errors; the defaults take about a minute and a half. --rounds R repeats
 * each N on R fresh servers and reports the median round (the figures move
 * by tens of percent from run to run at high N). --cpu-prof runs the server
 * under node --cpu-prof and prints where each round's time went.
 * Run: npm run load [-- --n 1,50,500,1000 --stores sqlite,memory --rounds 3 --cpu-prof]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demoNumbers } from '../../src/recipients.js';
import { readCallLog } from '../../src/transport/sim/call-log.js';
import { callers, type StreamOutcome } from './load-client.js';
import { profileReport } from './load-cpu-profile.js';
import { callToClientDelays, quantile } from './load-delays.js';
import { modelTimes } from './load-model.js';
import { serverEnv, startLoadServer, TICKS_PER_SECOND } from './load-server.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1,50,500,1000' },
    stores: { type: 'string', default: 'sqlite,memory' },
    recipients: { type: 'string', default: '1000' },
    profile: { type: 'string', default: fileURLToPath(new URL('./load-fast.json', import.meta.url)) },
    connections: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '30' },
    'cpu-prof': { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    keep: { type: 'boolean', default: false },
  },
});

const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, not ${text}`);
  return n;
};
const ns = values.n.split(',').map((n) => positive('n', n.trim()));
const stores = values.stores.split(',').map((s) => s.trim());
for (const store of stores) if (store !== 'sqlite' && store !== 'memory') throw new Error(`--stores takes sqlite and memory, not ${store}`);
const recipients = demoNumbers(positive('recipients', values.recipients));
const connections = positive('connections', values.connections);
const warmup = Number(values.warmup);
const timeoutMs = positive('timeout-s', values['timeout-s']) * 1000;
const rounds = positive('rounds', values.rounds);
const sessionIds = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

interface Row {
  readonly store: string;
  readonly n: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly meanE2eMs: number;
  readonly maxE2eMs: number;
  readonly modelMs: number;
  readonly delayP50Ms: number;
  readonly delayP99Ms: number;
  readonly serverCpuPerSendS: number;
  readonly rssPerSendMb: number;
  readonly peakRssMb: number;
  readonly clientCpuS: number;
  /** CPU the rest of the machine used meanwhile: anything but 0 competes with the server and the client for the cores. */
  readonly otherCpuS: number;
  readonly wallS: number;
  readonly serverErrorLines: number;
  /** mean/model of every round of this N, when there were several: the row is the median one. */
  readonly spread?: readonly number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Every core's busy time so far (/proc/stat: all but idle and iowait), in seconds. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - fields[3]! - fields[4]!) / TICKS_PER_SECOND;
}
const MB = 1024 * 1024;

async function round(store: 'sqlite' | 'memory', n: number, model: ReadonlyMap<string, number>): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-load-'));
  const server = await startLoadServer({ dir, store, profile: values.profile, cpuProfile: values['cpu-prof'] });
  const client = callers(server.url, connections);
  let outcomes: StreamOutcome[];
  let cpu: number;
  let memory: { rss: number; peak: number };
  let idleRss: number;
  let clientCpu: NodeJS.CpuUsage;
  let machineCpu: number;
  let wall: number;
  const window = { from: 0, to: 0 };
  try {
    // JIT, connections and the store's first pages warm before anything is measured.
    if (warmup > 0) await client.run(sessionIds('warm', warmup), recipients, AbortSignal.timeout(timeoutMs));
    await sleep(1000);
    idleRss = server.memory().rss;
    server.resetPeak();
    const cpuBefore = server.cpuSeconds();
    const clientBefore = process.cpuUsage();
    const machineBefore = machineBusySeconds();
    const wallBefore = performance.now();
    window.from = Date.now();
    outcomes = await client.run(sessionIds('load', n), recipients, AbortSignal.timeout(timeoutMs));
    window.to = Date.now();
    clientCpu = process.cpuUsage(clientBefore);
    cpu = server.cpuSeconds() - cpuBefore;
    machineCpu = machineBusySeconds() - machineBefore;
    wall = (performance.now() - wallBefore) / 1000;
    memory = server.memory();
  } finally {
    client.close();
    const profile = await server.stop();
    if (profile) {
      const report = profileReport(profile, Number(values.top), window.from - server.spawnedAt, window.to - server.spawnedAt);
      console.log([`\nserver CPU profile, ${store}, N = ${n} (${profile}):`, ...report].join('\n'));
    }
  }
  const calls = await readCallLog(server.callLog);
  const delays = callToClientDelays(outcomes, calls);
  const failed = outcomes.filter((o) => o.error !== undefined);
  const serverLog = readFileSync(join(dir, 'server.log'), 'utf8').split('\n');
  // pino levels: 50 is error, 60 fatal.
  const serverErrorLines = serverLog.filter((l) => /"level":(5|6)0\b/.test(l)).length;
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
  const e2e = outcomes.map((o) => o.endedAt - o.startedAt);
  return {
    store,
    n,
    errors: failed.length + delays.unmatched.length,
    firstError: failed[0]?.error ?? delays.unmatched[0],
    meanE2eMs: mean(e2e),
    maxE2eMs: Math.max(...e2e),
    modelMs: mean(outcomes.map((o) => model.get(o.sessionId)!)),
    delayP50Ms: quantile(delays.ms, 0.5),
    delayP99Ms: quantile(delays.ms, 0.99),
    serverCpuPerSendS: cpu / n,
    rssPerSendMb: Math.max(0, memory.peak - idleRss) / MB / n,
    peakRssMb: memory.peak / MB,
    clientCpuS: (clientCpu.user + clientCpu.system) / 1e6,
    otherCpuS: Math.max(0, machineCpu - cpu - (clientCpu.user + clientCpu.system) / 1e6),
    wallS: wall,
    serverErrorLines,
  };
}

function table(rows: readonly Row[]): string {
  const head =
    '| N | errors | mean e2e | max e2e | model | mean/model | call → client p50 / p99 | server CPU per send | peak RSS above idle per send (peak) | client CPU | other CPU |';
  const lines = rows.map((r) =>
    [
      r.n.toLocaleString('en-US'),
      String(r.errors),
      `${(r.meanE2eMs / 1000).toFixed(2)} s`,
      `${(r.maxE2eMs / 1000).toFixed(2)} s`,
      `${(r.modelMs / 1000).toFixed(2)} s`,
      `${(r.meanE2eMs / r.modelMs).toFixed(2)}x${r.spread ? ` (${Math.min(...r.spread).toFixed(2)}-${Math.max(...r.spread).toFixed(2)})` : ''}`,
      `${r.delayP50Ms} / ${r.delayP99Ms} ms`,
      `${(r.serverCpuPerSendS * 1000).toFixed(1)} ms`,
      `${r.rssPerSendMb.toFixed(2)} MB (${r.peakRssMb.toFixed(0)} MB)`,
      `${r.clientCpuS.toFixed(2)} s`,
      `${r.otherCpuS.toFixed(2)} s`,
    ].join(' | '),
  );
  return [head, `|${'---|'.repeat(11)}`, ...lines.map((l) => `| ${l} |`)].join('\n');
}

const started = Date.now();
// The same sends in every round (a fresh server each time, so no session has history): one model per session.
const env = serverEnv({ dir: tmpdir(), store: 'memory', profile: values.profile });
const model = await modelTimes(env, sessionIds('load', Math.max(...ns)), recipients);
console.log(
  `storycast load: ${recipients.length.toLocaleString('en-US')} recipients a send, profile ${values.profile}, ` +
    `${connections} HTTP/2 connection(s), warm-up ${warmup} sends, ${rounds} round(s) each; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
);
const rows: Row[] = [];
for (const store of stores as ('sqlite' | 'memory')[]) {
  for (const n of ns) {
    const tries: Row[] = [];
    for (let r = 0; r < rounds; r++) {
      const row = await round(store, n, model);
      tries.push(row);
      report(row);
    }
    // The median round by mean end-to-end time, with every round's ratio beside it; errors are every round's.
    const sorted = [...tries].sort((a, b) => a.meanE2eMs - b.meanE2eMs);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const errors = tries.reduce((sum, t) => sum + t.errors, 0);
    rows.push(rounds > 1 ? { ...median, errors, spread: tries.map((t) => t.meanE2eMs / t.modelMs) } : median);
  }
}

function report(row: Row): void {
  const { store, n } = row;
  console.log(
    `${store} N=${n}: ${row.errors} errors, mean ${(row.meanE2eMs / 1000).toFixed(2)} s = ${(row.meanE2eMs / row.modelMs).toFixed(2)}x the model, ` +
      `p99 call→client ${row.delayP99Ms} ms, server CPU ${(row.serverCpuPerSendS * 1000).toFixed(1)} ms/send, ` +
      `client ${row.clientCpuS.toFixed(1)} s, other processes ${row.otherCpuS.toFixed(1)} s of CPU in ${row.wallS.toFixed(1)} s` +
      `${row.firstError ? `; first error: ${row.firstError}` : ''}${row.serverErrorLines ? `; ${row.serverErrorLines} error lines in the server log` : ''}`,
  );
}

for (const store of stores) {
  console.log(
    `\n${store === 'sqlite' ? 'STORYCAST_STORE=sqlite:// (the default: journal on a SQLite file)' : 'STORYCAST_STORE=memory://'}\n`,
  );
  console.log(table(rows.filter((r) => r.store === store)));
}
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all`);
if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
