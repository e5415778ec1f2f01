/** The optional pre-flight: recipients not on WhatsApp are reported invalid, not sent to. */
import { describe, expect, it } from 'vitest';
import type { BinaryNode, USyncQuery } from '@whiskeysockets/baileys';
import { BaileysTransport } from '../src/transport/baileys/transport.js';
import { VirtualClock } from '../src/clock.js';
import { SendEngine } from '../src/engine/engine.js';
import type { PlannedEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
import type { RecipientCheck } from '../src/transport/port.js';
import { FakeSessions, FakeSocket } from './support/fake-socket.js';
import { config, runSend, summaryOf } from './support/harness.js';
import { numbers, ScriptedTransport } from './support/scripted-transport.js';

/** A scripted transport that knows some numbers are not on WhatsApp. */
class CheckingTransport extends ScriptedTransport {
  checks = 0;
  constructor(
    clock: VirtualClock,
    private readonly absent: ReadonlySet<string>,
    private readonly broken = false,
  ) {
    super(clock, () => ({ latencyMs: 100 }));
  }
  async checkRecipients(_session: string, jids: readonly string[]): Promise<RecipientCheck> {
    this.checks++;
    if (this.broken) throw new Error('usync failed');
    return { notOnWhatsApp: new Set(jids.filter((j) => this.absent.has(j))), audience: 'only some will see it' };
  }
}

function engineWith(transport: (clock: VirtualClock) => ScriptedTransport, checkRecipients: boolean) {
  const clock = new VirtualClock(0);
  const t = transport(clock);
  const memory = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: 3_600_000, clock, logger: silentLogger });
  const engine = new SendEngine({ transport: t, clock, memory, config: config(), checkRecipients });
  return { clock, memory, engine, config: config(), transport: t };
}

describe('recipient pre-flight', () => {
  const list = numbers(300);
  const absent = new Set([list[3]!, list[200]!].map((n) => `${n.slice(1)}@s.whatsapp.net`));

  it('reports recipients not on WhatsApp as invalid, by index, and sends to the rest', async () => {
    const r = engineWith((clock) => new CheckingTransport(clock, absent), true);
    const events = await runSend(r, { recipients: ['nope', ...list] });
    const planned = events[0] as PlannedEvent;
    expect(planned.total).toBe(298);
    expect(planned.reason).toMatch(/\(only some will see it\)$/);
    expect(planned.invalid.map((i) => [i.index, i.reason])).toEqual([
      [0, expect.any(String)],
      [4, 'not on WhatsApp'],
      [201, 'not on WhatsApp'],
    ]);
    const sent = (r.transport as CheckingTransport).calls.flatMap((c) => c.recipients);
    expect(sent.some((j) => absent.has(j))).toBe(false);
    expect(summaryOf(events)).toMatchObject({ total: 298, delivered: 298, invalid: 3 });
  });

  it('is off unless enabled, and a failing check never stops a send', async () => {
    const off = engineWith((clock) => new CheckingTransport(clock, absent), false);
    expect(summaryOf(await runSend(off, { recipients: list })).delivered).toBe(300);
    expect((off.transport as CheckingTransport).checks).toBe(0);
    const broken = engineWith((clock) => new CheckingTransport(clock, absent, true), true);
    expect(summaryOf(await runSend(broken, { recipients: list })).delivered).toBe(300);
  });

  it('the Baileys transport asks onWhatsApp once per number and caches the answers', async () => {
    const clock = new VirtualClock(0);
    const socket = new FakeSocket(clock);
    const asked: string[][] = [];
    Object.assign(socket, {
      onWhatsApp: async (...jids: string[]) => {
        asked.push(jids);
        // Baileys lists only registered numbers, with their own JID spelling.
        return jids.filter((j) => !j.startsWith('1555000000')).map((j) => ({ jid: j, exists: true }));
      },
    });
    const transport = new BaileysTransport({ sockets: new FakeSessions().set('s', 'open', socket), clock });
    const jids = ['15550000001@s.whatsapp.net', '447700900123@s.whatsapp.net', '15551230000@s.whatsapp.net'];
    const missing = await transport.checkRecipients('s', jids, new AbortController().signal);
    expect([...missing.notOnWhatsApp]).toEqual(['15550000001@s.whatsapp.net']);
    await transport.checkRecipients('s', [...jids, '4915112345678@s.whatsapp.net'], new AbortController().signal);
    expect(asked).toEqual([jids, ['4915112345678@s.whatsapp.net']]);
  });

  it("sends to WhatsApp's own JID for a number it spells differently, asked per session, in budgeted chunks", async () => {
    const clock = new VirtualClock(0);
    const socket = new FakeSocket(clock);
    // Brazil: asked for the 8-digit mobile, WhatsApp answers with the 9-digit JID and echoes the number asked.
    const spelledAs: Record<string, string> = { '551187654321': '5511987654321@s.whatsapp.net' };
    const absent = new Set(['15550000001']);
    let hang = false;
    let queries = 0;
    Object.assign(socket, {
      executeUSyncQuery: async (query: USyncQuery) => {
        queries++;
        if (hang) return new Promise(() => {});
        const users = query.users.map((u) => {
          const digits = u.phone!.slice(1);
          const on = !absent.has(digits);
          const node: BinaryNode = { tag: 'contact', attrs: { type: on ? 'in' : 'out' }, content: u.phone };
          return { tag: 'user', attrs: { jid: spelledAs[digits] ?? `${digits}@s.whatsapp.net` }, content: [node] };
        });
        return query.parseUSyncQueryResult({
          tag: 'iq',
          attrs: { type: 'result' },
          content: [{ tag: 'usync', attrs: {}, content: [{ tag: 'list', attrs: {}, content: users }] }],
        });
      },
      fetchPrivacySettings: async () => ({ status: 'contacts', last: 'all' }),
    });
    const transport = new BaileysTransport({
      sockets: new FakeSessions().set('s', 'open', socket).set('t', 'open', socket),
      clock,
      preflightChunkTimeoutMs: 5_000,
    });
    const asked = ['551187654321@s.whatsapp.net', '15550000001@s.whatsapp.net', '447700900123@s.whatsapp.net'];
    const check = await transport.checkRecipients('s', asked, new AbortController().signal);
    expect([...check.notOnWhatsApp]).toEqual(['15550000001@s.whatsapp.net']);
    expect(check.audience).toMatch(/my contacts/);
    const prepared = await clock.run(transport.prepare('s', { kind: 'text', text: 'x' }, new AbortController().signal));
    await clock.run(
      transport.send(
        { sessionId: 's', story: prepared, recipients: [asked[0]!, asked[2]!], messageId: 'M1' },
        new AbortController().signal,
      ),
    );
    expect(socket.calls.at(-1)!.opts.statusJidList).toEqual(['5511987654321@s.whatsapp.net', '447700900123@s.whatsapp.net']);
    // Answers are per session: another session asks again. A chunk that gets no answer within its budget is left unchecked.
    hang = true;
    const other = await clock.run(transport.checkRecipients('t', asked, new AbortController().signal));
    expect(queries).toBe(2);
    expect([...other.notOnWhatsApp]).toEqual([]);
  });
});
