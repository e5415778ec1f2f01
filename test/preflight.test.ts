/** The optional pre-flight: recipients not on WhatsApp are reported invalid, not sent to. */
import { describe, expect, it } from 'vitest';
import { BaileysTransport } from '../src/baileys/transport.js';
import { VirtualClock } from '../src/clock.js';
import { SendEngine } from '../src/engine/engine.js';
import type { PlannedEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
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
  async checkRecipients(_session: string, jids: readonly string[]): Promise<ReadonlySet<string>> {
    this.checks++;
    if (this.broken) throw new Error('usync failed');
    return new Set(jids.filter((j) => this.absent.has(j)));
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
    expect([...missing]).toEqual(['15550000001@s.whatsapp.net']);
    await transport.checkRecipients('s', [...jids, '4915112345678@s.whatsapp.net'], new AbortController().signal);
    expect(asked).toEqual([jids, ['4915112345678@s.whatsapp.net']]);
  });
});
