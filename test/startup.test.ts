/** `npm start` and `npm run demo` as a user runs them: a real process, real env, real exit codes. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');

async function start(env: Record<string, string>, script = 'src/main.ts'): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, [script], {
      cwd: root,
      env: { ...process.env, STORYCAST_METRICS_PORT: '0', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm start and npm run demo', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-start-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the demo runs a send on the simulated network, and the second run starts at the proven size', async () => {
    const env = {
      STORYCAST_STORE: `sqlite://${join(dir, 'memory.sqlite')}`,
      STORYCAST_SIM_PROFILE: 'seed-first-send',
      STORYCAST_SIM_TIME_SCALE: '1000',
      STORYCAST_DEMO_RECIPIENTS: '5101',
    };
    const first = await start(env, 'src/cli/demo.ts');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('summary  5101/5101 delivered, 0 failed, 3 batches [100, 1000, 4000]');
    const second = await start(env, 'src/cli/demo.ts');
    // 5100 left is under 1.5 x 4000, so the tail rule sends them all at once.
    expect(second.stdout).toMatch(/planned .* proven size 4000; first batch 5100: session history/);
  });

  it.each([
    [{ SMART_SEND_MAX_ATTEMPTS: 'three' }, 'SMART_SEND_MAX_ATTEMPTS="three"'],
    [
      { STORYCAST_STRATEGY_MODULES: './test/fixtures/strategies/plain-object.ts' },
      'must default-export a strategy made with defineStrategy()',
    ],
    [{ STORYCAST_STRATEGY_MODULES: './strategies/examples/steady-500.ts,./strategies/examples/steady-500.ts' }, 'already defined by'],
    [{ STORYCAST_SIM_PROFILE: 'no-such-profile' }, 'STORYCAST_SIM_PROFILE="no-such-profile"'],
    [{ STORYCAST_TLS_CERT: './cert.pem' }, 'STORYCAST_TLS_KEY must be set too'],
  ])('the server stops with a clear message on %j', async (env, message) => {
    const result = await start({ STORYCAST_STORE: 'memory://', ...env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toContain('    at '); // a message, not a stack trace
  });
});

describe('storycast <command>', () => {
  const cli = (...args: string[]) =>
    run(process.execPath, ['src/cli/storycast.mjs', ...args], { cwd: root, timeout: 60_000 }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout + e.stderr }),
    );

  it('lists its commands and runs one with its own options', async () => {
    expect((await cli()).stdout).toMatch(/serve[\s\S]*send[\s\S]*demo[\s\S]*bench/);
    const bench = await cli('bench', '--help');
    expect(bench.code).toBe(0);
    expect(bench.stdout).toContain('Usage: npm run bench');
  });

  it('rejects an unknown command', async () => {
    const result = await cli('nope');
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('unknown command "nope"');
  });
});
