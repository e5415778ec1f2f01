/**
 * `storycast lists` and `send --list` against a real storycast on port 0: a
 * list saved from a file and demo numbers is listed, shown, sent to and
 * deleted; bad usage says what is wrong without calling the server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from './support/cli-io.js';
import { contacts } from '../src/cli/contacts.js';
import { lists, parseListsArgs } from '../src/cli/lists.js';
import { DEFAULT_ADDRESS_BOOK } from '../src/transport/sim/profile.js';
import { run } from '../src/cli/send.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';

describe('storycast lists and send --list', () => {
  let t: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'storycast-cli-lists-'));
  beforeAll(async () => {
    t = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '1000' });
  });
  afterAll(async () => {
    await t.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves a list from a file and demo numbers, lists it, shows it, sends to it and deletes it', async () => {
    const file = join(dir, 'contacts.txt');
    writeFileSync(file, '# our best customers\n+44 7700 900001\n447700900002\n\n+44 7700 900001\n');
    const server = ['--server', t.url, '--session', 'cli-lists'];

    const saved = io();
    expect(await lists(['save', 'vip', '--file', file, '--recipients', '200', ...server], saved)).toBe(0);
    expect(saved.out()).toMatch(/^saved vip {2}202 recipients {2}updated \S+ \(1 duplicates dropped\)/);

    const listed = io();
    expect(await lists(server, listed)).toBe(0);
    expect(listed.out()).toMatch(/^vip {2}202 recipients/m);

    const shown = io();
    expect(await lists(['show', 'vip', ...server], shown)).toBe(0);
    expect(shown.out().split('\n').slice(0, 2)).toEqual(['447700900001@s.whatsapp.net', '447700900002@s.whatsapp.net']);

    const sent = io();
    expect(await run([...server, '--list', 'vip', '--recipients', '10'], sent), sent.err()).toBe(0);
    expect(sent.out()).toContain('and saved list "vip"');
    expect(sent.out()).toMatch(/planned\s+202 recipients \(10 duplicates dropped, 202 from the saved list, 10 from the request\)/);
    expect(sent.out()).toMatch(/summary\s+delivered 202\/202/);

    const deleted = io();
    expect(await lists(['delete', 'vip', ...server], deleted)).toBe(0);
    expect(deleted.out()).toContain('deleted "vip"');
    const gone = io();
    expect(await lists(['show', 'vip', ...server], gone)).toBe(1);
    expect(gone.err()).toContain('has no recipient list "vip"');
  });

  it("contacts prints the session's address book; send --all-contacts reaches all of it", async () => {
    const server = ['--server', t.url, '--session', 'cli-contacts'];
    const sent = io();
    expect(await run([...server, '--all-contacts'], sent), sent.err()).toBe(0);
    expect(sent.out()).toContain('recipients and all contacts');
    expect(sent.out()).toMatch(
      new RegExp(
        `planned\\s+${DEFAULT_ADDRESS_BOOK.toLocaleString('en-US')} recipients \\(${DEFAULT_ADDRESS_BOOK.toLocaleString('en-US')} from contacts, 0 from the request\\)`,
      ),
    );

    const listed = io();
    expect(await contacts([...server, '--limit', '3'], listed)).toBe(0);
    expect(listed.out().trim().split('\n')).toEqual([
      '15550000000@s.whatsapp.net  Contact 1',
      '15550000001@s.whatsapp.net  Contact 2',
      '15550000002@s.whatsapp.net  Contact 3',
    ]);
    expect(listed.err()).toMatch(new RegExp(`^${DEFAULT_ADDRESS_BOOK.toLocaleString('en-US')} contacts, synced \\S+`));
  });

  it('refuses bad usage before calling anyone', () => {
    expect(() => parseListsArgs(['save', 'x'], {})).toThrow('save needs recipients');
    expect(() => parseListsArgs(['show'], {})).toThrow("show needs the list's NAME");
    expect(() => parseListsArgs(['rename', 'x'], {})).toThrow('unknown command "rename"');
    expect(() => parseListsArgs(['show', 'x', '--recipients', '3'], {})).toThrow('--file and --recipients go with save');
    expect(parseListsArgs(['--session', 's'], {})).toMatchObject({ command: 'list', sessionId: 's' });
  });
});
