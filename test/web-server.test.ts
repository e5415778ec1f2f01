/** The web console's HTTP/1.1 port: the same services over Connect and gRPC-Web, the console's files, and the page a missing build gets. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { silentLogger } from '../src/log.js';
import { consoleHandler, listenWeb, startWeb, type WebListener } from '../src/server/web.js';
import { freePort } from './support/ports.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly httpVersion: string;
}

/** A plain HTTP/1.1 request, as a browser would make it (no path normalisation: traversal attempts arrive as written). */
function get(base: string, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(base), { method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, httpVersion: res.httpVersion }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web port', () => {
  let t: TestApp;
  let built: string;
  let web: WebListener;
  beforeAll(async () => {
    t = await createTestApp();
    built = await mkdtemp(join(tmpdir(), 'storycast-web-'));
    await mkdir(join(built, 'assets'));
    await writeFile(join(built, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(built, 'assets', 'app-1a2b.js'), 'export {};');
    await writeFile(join(built, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    web = await listenWeb(consoleHandler(t.app.handler, built), { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await web.close();
    await t.close();
    await rm(built, { recursive: true, force: true });
  });

  it('answers Connect over HTTP/1.1: a unary call and a whole streamed send', async () => {
    const transport = createConnectTransport({ baseUrl: web.url, httpVersion: '1.1' });
    const strategies = await createClient(StoryService, transport).listStrategies({});
    expect(strategies.strategies.map((s) => s.name)).toContain('adaptive');
    const events = [];
    const story = { content: { case: 'text' as const, value: { text: 'hi' } } };
    for await (const e of createClient(StoryService, transport).sendStory({ sessionId: 'web', story, recipients: numbers(300) }))
      events.push(e.event.case);
    expect(events[0]).toBe('planned');
    expect(events).toContain('batch');
    expect(events.at(-1)).toBe('summary');
  });

  it('answers gRPC-Web over HTTP/1.1, binary as browsers send it', async () => {
    const transport = createGrpcWebTransport({ baseUrl: web.url, httpVersion: '1.1' });
    const client = createClient(SessionService, transport);
    const linking = [];
    for await (const e of client.connectSession({ sessionId: 'web-linked' })) linking.push(e.event.case);
    expect(linking).toEqual(['session']);
    const sessions = await client.listSessions({});
    expect(sessions.sessions.map((s) => s.sessionId)).toContain('web-linked');
  });

  it('serves the console: its page for every app path, its hashed assets for good, with a strict policy', async () => {
    const page = await get(web.url, '/');
    expect(page).toMatchObject({ status: 200, httpVersion: '1.1', body: '<!doctype html><title>console</title>' });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    // The app routes by path; a reload of any of its pages gets the app back.
    expect((await get(web.url, '/sends/abc123')).body).toBe(page.body);

    const asset = await get(web.url, '/assets/app-1a2b.js');
    expect(asset).toMatchObject({ status: 200, body: 'export {};' });
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await get(web.url, '/favicon.svg')).headers['content-type']).toBe('image/svg+xml');
    // An asset a stale page asks for is missing, not the app.
    expect((await get(web.url, '/assets/app-0000.js')).status).toBe(404);
    expect((await get(web.url, '/favicon.svg', 'HEAD')).body).toBe('');
  });

  it('never serves a file outside the build, and only reads', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/%2e%2e/%2e%2e/package.json', '/..%2fpackage.json']) {
      const reply = await get(web.url, path);
      expect(reply.body, path).not.toContain('"name": "storycast"');
    }
    expect((await get(web.url, '/', 'POST')).status).toBe(405);
    expect((await get(web.url, '/%E0%A4%A')).status).toBe(400);
  });
});

describe('without a build', () => {
  it('the API still works and the page says how to build the console', async () => {
    const t = await createTestApp();
    const empty = await mkdtemp(join(tmpdir(), 'storycast-web-empty-'));
    const warnings: unknown[] = [];
    const logger = Object.assign(Object.create(silentLogger) as typeof silentLogger, {
      warn: (...args: unknown[]) => warnings.push(args),
    });
    try {
      const port = await freePort();
      const web = await startWeb(t.app.handler, { host: '127.0.0.1', port, chosen: true, dir: empty }, logger);
      expect(web).toBeDefined();
      try {
        const page = await get(web!.url, '/');
        expect(page.status).toBe(503);
        expect(page.body).toContain('npm run build:web');
        expect(JSON.stringify(warnings)).toContain('npm run build:web');
        const transport = createConnectTransport({ baseUrl: web!.url, httpVersion: '1.1' });
        expect((await createClient(StoryService, transport).listStrategies({})).defaultStrategy).toBe('adaptive');
      } finally {
        await web!.close();
      }
    } finally {
      await t.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('port 0 means no console port', async () => {
    const t = await createTestApp();
    try {
      expect(await startWeb(t.app.handler, { host: '127.0.0.1', port: 0, chosen: true }, silentLogger)).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('the default port gives way when taken; a chosen one fails start-up', async () => {
    const t = await createTestApp();
    const taken = await listenWeb(() => undefined, { host: '127.0.0.1', port: 0 });
    try {
      const settings = { host: '127.0.0.1', port: taken.port };
      expect(await startWeb(t.app.handler, { ...settings, chosen: false }, silentLogger)).toBeUndefined();
      await expect(startWeb(t.app.handler, { ...settings, chosen: true }, silentLogger)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await taken.close();
      await t.close();
    }
  });
});
