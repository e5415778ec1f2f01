/**
 * A measurement, not a test: how long a send stalls when its owner is
 * SIGKILLed. Three `npm start` replicas on one redis-server; each trial starts
 * a 6,000-recipient ON_DISCONNECT_CONTINUE send, follows it with WatchSend
 * through a replica that does not own the session (which follows the send to
 * its new owner), SIGKILLs the owner after a few batches, and times the kill
 * to the first event the new owner produced and to the summary, as that
 * caller sees them. The lease TTL is STORYCAST_LEASE_TTL_MS, or the server's
 * default when unset. Run: npm run measure:failover [-- --trials N]
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { OnDisconnect, type SendStoryResponse } from '../../src/gen/storycast/v1/story_service_pb.js';
import { demoNumbers } from '../../src/recipients.js';
import { lastSender, resumedBy, startCluster, type Cluster } from '../support/cluster.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' } } });
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, not ${values.trials}`);
const ttlEnv = process.env['STORYCAST_LEASE_TTL_MS'];
const leaseTtlMs = ttlEnv === undefined || ttlEnv === '' ? undefined : Number(ttlEnv);
const TOTAL = 6000;
const KILL_AFTER_BATCHES = 3;
const story = { content: { case: 'text' as const, value: { text: 'failover' } } };

interface Trial {
  readonly owner: string;
  readonly follower: string;
  readonly newOwner: string;
  readonly toFirstEventMs: number;
  readonly toSummaryMs: number;
}

async function trial(cluster: Cluster, n: number): Promise<Trial> {
  const sessionId = `failover-${n}-${Date.now()}`;
  const live = cluster.live();
  const starter = live[n % live.length]!;
  // The starter's own stream is let go once someone else follows: CONTINUE keeps the send going.
  const letGo = new AbortController();
  const started = starter.stories.sendStory(
    {
      sessionId,
      story,
      recipients: demoNumbers(TOTAL),
      strategy: 'conservative',
      requestId: `measure-${sessionId}`,
      onDisconnect: OnDisconnect.CONTINUE,
    },
    { signal: letGo.signal },
  );
  const it = started[Symbol.asyncIterator]();
  const planned = (await it.next()).value as SendStoryResponse | undefined;
  if (planned?.event.case !== 'planned') throw new Error('the send did not start with its planned event');
  const sendId = planned.event.value.sendId;
  // The owner is whoever makes the anchor call: placement may have put the session anywhere.
  let owner = await lastSender(cluster, sessionId);
  while (!owner) {
    await sleep(5);
    owner = await lastSender(cluster, sessionId);
  }
  const follower = cluster.live().find((r) => r !== owner)!;
  const watching = follower.stories.watchSend({ sendId, afterEvent: 0 });
  letGo.abort();
  void it.return?.();

  const arrivals: { event: SendStoryResponse; at: number }[] = [];
  let killedAt = 0;
  for await (const event of watching) {
    arrivals.push({ event, at: Date.now() });
    if (killedAt === 0 && arrivals.filter((a) => a.event.event.case === 'batch').length === KILL_AFTER_BATCHES) {
      killedAt = Date.now();
      await owner.kill('SIGKILL');
    }
  }
  const summary = arrivals.at(-1)?.event.event;
  if (killedAt === 0) throw new Error(`the send ended before ${KILL_AFTER_BATCHES} batches: nothing was measured`);
  if (summary?.case !== 'summary') throw new Error('the stream ended before the summary');
  if (summary.value.delivered + summary.value.failed.length !== TOTAL) {
    throw new Error(`${summary.value.delivered} delivered + ${summary.value.failed.length} failed is not ${TOTAL}`);
  }
  const resumed = resumedBy(cluster, sendId);
  const first = resumed && arrivals[resumed.events];
  if (!resumed || !first) throw new Error('no replica resumed the send from its journal');
  const result = {
    owner: owner.name,
    follower: follower.name,
    newOwner: resumed.replica.name,
    toFirstEventMs: first.at - killedAt,
    toSummaryMs: arrivals.at(-1)!.at - killedAt,
  };
  await owner.restart();
  return result;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
};

const cluster = await startCluster({ replicas: 3, leaseTtlMs });
const results: Trial[] = [];
try {
  for (let n = 1; n <= trials; n++) {
    const result = await trial(cluster, n);
    results.push(result);
    console.log(
      `trial ${n}: owner ${result.owner} killed, followed through ${result.follower}, resumed by ${result.newOwner}: ` +
        `first event ${result.toFirstEventMs} ms, summary ${result.toSummaryMs} ms after the kill`,
    );
  }
} finally {
  await cluster.close();
}
const first = results.map((r) => r.toFirstEventMs);
const end = results.map((r) => r.toSummaryMs);
console.log(
  `\nlease TTL ${leaseTtlMs ?? 10_000} ms${leaseTtlMs === undefined ? ' (server default)' : ''}, ${trials} trials, ${TOTAL} recipients`,
);
console.log('                                     median      max');
console.log(`kill -> first event from new owner ${String(median(first)).padStart(7)} ms ${String(Math.max(...first)).padStart(6)} ms`);
console.log(`kill -> summary                    ${String(median(end)).padStart(7)} ms ${String(Math.max(...end)).padStart(6)} ms`);
