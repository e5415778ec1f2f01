/** `npm start` with TLS: the main port serves the console too (browsers speak HTTP/1.1 or HTTP/2 over TLS), next to the web port. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoryService } from '../../src/gen/storycast/v1/story_service_pb.js';
import { selfSignedCert } from '../support/tls.js';
import { type ConsoleServer, startConsoleServer } from './harness.js';

function get(url: string, ca: Buffer): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the console on the TLS port', () => {
  let dir: string;
  let server: ConsoleServer;
  let ca: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-console-tls-'));
    const { cert, key } = await selfSignedCert(dir);
    ca = await readFile(cert);
    server = await startConsoleServer({ STORYCAST_TLS_CERT: cert, STORYCAST_TLS_KEY: key });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('serves the page and the API over HTTP/1.1 on the main port', async () => {
    const main = server.logs.find((l) => l.msg === 'storycast listening')?.['url'] as string;
    expect(main).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const page = await get(`${main}/sends/some-send`, ca);
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<div id="app"></div>');
    const stories = createClient(StoryService, createConnectTransport({ baseUrl: main, httpVersion: '1.1', nodeOptions: { ca } }));
    expect((await stories.listStrategies({})).defaultStrategy).toBe('adaptive');
    // The cleartext web port serves the same page.
    const web = await fetch(server.url);
    expect(await web.text()).toBe(page.body);
  });
});
