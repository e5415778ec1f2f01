/** With STORYCAST_API_KEYS the console asks for a key, sends it as a bearer token, and keeps it in this tab's sessionStorage only. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSession, type ConsoleServer, launchChromium, startConsoleServer } from './harness.js';

const KEY = 'sc-console-test-key-0123456789';

describe('the console on a server with API keys', () => {
  let server: ConsoleServer;
  let browser: BrowserSession;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'storycast-console-keys-'));
    const sha256 = createHash('sha256').update(KEY).digest('hex');
    const keys = join(dir, 'keys.json');
    writeFileSync(keys, JSON.stringify({ keys: [{ sha256, tenant: 'ops', sessions: ['*'], roles: ['send', 'read', 'admin'] }] }));
    [server, browser] = await Promise.all([startConsoleServer({ STORYCAST_API_KEYS: keys }), launchChromium()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('asks for a key, refuses a wrong one, works with the right one, and forgets it on request', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}sessions`);
    const prompt = page.getByRole('heading', { name: 'API key needed' });
    await prompt.waitFor();

    await page.getByLabel('API key', { exact: true }).fill('not-the-key');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await prompt.waitFor();
    expect(await page.getByRole('alert').first().textContent()).toContain('Unauthenticated');

    await page.getByLabel('API key', { exact: true }).fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByRole('button', { name: 'Forget API key' }).waitFor();
    await expect.poll(() => page.getByTestId('sessions').count()).toBe(1);
    expect(await prompt.count()).toBe(0);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The tab's session storage only: nothing survives the tab, nothing in localStorage or cookies.
    expect(await page.evaluate<string | null>(`sessionStorage.getItem('storycast.apiKey')`)).toBe(KEY);
    expect(await page.evaluate<number>('localStorage.length')).toBe(0);
    expect(await page.context().cookies()).toEqual([]);

    await page.getByRole('button', { name: 'Forget API key' }).click();
    await prompt.waitFor();
    expect(await page.evaluate<string | null>(`sessionStorage.getItem('storycast.apiKey')`)).toBeNull();
    await page.context().close();
    expect(server.output.some((line) => line.includes(KEY))).toBe(false);
  });
});
