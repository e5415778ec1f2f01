/**
 * Scheduled sends through the API, in virtual time over the server's own
 * handler on a real SQLite file: SendStory with start_time or repeat, GetSend,
 * WatchSend and CancelSend on a send that has not started, ListSchedules and
 * DeleteSchedule, a restart that missed several occurrences, and the bad inputs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, createClient, type Client } from '@connectrpc/connect';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import type { Schedule } from '../src/gen/storycast/v1/schedule_pb.js';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { SendState, SendStoryRequestSchema, StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { allOf, collectStream, failureOf } from './support/streams.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Tuesday 1 December 2026, 08:00 in Lisbon (UTC+0 in winter). */
const START = Date.UTC(2026, 11, 1, 8, 0, 0);
const story = { content: { case: 'text' as const, value: { text: 'good morning' } } };

const dir = mkdtempSync(join(tmpdir(), 'storycast-schedules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let running: TestApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** storycast on a SQLite file, its schedules on a virtual clock; started as `npm start` starts it. */
async function start(file: string, clock: VirtualClock): Promise<{ t: TestApp; story: Client<typeof StoryService> }> {
  const t = await createTestApp({ STORYCAST_STORE: `sqlite://${join(dir, file)}`, STORYCAST_SIM_TIME_SCALE: '1000' }, { sendClock: clock });
  await t.app.resumeSends();
  t.app.startSchedules();
  running = t;
  return { t, story: createClient(StoryService, t.transport) };
}

type RequestInit = MessageInitShape<typeof SendStoryRequestSchema>;
const request = (over: RequestInit = {}) =>
  create(SendStoryRequestSchema, {
    sessionId: 'morning',
    story,
    recipients: numbers(300),
    strategy: 'conservative',
    ...over,
  } as RequestInit);

function scheduleOf(events: readonly SendStoryResponse[]): Schedule {
  expect(events).toHaveLength(1);
  const event = events[0]!.event;
  if (event.case !== 'scheduled' || !event.value.schedule) throw new Error(`expected a scheduled event, got ${event.case}`);
  return event.value.schedule;
}

/** Lets the scheduler's loop and the sends it started run until `done` holds (they run on real timers and the SQLite file). */
async function until(done: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a one-off scheduled send', () => {
  it('is accepted with a send id, shown SCHEDULED, watched from before it starts to its summary', async () => {
    const clock = new VirtualClock(START);
    const { story: client } = await start('one-off.db', clock);
    const schedule = scheduleOf(await allOf(client.sendStory(request({ startTime: timestampFromMs(START + HOUR) }))));
    expect(schedule).toMatchObject({ sessionId: 'morning', repeat: '', runs: 0, recipients: 300, strategy: 'conservative' });
    expect(schedule.sendId).not.toBe('');
    expect(Number(schedule.nextRunTime?.seconds) * 1000).toBe(START + HOUR);

    const { send } = await client.getSend({ sendId: schedule.sendId });
    expect(send).toMatchObject({ sendId: schedule.sendId, state: SendState.SCHEDULED, scheduleId: schedule.scheduleId, events: 0 });
    expect(Number(send!.startTime?.seconds) * 1000).toBe(START + HOUR);

    const watched = collectStream(client.watchSend({ sendId: schedule.sendId }));
    await clock.advance(HOUR - 1000);
    expect((await client.getSend({ sendId: schedule.sendId })).send?.state).toBe(SendState.SCHEDULED);
    await clock.advance(1000);
    const { events, error } = await watched;
    expect(error).toBeUndefined();
    expect(events.map((e) => e.event.case)).toEqual([
      'scheduled',
      'planned',
      'anchor',
      ...events.slice(3, -1).map(() => 'batch'),
      'summary',
    ]);
    const planned = events[1]!.event;
    expect(planned.case === 'planned' && planned.value.sendId).toBe(schedule.sendId);
    const summary = events.at(-1)!.event;
    expect(summary.case === 'summary' && summary.value.delivered + summary.value.failed.length).toBe(300);

    const after = (await client.getSend({ sendId: schedule.sendId })).send!;
    expect(after).toMatchObject({ state: SendState.SUCCEEDED, scheduleId: schedule.scheduleId });
    expect((await client.listSchedules({ sessionId: 'morning' })).schedules).toEqual([]);
  });

  it('is cancelled by CancelSend before it starts: CANCELLED, never sent, gone from the schedules', async () => {
    const clock = new VirtualClock(START);
    const { story: client } = await start('cancel.db', clock);
    const schedule = scheduleOf(await allOf(client.sendStory(request({ startTime: timestampFromMs(START + HOUR) }))));
    const watch = client.watchSend({ sendId: schedule.sendId })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.event.case).toBe('scheduled');
    const { send } = await client.cancelSend({ sendId: schedule.sendId });
    expect(send?.state).toBe(SendState.CANCELLED);
    // The watcher waiting for it to start hears that it never will.
    expect((await watch.next()).done).toBe(true);

    await clock.advance(2 * HOUR);
    expect((await client.getSend({ sendId: schedule.sendId })).send).toMatchObject({ state: SendState.CANCELLED, events: 0 });
    expect(await allOf(client.watchSend({ sendId: schedule.sendId }))).toEqual([]);
    expect((await client.listSchedules({})).schedules).toEqual([]);
    expect((await client.listSends({ sessionId: 'morning' })).sends).toEqual([]);
  });

  it('survives a restart: a send whose time passed while no server ran starts at the next start-up', async () => {
    const clock = new VirtualClock(START);
    const first = await start('restart-one-off.db', clock);
    const schedule = scheduleOf(await allOf(first.story.sendStory(request({ startTime: timestampFromMs(START + HOUR) }))));
    await first.t.close();
    running = undefined;
    await clock.advance(5 * HOUR);

    const { story: client } = await start('restart-one-off.db', clock);
    await until(async () => (await client.getSend({ sendId: schedule.sendId })).send?.state === SendState.SUCCEEDED, 'the missed send');
    const sends = (await client.listSends({ sessionId: 'morning' })).sends;
    expect(sends.map((s) => s.sendId)).toEqual([schedule.sendId]);
  });
});

describe('a repeating schedule', () => {
  it('starts one send per occurrence, each its own status, and a restart that missed three sends one', async () => {
    const clock = new VirtualClock(START);
    const first = await start('repeat.db', clock);
    const schedule = scheduleOf(
      await allOf(first.story.sendStory(request({ repeat: '0 9 * * *', timeZone: 'Europe/Lisbon', recipients: numbers(50) }))),
    );
    expect(schedule).toMatchObject({ repeat: '0 9 * * *', timeZone: 'Europe/Lisbon', sendId: '' });
    expect(Number(schedule.nextRunTime?.seconds) * 1000).toBe(START + HOUR);

    const sent = async (client: Client<typeof StoryService>) => (await client.listSends({ sessionId: 'morning' })).sends;
    for (let day = 0; day < 2; day++) {
      await clock.advance(day === 0 ? HOUR : DAY);
      await until(
        async () => (await sent(first.story)).filter((s) => s.state === SendState.SUCCEEDED).length === day + 1,
        `send ${day + 1}`,
      );
    }
    const [listed] = (await first.story.listSchedules({ sessionId: 'morning' })).schedules;
    expect(listed).toMatchObject({ scheduleId: schedule.scheduleId, runs: 2, lastErrorReason: '' });
    expect(Number(listed!.nextRunTime?.seconds) * 1000).toBe(START + HOUR + 2 * DAY);

    // Down from just after the second send (2 December, 09:00) until 5 December, 11:00: three 09:00s missed.
    await first.t.close();
    running = undefined;
    await clock.advance(3 * DAY + 2 * HOUR);
    const { story: client } = await start('repeat.db', clock);
    await until(async () => (await sent(client)).filter((s) => s.state === SendState.SUCCEEDED).length === 3, 'the catch-up send');
    const afterRestart = (await client.listSchedules({})).schedules[0]!;
    expect(afterRestart.runs).toBe(3);
    // The next one is tomorrow's, not one of those missed.
    expect(Number(afterRestart.nextRunTime?.seconds) * 1000).toBe(START + HOUR + 5 * DAY);
    const sends = await sent(client);
    expect(new Set(sends.map((s) => s.sendId)).size).toBe(3);
    expect(sends.map((s) => s.scheduleId)).toEqual([schedule.scheduleId, schedule.scheduleId, schedule.scheduleId]);

    // Deleted: nothing more starts.
    const { schedule: deleted } = await client.deleteSchedule({ scheduleId: schedule.scheduleId });
    expect(deleted?.scheduleId).toBe(schedule.scheduleId);
    await clock.advance(2 * DAY);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await sent(client)).toHaveLength(3);
    expect((await failureOf(client.deleteSchedule({ scheduleId: schedule.scheduleId }))).reason).toBe('SCHEDULE_NOT_FOUND');
  });

  it('records why an occurrence started nothing and goes on', async () => {
    const clock = new VirtualClock(START);
    const { story: client } = await start('error.db', clock);
    await client.saveRecipientList({ sessionId: 'morning', name: 'team', recipients: numbers(20) });
    scheduleOf(await allOf(client.sendStory(request({ repeat: '30 8 * * *', recipients: [], recipientList: 'team' }))));
    await client.deleteRecipientList({ sessionId: 'morning', name: 'team' });
    await clock.advance(HOUR);
    await until(async () => (await client.listSchedules({})).schedules[0]?.lastErrorReason !== '', 'the failed occurrence');
    const [schedule] = (await client.listSchedules({})).schedules;
    expect(schedule).toMatchObject({ runs: 0, lastErrorReason: 'RECIPIENT_LIST_NOT_FOUND', lastSendId: '' });
    expect(Number(schedule!.nextRunTime?.seconds) * 1000).toBe(START + 30 * 60_000 + DAY);
  });
});

describe('what a scheduled request is checked for', () => {
  it('refuses bad timing, bad cron expressions and unknown names, naming the field', async () => {
    const clock = new VirtualClock(START);
    const { story: client } = await start('bad.db', clock);
    const refused = (over: RequestInit) => failureOf(allOf(client.sendStory(request(over))));
    const cases: Array<[RequestInit, string, string]> = [
      [{ startTime: timestampFromMs(START - 2 * 60_000) }, 'start_time', 'BAD_START_TIME'],
      [{ repeat: 'every morning' }, 'repeat', 'BAD_REPEAT'],
      [{ repeat: '0 0 30 2 *' }, 'repeat', 'BAD_REPEAT'],
      [{ repeat: '*/10 * * * * *' }, 'repeat', 'BAD_REPEAT'],
      [{ repeat: '0 9 * * *', timeZone: 'Mars/Olympus' }, 'time_zone', 'BAD_TIME_ZONE'],
      [{ startTime: timestampFromMs(START + HOUR), timeZone: 'Europe/Lisbon' }, 'time_zone', 'BAD_TIME_ZONE'],
      [{ startTime: timestampFromMs(START + HOUR), recipients: ['nope'] }, 'recipients', 'NO_VALID_RECIPIENTS'],
    ];
    for (const [over, field, reason] of cases) {
      expect(await refused(over), `${field}: ${reason}`).toMatchObject({ code: Code.InvalidArgument, field, reason });
    }
    expect(await refused({ startTime: timestampFromMs(START + HOUR), recipientList: 'missing' })).toMatchObject({
      code: Code.NotFound,
      reason: 'RECIPIENT_LIST_NOT_FOUND',
    });
    expect(await refused({ startTime: timestampFromMs(START + HOUR), strategy: 'nope' })).toMatchObject({
      code: Code.NotFound,
      field: 'strategy',
    });
    // Thirty seconds late is "now": accepted, and fires at once.
    const late = scheduleOf(await allOf(client.sendStory(request({ startTime: timestampFromMs(START - 30_000) }))));
    await until(async () => (await client.getSend({ sendId: late.sendId })).send?.state === SendState.SUCCEEDED, 'the late send');
    expect((await client.listSchedules({})).schedules).toEqual([]);
  });

  it('creates once per request_id: a retry gets the same schedule, another request under it ALREADY_EXISTS', async () => {
    const clock = new VirtualClock(START);
    const { story: client } = await start('idempotent.db', clock);
    const asked = request({ startTime: timestampFromMs(START + HOUR), requestId: 'daily-1' });
    const once = scheduleOf(await allOf(client.sendStory(asked)));
    const again = scheduleOf(await allOf(client.sendStory(asked)));
    expect(again.scheduleId).toBe(once.scheduleId);
    expect(again.sendId).toBe(once.sendId);
    expect(await failureOf(allOf(client.sendStory({ ...asked, recipients: numbers(5) })))).toMatchObject({
      code: Code.AlreadyExists,
      reason: 'REQUEST_ID_REUSED',
      field: 'request_id',
    });
    expect((await client.listSchedules({})).schedules).toHaveLength(1);
  });

  it('pages ListSchedules, and a logout deletes the session’s schedules with its other personal data', async () => {
    const clock = new VirtualClock(START);
    const { t, story: client } = await start('pages.db', clock);
    for (let i = 0; i < 5; i++) {
      await clock.advance(1000);
      await allOf(client.sendStory(request({ startTime: timestampFromMs(START + DAY + i) })));
    }
    await allOf(client.sendStory(request({ sessionId: 'other', startTime: timestampFromMs(START + DAY) })));
    const first = await client.listSchedules({ sessionId: 'morning', pageSize: 3 });
    const second = await client.listSchedules({ sessionId: 'morning', pageSize: 3, pageToken: first.nextPageToken });
    expect(first.schedules).toHaveLength(3);
    expect(second.schedules).toHaveLength(2);
    expect(second.nextPageToken).toBe('');
    const created = [...first.schedules, ...second.schedules].map((s) => Number(s.createTime?.seconds));
    expect(created).toEqual([...created].sort((a, b) => a - b));
    expect((await failureOf(client.listSchedules({ sessionId: 'other', pageToken: first.nextPageToken }))).reason).toBe('BAD_PAGE_TOKEN');

    await createClient(SessionService, t.transport).logoutSession({ sessionId: 'morning' });
    expect((await client.listSchedules({})).schedules.map((s) => s.sessionId)).toEqual(['other']);
  });
});
