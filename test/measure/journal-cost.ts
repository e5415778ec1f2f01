/**
 * A measurement, not a test: what the send journal costs. One 100,000-recipient
 * send in virtual time on the `degrading` profile (timeouts and retries, a few
 * hundred batches), run the same way (same seed, so the same calls) without a
 * journal (the engine alone), and through the send registry on each journal:
 * in memory, on a SQLite file, on a real redis-server. Process CPU per send,
 * median of --runs rounds (default 15) after a warm-up round, all in one
 * process with V8 single-threaded (its background threads' CPU is noise
 * here), the order rotating each round; for redis, the server's own CPU
 * (INFO cpu) besides.
 * Run: npm run measure:journal [-- --runs 15 --profile degrading]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import adaptive from '../../strategies/adaptive.js';
import { VirtualClock } from '../../src/clock.js';
import { defaultConfig } from '../../src/config.js';
import { SendEngine } from '../../src/engine/engine.js';
import type { SendEvent } from '../../src/engine/events.js';
import { silentLogger } from '../../src/log.js';
import { createSessionMemory } from '../../src/memory/keyv-memory.js';
import { demoNumbers } from '../../src/recipients.js';
import { createSendStore } from '../../src/sends/open-store.js';
import { SendRegistry } from '../../src/sends/registry.js';
import type { SendStore } from '../../src/sends/store.js';
import { SimulatedNetwork } from '../../src/transport/sim/network.js';
import { builtinProfiles } from '../../src/transport/sim/profile.js';
import { startRedis } from '../support/redis.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    profile: { type: 'string', default: 'degrading' },
    child: { type: 'string' },
    dir: { type: 'string' },
    redis: { type: 'string' },
  },
});
const runs = Number(values.runs);
const profile = builtinProfiles()[values.profile]!;
const recipients = demoNumbers(100_000);
const story = { kind: 'text', text: 'x' } as const;

function parts() {
  const clock = new VirtualClock(0);
  const config = defaultConfig.smartSend;
  const memory = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: config.sessionMemoryTTL, clock, logger: silentLogger });
  const transport = new SimulatedNetwork({ profile, clock, seed: 1 });
  return { clock, memory, engine: new SendEngine({ transport, clock, memory, config }) };
}

interface Outcome {
  readonly cpuMs: number;
  readonly events: number;
  readonly delivered: number;
}

/** Started with --expose-gc (the npm script does): each run starts from a clean heap, not the last one's garbage. */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function timed(work: () => Promise<SendEvent[]>): Promise<Outcome> {
  collect();
  const cpu = process.cpuUsage();
  const events = await work();
  const used = process.cpuUsage(cpu);
  const summary = events.at(-1);
  return {
    cpuMs: (used.user + used.system) / 1000,
    events: events.length,
    delivered: summary?.type === 'summary' ? summary.delivered : -1,
  };
}

async function withoutJournal(): Promise<Outcome> {
  const { clock, memory, engine } = parts();
  const outcome = await timed(() =>
    clock.run(async () => {
      const events: SendEvent[] = [];
      for await (const e of engine.send({ sessionId: 's', story, recipients, strategy: adaptive })) events.push(e);
      return events;
    }),
  );
  await memory.close();
  return outcome;
}

async function journaled(store: SendStore): Promise<Outcome> {
  const { clock, memory, engine } = parts();
  const registry = new SendRegistry({ engine, store, clock, retentionMs: 86_400_000, sweepEveryMs: 0 });
  const outcome = await timed(() =>
    clock.run(async () => {
      const { sendId } = await registry.start(
        { input: { sessionId: 's', story, recipients, strategy: adaptive }, requestId: '', fingerprint: '' },
        'continue',
      );
      const events: SendEvent[] = [];
      for await (const e of registry.watch(sendId, 0)) events.push(e);
      return events;
    }),
  );
  registry.close();
  await memory.close();
  return outcome;
}

async function redisCpuMs(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  const info = await client.info('cpu');
  await client.close();
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Variant = 'none' | 'memory' | 'sqlite' | 'redis';
const VARIANTS: readonly Variant[] = ['none', 'memory', 'sqlite', 'redis'];

/**
 * Every variant in one process, round after round in a rotating order, after
 * a warm-up round: the same heap and JIT state for all, so what differs is
 * the journal. Prints one JSON line per measured send.
 */
async function child(dir: string, redisUrl: string, rounds: number): Promise<void> {
  const once = async (variant: Variant, name: string): Promise<Outcome & { serverMs: number }> => {
    if (variant === 'none') return { ...(await withoutJournal()), serverMs: 0 };
    const store =
      variant === 'sqlite'
        ? createSendStore(`sqlite://${join(dir, `${name}.sqlite`)}`, { logger: silentLogger })
        : createSendStore(variant === 'redis' ? redisUrl : 'memory://', { logger: silentLogger });
    const before = variant === 'redis' ? await redisCpuMs(redisUrl) : 0;
    const outcome = await journaled(store);
    const serverMs = variant === 'redis' ? (await redisCpuMs(redisUrl)) - before : 0;
    await store.close();
    return { ...outcome, serverMs };
  };
  for (let round = -1; round < rounds; round++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const variant = VARIANTS[(i + Math.max(round, 0)) % VARIANTS.length]!;
      const outcome = await once(variant, `r${round + 1}-${variant}`);
      if (round >= 0) process.stdout.write(`${JSON.stringify({ variant, ...outcome })}\n`);
    }
  }
}

if (values.child) {
  await child(values.dir!, values.redis!, runs);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'storycast-journal-cost-'));
const redis = await startRedis();
const results = Object.fromEntries(VARIANTS.map((v) => [v, [] as (Outcome & { serverMs: number })[]]));
try {
  const out = execFileSync(
    process.execPath,
    // --single-threaded: no background JIT or GC threads, whose CPU would land on whichever send they happened in.
    [
      '--single-threaded',
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      'all',
      '--dir',
      dir,
      '--redis',
      redis.url,
      '--runs',
      String(runs),
      '--profile',
      profile.name,
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  for (const line of out.trim().split('\n')) {
    if (!line.startsWith('{')) continue;
    const { variant, ...outcome } = JSON.parse(line) as Outcome & { serverMs: number; variant: Variant };
    results[variant]!.push(outcome);
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

const base = median(results.none!.map((o) => o.cpuMs));
const rows = VARIANTS.map((journal) => {
  const outcomes = results[journal]!;
  const cpu = median(outcomes.map((o) => o.cpuMs));
  return {
    journal,
    cpuMs: Math.round(cpu),
    overheadPct: Number((((cpu - base) / base) * 100).toFixed(1)),
    overheadMs: Math.round(cpu - base),
    samples: outcomes.map((o) => Math.round(o.cpuMs)),
    events: outcomes[0]!.events,
    delivered: outcomes[0]!.delivered,
    ...(journal === 'redis' ? { redisServerCpuMs: Math.round(median(outcomes.map((o) => o.serverMs))) } : {}),
  };
});
console.log(JSON.stringify({ profile: profile.name, recipients: recipients.length, runs, rows }));
