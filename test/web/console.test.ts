/**
 * The web console in Debian's chromium against a real `npm start` on the
 * simulated network (real time, the seed's slow first-send ramp): link a
 * session, send to 5,000 recipients and watch the batches arrive, reload
 * mid-send and see the same send go on, read what the session learned, run a
 * small experiment to its verdict. STORYCAST_SCREENSHOTS=docs/console saves
 * the README's screenshots from the same run.
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExperimentService } from '../../src/gen/storycast/v1/experiment_service_pb.js';
import { StoryService } from '../../src/gen/storycast/v1/story_service_pb.js';
import { demoNumbers } from '../../src/recipients.js';
import { type BrowserSession, type ConsoleServer, launchChromium, screenshot, startConsoleServer } from './harness.js';

const RECIPIENTS = demoNumbers(5000);
/** Any whole demo number, with or without its +: what must never reach a log or the browser console. */
const PHONE = /\+?1555\d{7}/;

async function rows(page: Page): Promise<number> {
  return page.locator('[data-testid=batches] tbody').count();
}

describe('the web console in chromium', () => {
  let server: ConsoleServer;
  let browser: BrowserSession;
  const session = `web-${Date.now().toString(36)}`;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchChromium()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  }, 30_000);

  it('links a session and lists it with its state, then logs it out', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(server.url);
    await page.waitForURL(/\/sessions$/);
    await page.getByLabel('Session id').fill(`${session}-linked`);
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await expect.poll(() => page.getByTestId('link-state').textContent()).toBe(`${session}-linked: connected`);
    const row = page.getByRole('row', { name: new RegExp(`${session}-linked`) });
    await expect.poll(() => row.textContent()).toContain('connected');
    await screenshot(page, 'sessions');
    await row.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => row.textContent()).toContain('logged out');
    await page.context().close();
  });

  it('sends to 5,000 uploaded recipients, shows batches as they arrive, and a reload mid-send shows the same send going on', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}send?session=${session}`);
    await page.getByLabel('Text', { exact: true }).fill('Hello from the console');
    await page.getByLabel('Background colour').fill('#7a1d5c');
    await page.getByLabel('Font').selectOption('1');
    await expect.poll(() => page.getByTestId('text-preview').textContent()).toBe('Hello from the console');
    await page.getByLabel('Or read them from a file').setInputFiles({
      name: 'contacts.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(RECIPIENTS.join('\n')),
    });
    await expect.poll(() => page.getByTestId('recipient-count').textContent()).toContain('5,000 recipients');
    await page.getByLabel('Strategy', { exact: true }).selectOption('conservative');
    await screenshot(page, 'send');
    await page.getByRole('button', { name: 'Send', exact: true }).click();

    await page.waitForURL(/\/sends\/[^/]+$/);
    const live = page.url();
    // Live: the table grows while the send runs, one batch at a time.
    await expect.poll(() => rows(page), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('send-state').textContent()).toBe('running');
    const before = await rows(page);
    expect(await page.locator('[data-testid=batch-chart] rect').count()).toBe(before);
    await screenshot(page, 'live');

    await page.reload();
    expect(page.url()).toBe(live);
    await expect.poll(() => rows(page)).toBeGreaterThanOrEqual(before);
    // A second browser, given only the address, follows the same send.
    const second = await browser.newPage({ width: 360, height: 800 });
    await second.goto(live);
    await expect.poll(() => page.getByTestId('send-state').textContent(), { timeout: 30_000 }).toBe('finished');
    expect(await page.getByTestId('delivered').textContent()).toBe('5,000');
    expect(await page.getByTestId('remaining').textContent()).toBe('0');
    await expect.poll(() => second.getByTestId('send-state').textContent()).toBe('finished');
    expect(await second.getByTestId('delivered').textContent()).toBe('5,000');
    expect(await rows(second)).toBe(await rows(page));
    expect(await rows(page)).toBeGreaterThan(before);
    // Readable at 360 px: nothing wider than the screen but the tables' own scroll boxes.
    expect(await second.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await screenshot(second, 'live-360');
    await page.context().close();
    await second.context().close();
  }, 90_000);

  it("sends to all of a session's contacts and cancels mid-send: the batch in flight finishes, nothing after it starts", async () => {
    const page = await browser.newPage();
    const sender = `${session}-contacts`;
    // Linked first, as a real account would be: its address book syncs then.
    await page.goto(`${server.url}sessions`);
    await page.getByLabel('Session id').fill(sender);
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await expect.poll(() => page.getByTestId('link-state').textContent()).toBe(`${sender}: connected`);
    await page
      .getByRole('row', { name: new RegExp(sender) })
      .getByRole('link', { name: 'Send' })
      .click();
    await page.getByLabel('Text', { exact: true }).fill('To everyone');
    await page.getByLabel(/All 2,000 contacts/).check();
    await page.getByLabel('Strategy', { exact: true }).selectOption('conservative');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL(/\/sends\/[^/]+$/);
    await expect.poll(() => rows(page), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    await page.getByRole('button', { name: 'Cancel send' }).click();
    await expect.poll(() => page.getByTestId('send-state').textContent(), { timeout: 20_000 }).toBe('stopped: CANCELLED');
    const delivered = Number((await page.getByTestId('delivered').textContent())!.replace(/,/g, ''));
    expect(delivered).toBeLessThan(2000);
    expect(await page.getByTestId('summary').textContent()).toContain(`${(2000 - delivered).toLocaleString('en')} failed with CANCELLED`);
    expect(await page.getByRole('button', { name: 'Cancel send' }).isDisabled()).toBe(true);
    await page.context().close();
  }, 60_000);

  it('sends an uploaded image with its caption', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}send?session=${session}-image`);
    await page.getByRole('radio', { name: 'image' }).check();
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#1d7a55' } })
      .png()
      .toBuffer();
    await page.getByLabel('Image file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
    await page.getByRole('img', { name: 'What will be posted' }).waitFor();
    await page.getByLabel('Caption').fill('A green square');
    await page.getByLabel('Phone numbers or JIDs').fill(demoNumbers(3).join('\n'));
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL(/\/sends\/[^/]+$/);
    await expect.poll(() => page.getByTestId('send-state').textContent(), { timeout: 20_000 }).toBe('finished');
    expect(await page.getByTestId('delivered').textContent()).toBe('3');
    await page.context().close();
  }, 60_000);

  it('sends to a saved list chosen by name', async () => {
    const sender = `${session}-list`;
    const stories = createClient(StoryService, createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' }));
    await stories.saveRecipientList({ sessionId: sender, name: 'regulars', recipients: demoNumbers(150, 90_000) });
    const page = await browser.newPage();
    await page.goto(`${server.url}send?session=${sender}`);
    await page.getByLabel('Text', { exact: true }).fill('For the regulars');
    await page.getByLabel('Saved list').selectOption({ label: 'regulars (150)' });
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL(/\/sends\/[^/]+$/);
    await expect.poll(() => page.getByTestId('send-state').textContent(), { timeout: 20_000 }).toBe('finished');
    expect(await page.getByTestId('delivered').textContent()).toBe('150');
    await page.context().close();
  }, 60_000);

  it('shows what the session learned, and resets it', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${server.url}learning/${session}`);
    await expect.poll(() => page.getByTestId('proven').textContent()).toBe('2,000');
    await screenshot(page, 'learning');
    await page.getByRole('button', { name: 'Reset learning' }).click();
    await expect.poll(() => page.getByTestId('learning-empty').count()).toBe(1);
    await page.context().close();
  });

  it('creates an experiment, and once sends have run its arms shows the verdict; then stops it', async () => {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${server.url}experiments`);
    const key = `console-${Date.now().toString(36)}`;
    await page.getByLabel('Key').fill(key);
    await page.getByLabel('Description').fill('adaptive against aggressive');
    await page.getByLabel('Assign a strategy per').selectOption({ label: 'send' });
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(new RegExp(`/experiments/${key}$`));
    await expect.poll(() => page.getByTestId('verdict').textContent()).toContain('not enough data');

    // The sends themselves come from an ordinary client of the same port, in parallel sessions, until each arm
    // has the units a verdict needs (the experiment assigns each send at random).
    const transport = createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' });
    const stories = createClient(StoryService, transport);
    const results = createClient(ExperimentService, transport);
    const story = { content: { case: 'text' as const, value: { text: 'experiment' } } };
    let sent = 0;
    while (!(await results.getExperimentResults({ key })).enoughData && sent < 200) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const i = sent++;
          // Sizes that differ give the arms a spread of times per 1,000 to compare.
          const recipients = demoNumbers(150 + ((i * 97) % 500), i * 1000);
          for await (const _event of stories.sendStory({ sessionId: `${session}-x${i}`, story, recipients, experiment: key }));
        }),
      );
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByTestId('verdict').textContent(), { timeout: 10_000 }).not.toContain('not enough data');
    expect(await page.locator('[data-testid=arms] tbody tr').count()).toBe(2);
    await screenshot(page, 'experiments');
    await page.getByRole('button', { name: 'Stop experiment' }).click();
    await expect.poll(() => page.getByTestId('experiments').textContent()).toContain(`${key} — stopped`);
    await page.context().close();
  }, 120_000);

  it('labels every control, reaches them by keyboard, and never writes a phone number to the browser console or the server log', async () => {
    const page = await browser.newPage();
    for (const path of ['sessions', 'send', 'learning', 'experiments']) {
      await page.goto(`${server.url}${path}`);
      await page.waitForSelector('h1');
      // A string, as it runs in the page: the suite's own type check knows no DOM.
      const unlabelled = await page.evaluate<string[]>(`[...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML)`);
      expect(unlabelled, path).toEqual([]);
    }
    // The keyboard alone reaches every part of a send, in reading order.
    await page.goto(`${server.url}send`);
    await page.waitForSelector('h1');
    const reached: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate<string>(`(document.activeElement.id || document.activeElement.textContent || '').trim()`));
    }
    const order = ['send-session', 'story-text', 'story-color', 'story-font', 'recipients', 'recipients-file', 'strategy', 'Send'];
    expect(order.map((id) => reached.indexOf(id))).toEqual(order.map((id) => reached.indexOf(id)).sort((a, b) => a - b));
    expect(order.filter((id) => !reached.includes(id))).toEqual([]);
    await page.context().close();
    expect(browser.consoleMessages.filter((m) => PHONE.test(m))).toEqual([]);
    expect(server.output.filter((line) => PHONE.test(line))).toEqual([]);
  });
});
