/**
 * Linking in the browser: the QR code drawn on a canvas and redrawn as
 * WhatsApp rotates it, or the pairing code for a phone number. The simulated
 * network links every session at once (no QR), so the console here talks to a
 * SessionService that streams codes the way the Baileys transport does, on the
 * console's own HTTP/1.1 handler.
 */
import { create } from '@bufbuild/protobuf';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectSessionResponseSchema, SessionService, SessionState } from '../../src/gen/storycast/v1/session_service_pb.js';
import { consoleHandler, listenWeb, type WebListener } from '../../src/server/web.js';
import { type BrowserSession, launchChromium, screenshot } from './harness.js';

const ROTATE_MS = 800;
const PHONE = '+44 7700 900123';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

describe('linking a session in chromium', () => {
  let web: WebListener;
  let browser: BrowserSession;
  const phonesSeen: string[] = [];

  beforeAll(async () => {
    const api = connectNodeAdapter({
      routes: (router) =>
        router.service(SessionService, {
          async *connectSession(req, context) {
            const session = (state: SessionState, reason = '') =>
              create(ConnectSessionResponseSchema, { event: { case: 'session', value: { sessionId: req.sessionId, state, reason } } });
            yield session(SessionState.PAIRING);
            if (req.phoneNumber) {
              phonesSeen.push(req.phoneNumber);
              yield create(ConnectSessionResponseSchema, { event: { case: 'pairingCode', value: { code: 'ABCD-1234' } } });
            } else {
              for (const code of ['2@first,rotation,one', '2@second,rotation,two', '2@third,rotation,three']) {
                yield create(ConnectSessionResponseSchema, { event: { case: 'qr', value: { code } } });
                await sleep(ROTATE_MS, context.signal);
              }
            }
            await sleep(ROTATE_MS, context.signal);
            yield session(SessionState.OPEN);
          },
          getSession: () => ({}),
          listSessions: () => ({}),
          logoutSession: () => ({}),
          listContacts: () => ({}),
        }),
    });
    [web, browser] = await Promise.all([listenWeb(consoleHandler(api), { host: '127.0.0.1', port: 0 }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  const canvas = (page: Page) => page.getByTestId('qr').evaluate((el) => (el as unknown as { toDataURL(): string }).toDataURL());

  it('draws the QR code and redraws it as it rotates, until the session is open', async () => {
    const page = await browser.newPage();
    await page.goto(`${web.url}sessions`);
    await page.getByLabel('Session id').fill('phone');
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await page.getByTestId('qr').waitFor();
    const first = await canvas(page);
    // A blank canvas is one colour: a drawn code compresses far worse.
    expect(first.length).toBeGreaterThan(2000);
    await expect.poll(() => page.getByTestId('qr-count').textContent()).toContain('Code 2');
    const second = await canvas(page);
    expect(second).not.toBe(first);
    await screenshot(page, 'linking');
    await expect.poll(() => page.getByTestId('link-state').textContent(), { timeout: 10_000 }).toBe('phone: connected');
    expect(await page.getByTestId('qr').count()).toBe(0);
    await page.context().close();
  });

  it('shows a pairing code for a phone number, and never writes the number to the console', async () => {
    const page = await browser.newPage();
    await page.goto(`${web.url}sessions`);
    await page.getByLabel('Session id').fill('by-code');
    await page.getByLabel(/Phone number/).fill(PHONE);
    await page.getByRole('button', { name: 'Link', exact: true }).click();
    await expect.poll(() => page.locator('.code').textContent()).toBe('ABCD-1234');
    expect(phonesSeen).toEqual([PHONE]);
    await expect.poll(() => page.getByTestId('link-state').textContent(), { timeout: 10_000 }).toBe('by-code: connected');
    expect(browser.consoleMessages.filter((m) => m.replace(/\D/g, '').includes('447700900123'))).toEqual([]);
    await page.context().close();
  });
});
