/**
 * Three `npm start` replicas as real processes on one real redis-server, seen
 * only through their ports, their logs and the simulated network's call log:
 * a call through a replica that does not own the session is answered exactly
 * as the owner answers it; a stream through a surviving replica outlives the
 * owner's SIGKILL and runs to the summary; and under a seeded schedule of
 * SIGKILLs, SIGTERMs and restarts every send still ends with everyone
 * delivered or failed, each caller's events are the journal's, and no two
 * processes ever sent for one session at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { OnDisconnect, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { lastSender, resumedBy, startCluster, type Cluster, type Replica } from './support/cluster.js';
import { numbers } from './support/scripted-transport.js';
import { collectStream } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'whoever owns it' } } };
/** Short, so a SIGKILLed owner's sessions are taken over in seconds. */
const LEASE_TTL_MS = 2000;

function sendIdOf(events: readonly SendStoryResponse[]): string {
  const planned = events[0]?.event;
  if (planned?.case !== 'planned') throw new Error(`the first event is ${planned?.case ?? 'missing'}, not planned`);
  return planned.value.sendId;
}

function summaryOf(events: readonly SendStoryResponse[]) {
  const last = events.at(-1)?.event;
  if (last?.case !== 'summary') throw new Error(`the last of ${events.length} events is ${last?.case ?? 'missing'}, not the summary`);
  return last.value;
}

/** Makes `replica` the session's owner: a free session called on the least loaded replica stays there. */
async function own(cluster: Cluster, replica: Replica, sessionId: string): Promise<void> {
  const first = await collectStream(replica.stories.sendStory({ sessionId, story, recipients: numbers(20) }));
  expect(first.error).toBeUndefined();
  expect((await lastSender(cluster, sessionId))?.name).toBe(replica.name);
}

describe('three replicas as processes on one redis', () => {
  let cluster: Cluster;
  const SESSION = 'owned-by-r1';

  beforeAll(async () => {
    cluster = await startCluster({ replicas: 3, leaseTtlMs: LEASE_TTL_MS });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  it('a send through a replica that does not own the session streams what its owner streams, and its errors are the owner’s', async () => {
    const [a, b] = cluster.replicas as [Replica, Replica, Replica];
    await own(cluster, b, SESSION);

    const through = await collectStream(
      a.stories.sendStory({ sessionId: SESSION, story, recipients: numbers(2000), strategy: 'conservative' }),
    );
    expect(through.error).toBeUndefined();
    const sendId = sendIdOf(through.events);
    const summary = summaryOf(through.events);
    expect(summary.delivered + summary.failed.length).toBe(2000);
    const direct = await collectStream(b.stories.watchSend({ sendId, afterEvent: 0 }));
    expect(direct.error).toBeUndefined();
    expect(through.events.length).toBeGreaterThan(3);
    expect(through.events).toEqual(direct.events);

    // The owner sent every call of it: the forwarding replica never took the session.
    const calls = ((await cluster.calls()).get(SESSION) ?? []).filter((c) => c.messageId === summary.messageId);
    expect(calls.length).toBe(summary.batches + 1);
    expect(new Set(calls.map((c) => c.pid))).toEqual(new Set([b.pid]));
    expect(await lastSender(cluster, SESSION)).toBe(b);

    const refused: [{ recipients?: string[]; strategy?: string }, Code][] = [
      [{ recipients: ['not a phone number'] }, Code.InvalidArgument],
      [{ strategy: 'no-such-strategy' }, Code.NotFound],
    ];
    for (const [bad, code] of refused) {
      const request = { sessionId: SESSION, story, recipients: numbers(3), ...bad };
      const atOwner = await collectStream(b.stories.sendStory(request));
      const forwarded = await collectStream(a.stories.sendStory(request));
      expect(atOwner.error?.code).toBe(code);
      expect(atOwner.error!.findDetails(ErrorInfoSchema)[0]?.reason).toMatch(/^[A-Z_]+$/);
      expect(forwarded.events).toEqual([]);
      expect(forwarded.error?.code).toBe(atOwner.error!.code);
      expect(forwarded.error?.rawMessage).toBe(atOwner.error!.rawMessage);
      expect(forwarded.error?.details).toEqual(atOwner.error!.details);
      expect(forwarded.error?.findDetails(ErrorInfoSchema)).toEqual(atOwner.error!.findDetails(ErrorInfoSchema));
    }
  }, 60_000);

  it('SIGKILL of the owner mid-send: the stream through another replica follows the send to its new owner, to the summary', async () => {
    const [a, b, c] = cluster.replicas as [Replica, Replica, Replica];
    await own(cluster, b, SESSION);
    // A session that has learned skips the ramp: this send must last enough batches to be killed in the middle.
    await a.stories.resetSessionLearning({ sessionId: SESSION });
    const TOTAL = 6000;

    const arrivals: { event: SendStoryResponse; at: number }[] = [];
    const stream = a.stories.sendStory({
      sessionId: SESSION,
      story,
      recipients: numbers(TOTAL),
      strategy: 'conservative',
      requestId: `killed-owner-${process.pid}-${Date.now()}`,
      onDisconnect: OnDisconnect.CONTINUE,
    });
    const reading = stream[Symbol.asyncIterator]();
    let killedAt = 0;
    let error: unknown;
    try {
      for (;;) {
        const step = await reading.next();
        if (step.done) break;
        arrivals.push({ event: step.value, at: Date.now() });
        if (killedAt === 0 && arrivals.filter((e) => e.event.event.case === 'batch').length === 3) {
          killedAt = Date.now();
          expect((await b.kill('SIGKILL')).signal).toBe('SIGKILL');
        }
      }
    } catch (thrown) {
      error = thrown;
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(error).toBeUndefined();

    const events = arrivals.map((e) => e.event);
    const sendId = sendIdOf(events);
    const summary = summaryOf(events);
    expect(summary.total).toBe(TOTAL);
    expect(summary.delivered + summary.failed.length).toBe(TOTAL);
    expect(summary.stoppedBy).toBe('');
    expect(events.filter((e) => e.event.case === 'planned')).toHaveLength(1);
    for (const survivor of [a, c]) {
      const replay = await collectStream(survivor.stories.watchSend({ sendId, afterEvent: 0 }));
      expect(replay.error).toBeUndefined();
      // The history says which replicas ran the send and when, should a caller's events and the journal disagree.
      expect(events, historyOf(cluster, sendId)).toEqual(replay.events);
    }

    // Taken over from the journal by a survivor, once the dead owner's lease ran out.
    const resumed = resumedBy(cluster, sendId);
    expect(resumed).toBeDefined();
    expect([a.name, c.name]).toContain(resumed!.replica.name);
    expect(await cluster.overlaps()).toEqual([]);
    expect(cluster.crashes).toEqual([]);

    const fromNewOwner = arrivals[resumed!.events];
    console.log(
      `failover through ${a.name} (lease TTL ${LEASE_TTL_MS} ms): ${resumed!.replica.name} resumed at event ${resumed!.events}; ` +
        `kill -> first event from the new owner ${fromNewOwner ? fromNewOwner.at - killedAt : '?'} ms, ` +
        `kill -> summary ${arrivals.at(-1)!.at - killedAt} ms`,
    );
  }, 60_000);
});

const LIFECYCLE = new Set([
  'storycast listening',
  'shutting down',
  'draining',
  'sends drained',
  'lost a session lease; its sends stop here',
]);

/** What the replicas logged about a send, and when each started and stopped: the evidence when a send ends wrong. */
function historyOf(cluster: Cluster, sendId: string): string {
  const lines = cluster.replicas.flatMap((r) =>
    r.log.filter((l) => l['sendId'] === sendId || LIFECYCLE.has(l.msg ?? '')).map((l) => ({ name: r.name, l })),
  );
  lines.sort((x, y) => Number(x.l['time']) - Number(y.l['time']));
  return `send ${sendId}:\n${lines.map(({ name, l }) => `  ${name} ${JSON.stringify(l)}`).join('\n')}`;
}

/** mulberry32: a schedule that a seed repeats. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('three replicas under a seeded schedule of kills and restarts', () => {
  const SEED = Number(process.env['STORYCAST_CHAOS_SEED'] ?? 20240617);
  const SENDS = 20;
  const SESSIONS = 10;
  const MAX_KILLS = 6;
  /** Kills happen only in this window after the first send starts; sends start within the first part of it. */
  const CHAOS_MS = 30_000;
  const START_WITHIN_MS = 10_000;
  /** How long a caller keeps re-attaching while nothing new arrives: past the TTL, routing patience and a restart. */
  const RETRY_FOR_MS = 30_000;
  let cluster: Cluster;

  beforeAll(async () => {
    // x2 rather than x20: a 1,000-3,000-recipient send lasts 3-6 s, so most kills land in the middle of several.
    cluster = await startCluster({ replicas: 3, leaseTtlMs: LEASE_TTL_MS, timeScale: 2 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  it('every send ends with everyone delivered or failed, each caller sees the journal’s events once, and no session has two senders at once', async () => {
    const plan = seeded(SEED);
    const sends = Array.from({ length: SENDS }, (_, i) => ({
      sessionId: `chaos-${i % SESSIONS}`,
      recipients: 1000 + Math.floor(plan() * 2001),
      requestId: `chaos-${SEED}-${i}`,
      startAfterMs: Math.floor(plan() * START_WITHIN_MS),
    }));
    const pick = seeded(SEED + 1);
    const anyLive = async (): Promise<Replica> => {
      for (;;) {
        const live = cluster.live();
        if (live.length > 0) return live[Math.floor(pick() * live.length)]!;
        await sleep(100);
      }
    };
    const reattached: string[] = [];
    let finished = 0;

    /** One caller: starts the send, and when the replica it called dies, picks it up elsewhere after the events it has. */
    const follow = async (send: (typeof sends)[number]): Promise<SendStoryResponse[]> => {
      await sleep(send.startAfterMs);
      const events: SendStoryResponse[] = [];
      let sendId: string | undefined;
      let progressAt = Date.now();
      for (;;) {
        const replica = await anyLive();
        const pid = replica.pid;
        const stream =
          sendId === undefined
            ? replica.stories.sendStory({
                sessionId: send.sessionId,
                story,
                recipients: numbers(send.recipients),
                requestId: send.requestId,
                strategy: 'conservative',
                onDisconnect: OnDisconnect.CONTINUE,
              })
            : replica.stories.watchSend({ sendId, afterEvent: events.length });
        try {
          for await (const message of stream) {
            events.push(message);
            progressAt = Date.now();
            if (message.event.case === 'planned') sendId = message.event.value.sendId;
          }
        } catch (thrown) {
          const error = ConnectError.from(thrown);
          const expected = error.code === Code.Unavailable || cluster.signalled.has(pid);
          if (!expected || Date.now() - progressAt > RETRY_FOR_MS) {
            throw new Error(`${send.requestId} through ${replica.name} (pid ${pid}) after ${events.length} events: ${error.message}`, {
              cause: error,
            });
          }
          reattached.push(`${send.requestId} after ${events.length} events from ${replica.name}: ${error.message}`);
          await sleep(250);
          continue;
        }
        if (events.at(-1)?.event.case !== 'summary') {
          throw new Error(`${send.requestId}: the stream through ${replica.name} ended after ${events.length} events, before the summary`);
        }
        finished++;
        return events;
      }
    };

    const chaos = async () => {
      const rand = seeded(SEED + 2);
      const kills: string[] = [];
      const restarts: Promise<void>[] = [];
      const until = Date.now() + CHAOS_MS;
      while (kills.length < MAX_KILLS && Date.now() < until && finished < SENDS) {
        await sleep(1500 + rand() * 3000);
        const live = cluster.live();
        // Never the last one standing: the others may be down or still starting.
        if (live.length < 2) continue;
        const victim = live[Math.floor(rand() * live.length)]!;
        const signal: NodeJS.Signals = rand() < 0.7 ? 'SIGKILL' : 'SIGTERM';
        const downForMs = 500 + rand() * 3000;
        kills.push(`${signal} ${victim.name} (pid ${victim.pid})`);
        restarts.push(
          (async () => {
            await victim.kill(signal);
            await sleep(downForMs);
            await victim.restart();
          })(),
        );
      }
      await Promise.all(restarts);
      return kills;
    };

    const started = Date.now();
    const [results, kills] = await Promise.all([Promise.all(sends.map(follow)), chaos()]);
    const resumed = results.filter((events) => resumedBy(cluster, sendIdOf(events))).length;
    console.log(
      `chaos seed ${SEED}: ${kills.length} kills [${kills.join(', ')}], ${resumed} sends resumed from the journal, ` +
        `${reattached.length} re-attaches, ${Date.now() - started} ms`,
    );
    // Not a run of kills between sends: some of them were taken over from the journal.
    expect(kills.length).toBeGreaterThan(0);
    expect(resumed).toBeGreaterThan(0);

    for (const [i, events] of results.entries()) {
      const summary = summaryOf(events);
      const history = historyOf(cluster, summary.sendId);
      expect(summary.total, history).toBe(sends[i]!.recipients);
      expect(summary.delivered + summary.failed.length, history).toBe(summary.total);
      // CONTINUE: neither a caller going away nor a SIGTERM cancels it.
      expect(summary.stoppedBy, history).toBe('');
      expect(events.filter((e) => e.event.case === 'planned')).toHaveLength(1);
      const replay = await collectStream((await anyLive()).stories.watchSend({ sendId: sendIdOf(events), afterEvent: 0 }));
      expect(replay.error).toBeUndefined();
      // The history says which replicas ran the send and when, should a caller's events and the journal disagree.
      expect(events, history).toEqual(replay.events);
    }
    expect(await cluster.overlaps()).toEqual([]);
    expect(cluster.crashes).toEqual([]);
  }, 120_000);
});
