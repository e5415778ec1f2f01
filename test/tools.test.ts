/** The standard gRPC tools against a live server, with no proto files: health probe, load, and plain curl over Connect. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/storycast-server.js';

const run = promisify(execFile);

describe('standard tools against a live server', () => {
  let t: TestServer;
  let bin: string;
  beforeAll(async () => {
    t = await startTestServer();
    bin = join((await run('go', ['env', 'GOPATH'])).stdout.trim(), 'bin');
  });
  afterAll(async () => {
    await t.server.close();
  });

  it('grpc-health-probe exits 0 for the server and for each service', async () => {
    for (const service of ['', 'storycast.v1.StoryService', 'storycast.v1.SessionService']) {
      // Exits non-zero (and run() throws) unless the status is SERVING.
      const { stdout, stderr } = await run(join(bin, 'grpc-health-probe'), [
        `-addr=${t.address}`,
        ...(service ? [`-service=${service}`] : []),
      ]);
      expect(stdout + stderr).toContain('status: SERVING');
    }
  });

  it('ghz: a few hundred SendStory calls at concurrency 10, through reflection, with no errors', async () => {
    const body = JSON.stringify({
      sessionId: 'ghz-{{.RequestNumber}}',
      story: { text: { text: 'load' } },
      recipients: ['+15550000001', '+15550000002', '+15550000003'],
    });
    const { stdout } = await run(
      join(bin, 'ghz'),
      ['--insecure', '--call', 'storycast.v1.StoryService/SendStory', '-d', body, '-n', '300', '-c', '10', '--format', 'json', t.address],
      { timeout: 120_000, maxBuffer: 32 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout) as {
      count: number;
      statusCodeDistribution: Record<string, number>;
      errorDistribution?: Record<string, number>;
    };
    expect(report.count).toBe(300);
    expect(report.statusCodeDistribution).toEqual({ OK: 300 });
    expect(report.errorDistribution ?? {}).toEqual({});
  });

  it('curl: a unary call over the Connect protocol with a JSON body', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--http2-prior-knowledge',
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '-d',
      '{}',
      `${t.url}/storycast.v1.StoryService/ListStrategies`,
    ]);
    const body = JSON.parse(stdout) as { strategies: { name: string }[]; defaultStrategy: string };
    expect(body.defaultStrategy).toBe('adaptive');
    expect(body.strategies.map((s) => s.name)).toContain('bracket');
  });
});
