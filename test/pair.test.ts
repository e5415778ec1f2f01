/** `npm run pair`: against the real server (simulated sessions) and a fake SessionService that streams codes. */
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { pair } from '../src/cli/pair.js';
import { ConnectSessionResponseSchema, SessionService, SessionState } from '../src/gen/storycast/v1/session_service_pb.js';
import { startH2Server } from './support/h2-server.js';
import { startTestServer } from './support/storycast-server.js';

function io() {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
    out: () => out,
    err: () => err,
  };
}

describe('npm run pair', () => {
  it('links a session on a real server and exits 0 once it is open', async () => {
    const t = await startTestServer();
    try {
      const cli = io();
      expect(await pair(['--session', 'alice', '--server', t.url], cli)).toBe(0);
      expect(cli.out()).toContain('session alice: open: linked and ready to send');
    } finally {
      await t.server.close();
    }
  });

  it('draws each QR code, prints a pairing code, and fails on a terminal state', async () => {
    const server = await startH2Server((router) =>
      router.service(SessionService, {
        async *connectSession(req) {
          if (req.phoneNumber) yield create(ConnectSessionResponseSchema, { event: { case: 'pairingCode', value: { code: 'ABCD-1234' } } });
          else yield create(ConnectSessionResponseSchema, { event: { case: 'qr', value: { code: '2@abc,def,ghi' } } });
          yield create(ConnectSessionResponseSchema, {
            event: { case: 'session', value: { sessionId: req.sessionId, state: SessionState.REPLACED, reason: 'another client took it' } },
          });
        },
        getSession: () => ({}),
        listSessions: () => ({}),
        logoutSession: () => ({}),
      }),
    );
    try {
      const qr = io();
      expect(await pair(['--session', 'bob', '--server', server.address], qr)).toBe(1);
      expect(qr.out()).toContain('Scan this in WhatsApp');
      expect(qr.out()).toMatch(/[▄▀█]{5,}/);
      expect(qr.out()).toContain('session bob: replaced by another client — another client took it');
      const code = io();
      await pair(['--session', 'bob', '--phone', '+15551234567', '--server', server.address], code);
      expect(code.out()).toContain('Pairing code: ABCD-1234');
    } finally {
      await server.close();
    }
  });

  it.each([
    [SessionState.UNPAIRED, 'pairing expired: no QR code was scanned in time; connect again to link', 'not linked'],
    [SessionState.BANNED, 'temporarily banned (402): lifts in about 24 h', 'banned'],
    [SessionState.FAILED, 'client outdated (405): update Baileys', 'stopped after an error'],
  ])('names the stopped state %i with its reason and exits 1', async (state, reason, name) => {
    const server = await startH2Server((router) =>
      router.service(SessionService, {
        async *connectSession(req) {
          yield create(ConnectSessionResponseSchema, { event: { case: 'session', value: { sessionId: req.sessionId, state, reason } } });
        },
        getSession: () => ({}),
        listSessions: () => ({}),
        logoutSession: () => ({}),
      }),
    );
    try {
      const cli = io();
      expect(await pair(['--session', 'cat', '--server', server.address], cli)).toBe(1);
      expect(cli.out()).toContain(`session cat: ${name} — ${reason}`);
    } finally {
      await server.close();
    }
  });

  it('needs --session, and says so', async () => {
    const cli = io();
    expect(await pair([], cli)).toBe(1);
    expect(cli.err()).toContain('--session is required');
  });
});
