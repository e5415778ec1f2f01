/**
 * The generated clients, as other microservices use them: each language's
 * example program streams SendStory from a live server and handles an error
 * by its gRPC code and ErrorInfo reason; against a server with API keys it
 * sends STORYCAST_API_KEY.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuth } from '../src/auth/interceptor.js';
import { ApiKeys } from '../src/auth/keys.js';
import { KEY, KEYS_FILE } from './fixtures/auth/keys.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

interface Example {
  readonly language: string;
  readonly cwd: string;
  readonly command: string;
  readonly args: (server: string, extra: string[]) => string[];
  readonly env?: Record<string, string>;
  /** How the language spells the gRPC code in its own idiom. */
  readonly invalidArgument: string;
  readonly unauthenticated: string;
}

const examples: Example[] = [
  {
    language: 'TypeScript',
    cwd: `${root}clients/typescript`,
    command: `${root}node_modules/.bin/tsx`,
    args: (server, extra) => ['examples/send-story.ts', '--server', server, ...extra],
    invalidArgument: 'INVALID_ARGUMENT',
    unauthenticated: 'UNAUTHENTICATED',
  },
  {
    language: 'Go',
    cwd: `${root}clients/go`,
    command: 'go',
    args: (server, extra) => ['run', './examples/send-story', '-server', server, ...extra],
    // Go's codes.Code prints CamelCase.
    invalidArgument: 'InvalidArgument',
    unauthenticated: 'Unauthenticated',
  },
  {
    language: 'Python',
    cwd: `${root}clients/python`,
    command: 'python3',
    args: (server, extra) => ['examples/send_story.py', '--server', server, ...extra],
    invalidArgument: 'INVALID_ARGUMENT',
    unauthenticated: 'UNAUTHENTICATED',
  },
];

async function example(
  e: Example,
  server: string,
  extra: string[],
  env: Record<string, string> = { STORYCAST_API_KEY: '' },
): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(e.command, e.args(server, extra), {
      cwd: e.cwd,
      env: { ...process.env, ...e.env, ...env },
      timeout: 180_000,
    });
    return { code: 0, stdout };
  } catch (error) {
    const x = error as { code: number; stdout: string; stderr: string };
    if (typeof x.code !== 'number') throw error;
    return { code: x.code, stdout: x.stdout + x.stderr };
  }
}

describe.each(examples)('the $language client example', (e) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ STORYCAST_SIM_PROFILE: 'seed-first-send' });
  });
  afterAll(async () => {
    await t.server.close();
  });

  it('streams a send: one line per batch, then the summary', async () => {
    const { code, stdout } = await example(e, t.address, ['--recipients', '5101', '--session', `client-${e.language}`]);
    expect(code, stdout).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('planned total=5101 invalid=0 strategy=adaptive');
    expect(lines.filter((l) => l.startsWith('batch ')).map((l) => l.split(' ')[2])).toEqual(['size=100', 'size=1000', 'size=4000']);
    expect(lines.at(-1)).toMatch(/^summary delivered=5101 total=5101 failed=0 batches=3 message_id=\S+$/);
  });

  it('reports an error by its gRPC code and ErrorInfo reason', async () => {
    const { code, stdout } = await example(e, t.address, ['--session', 'errors', '--recipient', 'nope']);
    expect(code).toBe(1);
    expect(stdout).toContain(`error code=${e.invalidArgument} reason=NO_VALID_RECIPIENTS`);
  });

  describe('against a server with API keys', () => {
    let secured: TestServer;
    beforeAll(async () => {
      const keys = ApiKeys.load(KEYS_FILE);
      secured = await startTestServer({}, { interceptors: ({ registry }) => [apiKeyAuth({ keys, registry, authReflection: false })] });
    });
    afterAll(async () => {
      await secured.server.close();
    });

    it('sends STORYCAST_API_KEY as a bearer token, and without it reports UNAUTHENTICATED', async () => {
      const session = ['--recipients', '300', '--session', `a-client-${e.language}`];
      const sent = await example(e, secured.address, session, { STORYCAST_API_KEY: KEY.a });
      expect(sent.code, sent.stdout).toBe(0);
      expect(sent.stdout).toMatch(/^summary delivered=300 total=300 failed=0 /m);
      const refused = await example(e, secured.address, session);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(`error code=${e.unauthenticated} reason=API_KEY_MISSING`);
    });
  });
});

describe("the Python client's own tests", () => {
  it('pass (python3 -m unittest)', async () => {
    const { stderr } = await run('python3', ['-m', 'unittest', 'discover', '-s', 'tests'], {
      cwd: `${root}clients/python`,
      timeout: 120_000,
    });
    expect(stderr).toMatch(/\nOK\s*$/);
  });
});

describe("the Go client's own tests", () => {
  it('pass (go test ./...)', async () => {
    const { stdout } = await run('go', ['test', './...'], { cwd: `${root}clients/go`, timeout: 300_000 });
    expect(stdout).toMatch(/^ok\s/m);
  });
});
