/**
 * A measurement, not a test: how long the store takes to commit the signal
 * keys of one status relay to N devices that had no session yet, written one
 * `keyv.set` per key (how auth-state.ts wrote them before) and as one batch
 * (how it writes them now), on SQLite (a real file) and Redis (a real
 * redis-server). Run: npx tsx test/measure/key-commit.ts [--devices 5000] [--runs 3] [--redis redis://host:port]
 *
 * The keys are the real thing: Baileys' own signal repository, inside its own
 * transaction layer, does what relayMessage does for a status to new devices
 * (inject a session from each device's pre-key bundle as assertSessions does,
 * encrypt the sender-key distribution message to each, encrypt the status with
 * the sender key, store the sender-key memory), and the commit it would make
 * is captured and written. That is a `session` per device (~1.6 KB of JSON
 * each), the sender key and the sender-key memory (a flag per device).
 *
 * Each run writes to a fresh store (insert), then the same keys again
 * (update, as the next send to the same contacts does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SignalDataSet, SignalKeyStore } from '@whiskeysockets/baileys';
import type { Keyv } from 'keyv';
import { createKeyvAuthState, type KeyCommit } from '../../src/transport/baileys/auth-state.js';
import { silentLogger } from '../../src/log.js';
import { createKeyv } from '../../src/memory/store.js';
import { startRedis } from '../support/redis.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');
const NAMESPACE = 'storycast:baileys-auth'; // the runtime's
const ME = '15550001111:3@s.whatsapp.net';

const { values: args } = parseArgs({
  options: { devices: { type: 'string', default: '5000' }, runs: { type: 'string', default: '3' }, redis: { type: 'string' } },
});
const devices = Number(args.devices);
const runs = Number(args.runs);

/**
 * The commit of a relay to `count` new devices. Baileys' signal code is pure JS
 * curve25519 (~40 ms a device here), so it makes REAL_DEVICES real records and
 * each further device gets a copy of one of them: same shape, same size.
 */
async function relayCommit(count: number): Promise<SignalDataSet> {
  const real = await baileysRelayCommit(Math.min(count, REAL_DEVICES));
  const records = Object.values(real.session ?? {});
  const jids = deviceJids(count);
  const session = Object.fromEntries(jids.map((jid, i) => [signalAddress(jid), records[i % records.length]!]));
  const memory = { 'status@broadcast': Object.fromEntries(jids.map((j) => [j, true])) };
  return { ...real, session, 'sender-key-memory': memory };
}

const REAL_DEVICES = 100;

function deviceJids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `1555${String(2_000_000 + Math.floor(i / 2)).padStart(7, '0')}:${i % 2}@s.whatsapp.net`);
}

/** libsignal's address, as Baileys keys sessions: "<user>.<device>". */
function signalAddress(jid: string): string {
  const [user, device] = jid.split('@')[0]!.split(':');
  return `${user}.${device ?? 0}`;
}

/** The mutations one relay to `count` new devices commits, made by Baileys' own code. */
async function baileysRelayCommit(count: number): Promise<SignalDataSet> {
  const memory = new Map<string, unknown>();
  let committed: SignalDataSet | undefined;
  const store: SignalKeyStore = {
    async get(type, ids) {
      return Object.fromEntries(ids.flatMap((id) => (memory.has(`${type}.${id}`) ? [[id, memory.get(`${type}.${id}`)]] : []))) as never;
    },
    async set(data) {
      committed = data;
      for (const [type, byId] of Object.entries(data)) for (const [id, v] of Object.entries(byId ?? {})) memory.set(`${type}.${id}`, v);
    },
  };
  const keys = baileys.addTransactionCapability(store, silentLogger as never, { maxCommitRetries: 1, delayBetweenTriesMs: 0 });
  const creds = baileys.initAuthCreds();
  const repository = baileys.DEFAULT_CONNECTION_CONFIG.makeSignalRepository({ creds, keys });
  const jids = deviceJids(count);
  await keys.transaction(async () => {
    const { senderKeyDistributionMessage } = await repository.encryptGroupMessage({
      group: 'status@broadcast',
      meId: ME,
      data: Buffer.from('status'),
    });
    const skdm = Buffer.concat([Buffer.from(senderKeyDistributionMessage), Buffer.alloc(16)]);
    for (const jid of jids) {
      await repository.injectE2ESession({ jid, session: preKeyBundle() });
      await repository.encryptMessage({ jid, data: skdm });
    }
    await keys.set({ 'sender-key-memory': { 'status@broadcast': Object.fromEntries(jids.map((j) => [j, true])) } });
  });
  if (!committed) throw new Error('the relay committed nothing');
  return committed;
}

/** What the server answers for one device in assertSessions' `encrypt` query. */
function preKeyBundle() {
  const identity = baileys.Curve.generateKeyPair();
  const signed = baileys.signedKeyPair(identity, 1);
  const preKey = baileys.Curve.generateKeyPair();
  return {
    registrationId: baileys.generateRegistrationId(),
    identityKey: baileys.generateSignalPubKey(identity.public),
    signedPreKey: { keyId: 1, publicKey: baileys.generateSignalPubKey(signed.keyPair.public), signature: signed.signature },
    preKey: { keyId: 7, publicKey: baileys.generateSignalPubKey(preKey.public) },
  };
}

/** auth-state.ts's writes before batching: a keyv.set per key, all at once. */
async function perKey(keyv: Keyv, data: SignalDataSet): Promise<number> {
  const started = performance.now();
  const writes: Promise<unknown>[] = [];
  for (const [type, byId] of Object.entries(data)) {
    for (const [id, value] of Object.entries(byId ?? {}))
      writes.push(keyv.set(`m:${type}-${id}`, JSON.stringify(value, baileys.BufferJSON.replacer)));
  }
  const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return performance.now() - started;
}

/** auth-state.ts's writes now: one commit. Timed from the outside, encoding included, as perKey is. */
async function batched(keyv: Keyv, data: SignalDataSet): Promise<number> {
  const auth = await createKeyvAuthState(keyv, 'm', { logger: silentLogger });
  const commits: KeyCommit[] = [];
  auth.onCommit((c) => commits.push(c));
  const started = performance.now();
  await auth.state.keys.set(data);
  const ms = performance.now() - started;
  if (commits.length !== 1 || !commits[0]!.ok) throw new Error(`expected one good commit, got ${JSON.stringify(commits)}`);
  return ms;
}

interface Row {
  store: string;
  writes: string;
  insertMs: number[];
  updateMs: number[];
}

async function measure(store: string, fresh: () => Promise<Keyv>, data: SignalDataSet): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [writes, write] of [
    ['per key (before)', perKey],
    ['batched (after)', batched],
  ] as const) {
    const row: Row = { store, writes, insertMs: [], updateMs: [] };
    for (let i = 0; i < runs; i++) {
      const keyv = await fresh();
      await keyv.get('warm-up'); // a connected client, as a running server has
      row.insertMs.push(await write(keyv, data));
      row.updateMs.push(await write(keyv, data));
      await keyv.clear();
      await keyv.disconnect();
    }
    rows.push(row);
  }
  return rows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${Math.round(median(xs))} ms (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;

const generating = performance.now();
const data = await relayCommit(devices);
const keyCount = Object.values(data).reduce((n, byId) => n + Object.keys(byId ?? {}).length, 0);
const bytes = Object.values(data).reduce(
  (n, byId) => n + Object.values(byId ?? {}).reduce((m, v) => m + JSON.stringify(v, baileys.BufferJSON.replacer).length, 0),
  0,
);
const sessionBytes = Object.values(data.session ?? {}).map((v) => JSON.stringify(v, baileys.BufferJSON.replacer).length);
console.error(
  `relay to ${devices} new devices: ${keyCount} keys, ${(bytes / 1e6).toFixed(1)} MB, made in ${Math.round(performance.now() - generating)} ms`,
);

const dir = await mkdtemp(join(tmpdir(), 'storycast-key-commit-'));
let file = 0;
const redis = args.redis ? undefined : await startRedis();
const redisUrl = args.redis ?? redis!.url;
let db = 0;
try {
  const rows = [
    ...(await measure(
      'sqlite (file)',
      async () => createKeyv(`sqlite://${join(dir, `run-${file++}.sqlite`)}`, { namespace: NAMESPACE, logger: silentLogger }),
      data,
    )),
    ...(await measure(
      'redis',
      async () => createKeyv(redisUrl, { namespace: `${NAMESPACE}-${process.pid}-${db++}`, logger: silentLogger }),
      data,
    )),
  ];
  console.log(
    `\nOne status relay to ${devices} new devices: ${keyCount} keys (${data.session ? Object.keys(data.session).length : 0} sessions of ${Math.min(...sessionBytes)}-${Math.max(...sessionBytes)} bytes, the sender key, the sender-key memory), ${(bytes / 1e6).toFixed(1)} MB; median of ${runs} (min-max)\n`,
  );
  console.log('| store | writes | first commit (insert) | same keys again (update) |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.store} | ${r.writes} | ${fmt(r.insertMs)} | ${fmt(r.updateMs)} |`);
  console.log(JSON.stringify({ devices, keys: keyCount, bytes, runs, node: process.version, rows }));
} finally {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
}
