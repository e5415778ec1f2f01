/**
 * `send --at`, `send --repeat --tz` and `storycast schedules` against a real
 * storycast on port 0: what is scheduled is printed, listed and deleted; bad
 * usage says what is wrong without calling the server, and what only the
 * server can judge (a cron expression) comes back naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli/args.js';
import { parseSchedulesArgs, schedules } from '../src/cli/schedules.js';
import { run } from '../src/cli/send.js';
import { io } from './support/cli-io.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';

describe('send --at / --repeat and storycast schedules', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '1000' });
  });
  afterAll(async () => {
    await t.server.close();
  });

  it('schedules a send for later and a repeating one, lists both and deletes them', async () => {
    const server = ['--server', t.url, '--session', 'cli-schedules'];
    const at = new Date(Date.now() + 3_600_000).toISOString().replace('Z', '+00:00');

    const once = io();
    expect(await run([...server, '--recipients', '20', '--at', at], once), once.err()).toBe(0);
    const sendId = /scheduled {2}send (\S+) starts (\S+) \(schedule (\S+)\)/.exec(once.out());
    expect(sendId?.[2]).toBe(new Date(at).toISOString());
    expect(once.out()).toContain(`npm run storycast -- watch ${sendId?.[1]}`);

    const daily = io();
    expect(await run([...server, '--recipients', '20', '--repeat', '0 9 * * 1-5', '--tz', 'Europe/Lisbon'], daily), daily.err()).toBe(0);
    expect(daily.out()).toMatch(/scheduled {2}repeats "0 9 \* \* 1-5" \(Europe\/Lisbon\), next \S+, 0 sends so far \(schedule (\S+)\)/);
    const repeatingId = /\(schedule (\S+)\)/.exec(daily.out())?.[1];

    const listed = io();
    expect(await schedules(server, listed)).toBe(0);
    const lines = listed.out().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`send ${sendId?.[1]}`);
    expect(lines[1]).toContain(`(schedule ${repeatingId})`);

    const deleted = io();
    expect(await schedules(['delete', sendId![3]!, ...server], deleted)).toBe(0);
    expect(deleted.out()).toContain(`send ${sendId?.[1]} is cancelled`);
    expect(await schedules(['delete', repeatingId!, ...server], io())).toBe(0);
    const empty = io();
    expect(await schedules(server, empty)).toBe(0);
    expect(empty.out()).toContain('session "cli-schedules" has no schedules');
    const again = io();
    expect(await schedules(['delete', repeatingId!, ...server], again)).toBe(1);
    expect(again.err()).toContain('SCHEDULE_NOT_FOUND');
  });

  it('refuses a bad cron expression with the server’s reason, naming the field', async () => {
    const bad = io();
    expect(await run(['--server', t.url, '--recipients', '5', '--repeat', 'every day at nine'], bad)).toBe(1);
    expect(bad.err()).toMatch(/repeat/);
    expect(bad.err()).toContain('BAD_REPEAT');
  });

  it('refuses bad usage before calling anyone', () => {
    const parse =
      (...args: string[]) =>
      () =>
        parseCliArgs(['--recipients', '5', ...args], {});
    expect(parse('--at', '2026-12-24T09:00:00')).toThrow(/--at: .* with its offset/);
    expect(parse('--at', 'tomorrow')).toThrow(/--at/);
    expect(parse('--tz', 'Europe/Lisbon')).toThrow(/--tz goes with --repeat/);
    expect(parse('--repeat', ' ')).toThrow(/--repeat needs a cron expression/);
    expect(parseCliArgs(['--recipients', '5', '--at', '2026-12-24T09:00:00+01:00'], {})).toMatchObject({
      startAt: Date.UTC(2026, 11, 24, 8),
      repeat: '',
    });
    expect(() => parseSchedulesArgs(['delete'], {})).toThrow(/delete needs the schedule's ID/);
    expect(() => parseSchedulesArgs(['pause', 'x'], {})).toThrow(/unknown command "pause"/);
  });
});
