/**
 * Wires a running storycast from its config: strategies, session memory,
 * transport and its session directory, receipts and the engine. The gRPC
 * server, the CLI demo and the tests all start from here, so they run the
 * same parts.
 */
import { BaileysSessions } from './transport/baileys/sessions.js';
import { baileysSocketFactory } from './transport/baileys/socket-factory.js';
import { BaileysTransport } from './transport/baileys/transport.js';
import { ScaledClock, systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { SendEngine } from './engine/engine.js';
import type { Logger } from './log.js';
import { createSessionMemory } from './memory/keyv-memory.js';
import { createKeyv } from './memory/store.js';
import type { SessionMemory } from './memory/types.js';
import { createReceiptBook, type ReceiptBook } from './receipts/book.js';
import { withStatusReceipts } from './receipts/baileys.js';
import { withReceipts } from './receipts/transport.js';
import { SimulatedSessions } from './transport/sim/sessions.js';
import type { SessionDirectory } from './transport/sessions.js';
import { SimulatedNetwork } from './transport/sim/network.js';
import { DEFAULT_ADDRESS_BOOK, loadProfile } from './transport/sim/profile.js';
import { loadStrategies, type StrategyRegistry } from './strategy-registry.js';
import type { Transport } from './transport/port.js';
import { redactUrl } from './util/redact-url.js';
import { createSendStore } from './sends/open-store.js';
import type { SendStore } from './sends/store.js';
import { createExperimentStore } from './experiments/open-store.js';
import { createRecipientListStore } from './audiences/open-lists.js';
import { withContactSync } from './audiences/baileys.js';
import { ContactBook, type ContactSink } from './audiences/contacts.js';
import type { RecipientListStore } from './audiences/lists.js';
import { createScheduleStore } from './schedules/open-store.js';
import type { ScheduleStore } from './schedules/store.js';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { SessionLeases } from './replicas/leases.js';
import { SessionOwnership } from './replicas/ownership.js';
import { ReplicaDirectory } from './replicas/directory.js';
import { Presence } from './replicas/presence.js';
import { SessionRouter } from './replicas/router.js';
import { RedisConnection } from './store/redis-connection.js';
import { storeLocation } from './store/store-url.js';
import type { ExperimentStore } from './experiments/store.js';

/** A start-up problem worth a one-line message (not a stack trace). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface Runtime {
  readonly config: Config;
  readonly strategies: StrategyRegistry;
  readonly memory: SessionMemory;
  /** Delivery and read receipts per status; the engine sends through a decorator that tells it who each call reached. */
  readonly receipts: ReceiptBook;
  /** The transport itself, undecorated. */
  readonly transport: Transport;
  readonly sessions: SessionDirectory;
  readonly engine: SendEngine;
  /** The send journal, in the same store as session memory. */
  readonly sendStore: SendStore;
  /** Experiments, their sticky assignments and their sends' outcomes, in the same store. */
  readonly experiments: ExperimentStore;
  /** Saved recipient lists, in the same store. */
  readonly lists: RecipientListStore;
  /** Sends accepted to start later, once or repeating, in the same store. */
  readonly schedules: ScheduleStore;
  /** Each session's contacts as its transport synced them, in the same store. */
  readonly contacts: ContactBook;
  /** With a redis store: this replica among the others (leases, the directory, routing); undefined for one process. */
  readonly replicas: Replicas | undefined;
  /** The clock the engine and transport run on (scaled for the simulator). */
  readonly clock: Clock;
  close(): Promise<void>;
}

export async function createRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const { server, smartSend } = config;
  const strategies = await loadStrategies(server.strategyModules, server.defaultStrategy);
  let sendStore: SendStore;
  let experiments: ExperimentStore;
  let lists: RecipientListStore;
  let schedules: ScheduleStore;
  try {
    sendStore = createSendStore(server.store, { logger });
    experiments = createExperimentStore(server.store, { logger });
    lists = createRecipientListStore(server.store, { logger });
    schedules = createScheduleStore(server.store, { logger });
  } catch (error) {
    throw new StartupError(
      `STORYCAST_STORE="${redactUrl(server.store)}": the send journal, the experiments, the recipient lists or the schedules cannot be opened: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const contactsKeyv = createKeyv(server.store, { namespace: 'storycast:contacts', logger });
  const contacts = new ContactBook(contactsKeyv);
  // Real time, as memory: a status's receipts live 24 hours whatever the simulation's speed.
  const receipts = createReceiptBook({ url: server.store, clock: systemClock, logger });
  const replicas = storeLocation(server.store, 'store').kind === 'redis' ? replicaParts(config, logger) : undefined;
  const wired = await (server.transport === 'baileys'
    ? baileysParts(config, logger, receipts, personalData(contacts, lists, schedules), replicas?.replicas)
    : simulatedParts(config, receipts, personalData(contacts, lists, schedules), logger)
  ).catch(async (error: unknown) => {
    await contactsKeyv.disconnect();
    await receipts.close();
    await sendStore.close();
    await experiments.close();
    await lists.close();
    await schedules.close();
    await replicas?.close();
    throw error;
  });
  const { transport, sessions, clock } = wired;
  const memory = createSessionMemory({
    url: server.store,
    enabled: smartSend.enableSessionLearning,
    ttlMs: smartSend.sessionMemoryTTL,
    clock: systemClock,
    logger,
  });
  const engine = new SendEngine({
    transport: withReceipts(transport, receipts, logger),
    clock,
    memory,
    config: smartSend,
    logger,
    maxRecipients: server.maxRecipients,
    checkRecipients: server.checkRecipients,
  });
  logger.info(
    { transport: server.transport, ...wired.details, store: redactUrl(server.store), strategies: strategies.list().map((s) => s.name) },
    'storycast ready',
  );
  return {
    config,
    strategies,
    memory,
    receipts,
    transport,
    sessions,
    engine,
    sendStore,
    experiments,
    lists,
    schedules,
    contacts,
    replicas: replicas?.replicas,
    clock,
    close: async () => {
      await wired.close();
      await receipts.close();
      await memory.close();
      await sendStore.close();
      await experiments.close();
      await lists.close();
      await schedules.close();
      await contactsKeyv.disconnect();
      await replicas?.close();
    },
  };
}

/** This replica's part in a group sharing one redis. */
export interface Replicas {
  /** Unique among the replicas: the lease holder's name and the directory's key. */
  readonly id: string;
  /** The sessions this replica owns (leases with fencing tokens). */
  readonly ownership: SessionOwnership;
  /** Where a call for a session is served. */
  readonly router: SessionRouter;
  /** Who holds which session's lease. */
  readonly leases: Pick<SessionLeases, 'holder'>;
  /** The live replicas. */
  readonly directory: Pick<ReplicaDirectory, 'live'>;
  /** This replica's entry in the directory, announced once it listens. */
  readonly presence: Presence;
}

/**
 * Replicas on one Redis: a session is sent for only where its lease is held.
 * The ownership starts renewing when the handler starts it; the leases are
 * released by its stop() on a graceful shutdown.
 */
function replicaParts(config: Config, logger: Logger): { replicas: Replicas; close(): Promise<void> } {
  const { server } = config;
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const connection = new RedisConnection({ url: server.store, logger, label: 'replicas' });
  const leases = new SessionLeases(connection, { replicaId: id, ttlMs: server.leaseTtlMs });
  const ownership = new SessionOwnership({ leases, renewEveryMs: Math.max(100, Math.floor(server.leaseTtlMs / 3)), logger });
  const directory = new ReplicaDirectory(connection, { ttlMs: server.leaseTtlMs });
  const router = new SessionRouter({
    replicaId: id,
    owns: (sessionId) => ownership.owns(sessionId),
    load: () => ownership.sessions.length,
    claim: async (sessionId) => (await ownership.claim(sessionId)) !== undefined,
    holder: (sessionId) => leases.holder(sessionId),
    directory,
    // A dead owner's lease runs out within the TTL; the margin covers the next owner taking over.
    patienceMs: server.leaseTtlMs + ROUTING_MARGIN_MS,
  });
  const presence = new Presence({ replicaId: id, directory, sessions: () => ownership.sessions.length, ttlMs: server.leaseTtlMs, logger });
  return { replicas: { id, ownership, router, presence, leases, directory }, close: () => connection.close() };
}

/** How long past a lease TTL a call waits for a session's new owner. */
const ROUTING_MARGIN_MS = 5000;

/** What differs between the simulator and real WhatsApp. */
interface Parts {
  readonly transport: Transport;
  readonly sessions: SessionDirectory;
  readonly clock: Clock;
  readonly details: object;
  close(): Promise<void>;
}

/**
 * What a transport tells of a session's contacts, and what its logout deletes:
 * the contacts, the saved lists and the schedules (whose requests name
 * recipients), however the session was logged out (the API's LogoutSession
 * does the same itself).
 */
function personalData(contacts: ContactBook, lists: RecipientListStore, schedules: ScheduleStore): ContactSink {
  return {
    update: (sessionId, found, options) => contacts.update(sessionId, found, options),
    forget: async (sessionId) => {
      await Promise.all([contacts.forget(sessionId), lists.deleteSession(sessionId), schedules.deleteSession(sessionId)]);
    },
  };
}

async function simulatedParts(config: Config, receipts: ReceiptBook, contacts: ContactSink, logger: Logger): Promise<Parts> {
  const { server } = config;
  const profile = await loadProfile(server.simProfile).catch((error: Error) => {
    throw new StartupError(`STORYCAST_SIM_PROFILE="${server.simProfile}": ${error.message}`, { cause: error });
  });
  // The network and the engine share the simulation's clock; memory keeps real
  // time, so a TTL of 24 hours means 24 hours whatever the simulation's speed.
  const clock = new ScaledClock(server.simTimeScale);
  const network = new SimulatedNetwork({
    profile,
    clock,
    seed: server.simSeed,
    maxMediaBytes: server.maxMediaBytes,
    ...(server.simCallLog === undefined ? {} : { callLog: server.simCallLog }),
    // Stamped when heard, in real time like the book: at STORYCAST_SIM_TIME_SCALE=50 the
    // simulation's own clock runs ahead of the status's creation and expiry times.
    onReceipt: (r) =>
      receipts.receipt(
        r.sessionId,
        r.messageId,
        r.recipient,
        r.readAt === undefined ? { deliveredAt: Date.now() } : { readAt: Date.now() },
      ),
  });
  const sessions = new SimulatedSessions(network.controls, {
    sink: contacts,
    size: profile.addressBook ?? DEFAULT_ADDRESS_BOOK,
    onError: (error, sessionId) => logger.warn({ err: error, sessionId }, 'could not store the simulated address book'),
  });
  const close = async () => {
    network.close();
    await sessions.close();
  };
  return { transport: network, sessions, clock, details: { profile: profile.name, timeScale: server.simTimeScale }, close };
}

/**
 * Real WhatsApp: sockets per session, their credentials in the same store as
 * session memory. With replicas, a session's socket runs only where its lease
 * is, and its auth writes carry the lease's fence: sessions come up as this
 * replica claims them, not all at start.
 */
async function baileysParts(
  config: Config,
  logger: Logger,
  receipts: ReceiptBook,
  contacts: ContactSink,
  replicas: Replicas | undefined,
): Promise<Parts> {
  const keyv = createKeyv(config.server.store, { namespace: 'storycast:baileys-auth', logger });
  // The transport answers the sockets' retry requests from the statuses it sent; sockets are made later, on connect.
  let transport: BaileysTransport | undefined;
  const makeSocket = withContactSync(
    withStatusReceipts(
      baileysSocketFactory(async (key) => transport?.getMessage(key)),
      receipts,
    ),
    contacts,
    logger,
  );
  const ownership = replicas?.ownership;
  const sessions = new BaileysSessions({ keyv, logger, makeSocket, ...(ownership ? { fence: (id: string) => ownership.fence(id) } : {}) });
  transport = new BaileysTransport({ sockets: sessions.sockets, logger, media: { maxBytes: config.server.maxMediaBytes } });
  const restored = replicas ? [] : await sessions.restore();
  return {
    transport,
    sessions,
    clock: systemClock,
    details: { restoredSessions: restored.length },
    close: async () => {
      await sessions.close();
      await keyv.disconnect();
    },
  };
}
