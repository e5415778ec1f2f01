/**
 * The console in a real browser: Debian's chromium driven by playwright-core
 * (playwright's own browser download is not available here) against a real
 * `npm start` on the simulated network, each with its own ports, store and
 * profile directory so suites never collide.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, type ConsoleMessage, chromium, type Page } from 'playwright-core';
import { freePort } from '../support/ports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

/** Newest modification time under a path, in ms. */
function newest(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Builds the console when there is no build, or one older than its sources (.ci/run builds it before the suite). */
export function ensureBuilt(): void {
  const built = join(root, 'web/dist/index.html');
  const sources = ['web/src', 'web/index.html', 'web/public', 'web/vite.config.ts'].map((p) => newest(join(root, p)));
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources)) return;
  const build = spawnSync('npm', ['run', '-s', 'build:web'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build:web failed');
}

interface LogLine {
  readonly msg?: string;
  readonly [field: string]: unknown;
}

export interface ConsoleServer {
  /** The console's base URL, http://127.0.0.1:PORT/ */
  readonly url: string;
  /** Every line the server logged, raw, for checks that no phone number leaks into them. */
  readonly output: string[];
  readonly logs: LogLine[];
  stop(): Promise<void>;
}

/** `npm start` as a user runs it, on free ports with a store of its own. */
export async function startConsoleServer(env: Record<string, string> = {}): Promise<ConsoleServer> {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-console-'));
  const webPort = await freePort();
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: root,
    env: {
      ...process.env,
      STORYCAST_HOST: '127.0.0.1',
      STORYCAST_PORT: '0',
      STORYCAST_METRICS_PORT: '0',
      STORYCAST_WEB_PORT: String(webPort),
      STORYCAST_STORE: `sqlite://${join(dir, 'storycast.sqlite')}`,
      STORYCAST_SIM_PROFILE: 'seed-first-send',
      STORYCAST_SIM_TIME_SCALE: '1',
      STORYCAST_SHUTDOWN_GRACE_MS: '300',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: stop() ends npm and the server under it together.
    detached: true,
  });
  const output: string[] = [];
  const logs: LogLine[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      if (entry.msg === 'web console listening' && typeof entry['url'] === 'string') resolve(entry['url']);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before its console listened:\n${output.join('\n')}`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    url,
    output,
    logs,
    stop: () =>
      (stopping ??= (async () => {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // ESRCH: already gone
        }
        const late = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // gone
          }
        }, 10_000);
        await exited;
        clearTimeout(late);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

export interface BrowserSession {
  readonly browser: Browser;
  /** Every message any page wrote to its console, for the no-phone-numbers check. */
  readonly consoleMessages: string[];
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Debian's chromium, headless, without its background traffic (this network refuses it, and chromium then
 * refuses connections too). playwright gives each launch a fresh profile (--user-data-dir) of its own.
 */
export async function launchChromium(): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const consoleMessages: string[] = [];
  return {
    browser,
    consoleMessages,
    async newPage(options = {}) {
      const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
      const page = await context.newPage();
      page.on('console', (message: ConsoleMessage) => consoleMessages.push(message.text()));
      page.on('pageerror', (error) => consoleMessages.push(`pageerror: ${error.message}`));
      return page;
    },
    async close() {
      await browser.close();
    },
  };
}

/** With STORYCAST_SCREENSHOTS=DIR (docs/console for the README's), each view is saved there as NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env['STORYCAST_SCREENSHOTS'];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
