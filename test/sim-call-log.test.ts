/**
 * STORYCAST_SIM_CALL_LOG: the simulated network's record of its send calls,
 * appended to by several processes, and the check the multi-replica tests
 * build on it (no two processes sending for one session at once).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import type { PreparedStory } from '../src/transport/port.js';
import { overlappingCalls, parseCallLog, readCallLog, type CallInterval } from '../src/transport/sim/call-log.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'storycast-call-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const story: PreparedStory = { story: { kind: 'text', text: 'hello' } };
const jids = (n: number) => Array.from({ length: n }, (_, i) => `${1000000 + i}@s.whatsapp.net`);

describe('STORYCAST_SIM_CALL_LOG', () => {
  it('is a path, off unless set', () => {
    expect(loadConfig({}).server.simCallLog).toBeUndefined();
    expect(loadConfig({ STORYCAST_SIM_CALL_LOG: ' ' }).server.simCallLog).toBeUndefined();
    expect(loadConfig({ STORYCAST_SIM_CALL_LOG: '/tmp/calls.jsonl' }).server.simCallLog).toBe('/tmp/calls.jsonl');
  });
});

describe('a simulated network with a call log', () => {
  it('writes a start and an end line per call, whatever its outcome, in real time', async () => {
    const path = join(dir, 'network.jsonl');
    const clock = new VirtualClock();
    const net = new SimulatedNetwork({
      profile: { name: 'test', baseMs: 100, perRecipientMs: 1, rateLimitPerSecond: 2 },
      clock,
      seed: 1,
      callLog: path,
    });
    const send = (sessionId: string, recipients: number, messageId?: string) =>
      clock.run(net.send({ sessionId, story, recipients: jids(recipients), messageId }, new AbortController().signal)).then(
        (r) => r.messageId,
        (error: unknown) => error,
      );
    const before = Date.now();

    const id = await send('s1', 1);
    expect(typeof id).toBe('string');
    expect(await send('s1', 20, id as string)).toBe(id);
    expect(await send('s1', 20, id as string)).toMatchObject({ code: 'RATE_LIMITED' });
    net.controls.failNext('s2', 'SEND_FAILED');
    expect(await send('s2', 3)).toMatchObject({ code: 'SEND_FAILED' });
    net.controls.failNext('s3', 'TIMEOUT');
    const timeout = new AbortController();
    const hung = net.send({ sessionId: 's3', story, recipients: jids(4) }, timeout.signal).catch((error: unknown) => error);
    await clock.advance(60_000);

    // In flight: only its start is in the file, as a killed process would leave it.
    expect((await readCallLog(path)).get('s3')).toEqual([expect.objectContaining({ pid: process.pid, recipients: 4, end: undefined })]);
    timeout.abort('timeout');
    expect(await hung).toBe('timeout');
    const after = Date.now();

    const lines = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => [l.sessionId, l.phase, l.outcome])).toEqual([
      ['s1', 'start', undefined],
      ['s1', 'end', 'ok'],
      ['s1', 'start', undefined],
      ['s1', 'end', 'ok'],
      ['s1', 'start', undefined],
      ['s1', 'end', 'RATE_LIMITED'],
      ['s2', 'start', undefined],
      ['s2', 'end', 'SEND_FAILED'],
      ['s3', 'start', undefined],
      ['s3', 'end', 'aborted'],
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ pid: process.pid, call: expect.any(Number) });
      // Wall-clock ms, not the virtual clock (which starts at 0 and ran 60 s ahead here).
      expect(line.at).toBeGreaterThanOrEqual(before);
      expect(line.at).toBeLessThanOrEqual(after);
    }
    // The status-creating call is logged without an id at its start and with the one it created at its end.
    expect(lines[0]).toMatchObject({ messageId: null, recipients: 1 });
    expect(lines[1]).toMatchObject({ messageId: id, recipients: 1 });

    const calls = await readCallLog(path);
    expect(calls.get('s1')).toEqual([
      expect.objectContaining({ messageId: id, recipients: 1, outcome: 'ok', end: expect.any(Number) }),
      expect.objectContaining({ messageId: id, recipients: 20, outcome: 'ok' }),
      expect.objectContaining({ messageId: id, recipients: 20, outcome: 'RATE_LIMITED' }),
    ]);
    expect(calls.get('s3')).toEqual([expect.objectContaining({ outcome: 'aborted', end: expect.any(Number) })]);
    const numbers = [...calls.values()].flat().map((c) => c.call);
    expect(new Set(numbers).size).toBe(5);
    net.close();
  });

  it('numbers calls per process, not per network: two networks on one file do not collide', async () => {
    const path = join(dir, 'two-networks.jsonl');
    const clock = new VirtualClock();
    const nets = [1, 2].map(
      (seed) => new SimulatedNetwork({ profile: { name: 't', baseMs: 10, perRecipientMs: 0 }, clock, seed, callLog: path }),
    );
    for (const net of [...nets, ...nets])
      await clock.run(net.send({ sessionId: 's', story, recipients: jids(1) }, new AbortController().signal));
    const calls = (await readCallLog(path)).get('s') ?? [];
    expect(calls).toHaveLength(4);
    expect(calls.every((c) => c.outcome === 'ok')).toBe(true);
  });

  it('refuses a path it cannot open when the network is built', () => {
    const clock = new VirtualClock();
    expect(
      () =>
        new SimulatedNetwork({
          profile: { name: 't', baseMs: 10, perRecipientMs: 0 },
          clock,
          callLog: join(dir, 'missing', 'calls.jsonl'),
        }),
    ).toThrow(/ENOENT/);
  });
});

describe('several processes on one log', () => {
  // Each child logs CALLS finished calls on its own session, then starts one on
  // 'shared' and stays in it until it is killed.
  const CALLS = 300;
  const child = (path: string, session: string) => {
    const code = `
      const { openCallLog } = await import(${JSON.stringify(join(root, 'src/transport/sim/call-log.ts'))});
      const log = openCallLog(${JSON.stringify(path)});
      for (let i = 0; i < ${CALLS}; i++) log.start({ sessionId: ${JSON.stringify(session)}, messageId: 'm', recipients: i }).end('ok', 'm');
      log.start({ sessionId: 'shared', messageId: 'm', recipients: 1 });
      console.log('in flight');
      setInterval(() => {}, 1000);
    `;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const inFlight = new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => line === 'in flight' && resolve());
      proc.once('exit', (code) => reject(new Error(`child exited with ${code} before its call`)));
    });
    return { proc, exited, inFlight };
  };

  it('keeps every line whole, and a SIGKILLed call ends at its kill', async () => {
    const path = join(dir, 'processes.jsonl');
    const children = [child(path, 'a'), child(path, 'b')];
    await Promise.all(children.map((c) => c.inFlight));
    const killedAt = new Map<number, number>();
    for (const { proc } of children) {
      killedAt.set(proc.pid!, Date.now());
      proc.kill('SIGKILL');
    }
    await Promise.all(children.map((c) => c.exited));

    const calls = await readCallLog(path);
    const [a, b] = children.map((c) => c.proc.pid!);
    expect(calls.get('a')).toHaveLength(CALLS);
    expect(calls.get('a')!.every((c) => c.pid === a && c.outcome === 'ok')).toBe(true);
    expect(calls.get('b')!.every((c) => c.pid === b && c.outcome === 'ok')).toBe(true);
    expect(calls.get('shared')!.map((c) => [c.pid, c.end])).toEqual(
      expect.arrayContaining([
        [a, undefined],
        [b, undefined],
      ]),
    );

    // Both were in flight when both were killed: one overlap, however the kill times fall.
    const overlaps = overlappingCalls([...calls.values()].flat(), killedAt);
    expect(overlaps.map((o) => [o.sessionId, new Set([o.first.pid, o.second.pid])])).toEqual([['shared', new Set([a, b])]]);
  });
});

describe('overlappingCalls', () => {
  let next = 0;
  const call = (pid: number, start: number, end: number | undefined, sessionId = 's'): CallInterval => ({
    pid,
    call: ++next,
    sessionId,
    messageId: 'm',
    recipients: 1,
    start,
    end,
    outcome: end === undefined ? undefined : 'ok',
  });
  const pairs = (calls: CallInterval[], killedAt?: Map<number, number>) =>
    overlappingCalls(calls, killedAt).map((o) => [o.first.pid, o.first.start, o.second.pid, o.second.start]);

  it('finds calls of one session from two processes in flight at once', () => {
    expect(pairs([call(2, 5, 15), call(1, 0, 10)])).toEqual([[1, 0, 2, 5]]);
    // Inside another call, and more than one at once.
    expect(pairs([call(1, 0, 100), call(2, 10, 20), call(3, 30, 40)])).toEqual([
      [1, 0, 2, 10],
      [1, 0, 3, 30],
    ]);
  });

  it('finds none in calls that follow each other, even in the same ms', () => {
    expect(pairs([call(1, 0, 10), call(2, 10, 20), call(1, 25, 30), call(3, 31, 40)])).toEqual([]);
  });

  it('ignores overlaps within one process and across sessions', () => {
    expect(pairs([call(1, 0, 10), call(1, 5, 15)])).toEqual([]);
    expect(pairs([call(1, 0, 10, 's1'), call(2, 5, 15, 's2')])).toEqual([]);
  });

  it('ends an unfinished call at its process kill, and never if the process was not killed', () => {
    const unfinished = [call(1, 0, undefined), call(1, 3, 4), call(2, 12, 20)];
    expect(pairs(unfinished, new Map([[1, 10]]))).toEqual([]);
    expect(pairs(unfinished, new Map([[1, 15]]))).toEqual([[1, 0, 2, 12]]);
    expect(pairs(unfinished)).toEqual([[1, 0, 2, 12]]);
    expect(pairs(unfinished, new Map([[3, 10]]))).toEqual([[1, 0, 2, 12]]);
  });
});

describe('parseCallLog', () => {
  const line = (fields: object) =>
    JSON.stringify({ pid: 1, sessionId: 's', messageId: 'm', call: 1, phase: 'start', at: 5, recipients: 2, ...fields });

  it('pairs the lines of each call and groups calls by session', () => {
    const text = [
      line({}),
      line({ pid: 2, sessionId: 't', messageId: null }),
      line({ phase: 'end', at: 9, outcome: 'ok' }),
      line({ pid: 2, sessionId: 't', messageId: 'created', phase: 'end', at: 7, outcome: 'SEND_FAILED' }),
    ].join('\n');
    expect(Object.fromEntries(parseCallLog(`${text}\n`))).toEqual({
      s: [{ pid: 1, call: 1, sessionId: 's', messageId: 'm', recipients: 2, start: 5, end: 9, outcome: 'ok' }],
      t: [{ pid: 2, call: 1, sessionId: 't', messageId: 'created', recipients: 2, start: 5, end: 7, outcome: 'SEND_FAILED' }],
    });
  });

  it('throws on a line it cannot trust', () => {
    expect(() => parseCallLog('{"pid":1,')).toThrow('line 1 is not JSON');
    expect(() => parseCallLog(`${line({})}\n${line({ phase: 'middle' })}`)).toThrow('line 2 is not a call');
    expect(() => parseCallLog(line({ phase: 'end', outcome: 'ok' }))).toThrow('ended without a start');
    expect(() => parseCallLog(`${line({})}\n${line({})}`)).toThrow('started twice');
  });
});
