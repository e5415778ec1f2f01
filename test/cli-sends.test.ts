/**
 * `send --detach`, `storycast watch` and `storycast sends` against a real
 * storycast on port 0 (the simulated network, sped up): a detached send goes
 * on without its caller, can be watched to its summary, and is listed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { io } from './support/cli-io.js';
import { sends } from '../src/cli/sends.js';
import { run } from '../src/cli/send.js';
import { watch } from '../src/cli/watch.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';

describe('detached sends from the command line', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '200' });
  });
  afterAll(async () => {
    await t.server.close();
  });

  it('send --detach prints the id and leaves; watch follows it to the summary; sends lists it', async () => {
    const detached = io();
    const argv = ['--server', t.url, '--session', 'cli-detach', '--recipients', '3000', '--detach', '--request-id', 'cli-1'];
    expect(await run(argv, detached)).toBe(0);
    const sendId = /^send (\S+) planned: 3,000 recipients/m.exec(detached.out())?.[1];
    expect(sendId, detached.out() + detached.err()).toBeDefined();

    // The caller is gone, and the send goes on: watch it from the start to its summary.
    const watcher = io();
    expect(await watch([sendId!, '--server', t.url], watcher)).toBe(0);
    expect(watcher.out()).toContain('anchor');
    expect(watcher.out()).toMatch(/summary\s+delivered 3,000\/3,000/);

    // The same command again attaches to that send instead of sending twice.
    const again = io();
    expect(await run(argv, again)).toBe(0);
    expect(again.out()).toContain(`send ${sendId} planned`);

    const listed = io();
    expect(await sends(['--server', t.url, '--session', 'cli-detach', '--json'], listed)).toBe(0);
    const rows = listed
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sendId: string; state: string; delivered: number });
    expect(rows).toEqual([expect.objectContaining({ sendId, state: 'SEND_STATE_SUCCEEDED', delivered: 3000 })]);

    const table = io();
    expect(await sends(['--server', t.url, '--state', 'succeeded'], table)).toBe(0);
    expect(table.out()).toContain(`${sendId}  SUCCEEDED`);
  });

  it('watch --after skips events it has seen; an unknown id and bad options say what is wrong', async () => {
    const detached = io();
    expect(await run(['--server', t.url, '--session', 'cli-after', '--recipients', '500', '--detach', '--json'], detached)).toBe(0);
    const planned = JSON.parse(detached.out().trim()) as { planned: { sendId: string } };
    const sendId = planned.planned.sendId;
    await vi.waitFor(async () => {
      const listed = io();
      await sends(['--server', t.url, '--session', 'cli-after', '--state', 'succeeded', '--json'], listed);
      expect(listed.out()).toContain(sendId);
    });
    const tail = io();
    expect(await watch([sendId, '--server', t.url, '--after', '2', '--json'], tail)).toBe(0);
    const kinds = tail
      .out()
      .trim()
      .split('\n')
      .map((line) => Object.keys(JSON.parse(line) as object)[0]);
    expect(kinds[0]).toBe('batch'); // planned and anchor skipped
    expect(kinds.at(-1)).toBe('summary');

    const unknown = io();
    expect(await watch(['no-such-send', '--server', t.url], unknown)).toBe(1);
    expect(unknown.err()).toContain('SEND_NOT_FOUND');

    const bad = io();
    expect(await run(['--server', t.url, '--recipients', '5', '--request-id', 'has space'], bad)).toBe(1);
    expect(bad.err()).toContain('--request-id');
    expect(await sends(['--state', 'sleeping'], bad)).toBe(1);
    expect(bad.err()).toContain('--state: "sleeping"');
    expect(await watch([], bad)).toBe(1);
    expect(bad.err()).toContain('give exactly one SEND_ID');
  });
});
