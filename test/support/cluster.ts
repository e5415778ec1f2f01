/**
 * Several storycast replicas as separate `npm start` processes on one real
 * redis-server, for tests and measurements that kill them: each replica is a
 * slot that can be SIGKILLed or SIGTERMed and started again (a new process,
 * a new port, a new replica id), with a client that always speaks to its
 * current process. The simulated network of every process appends to one
 * call log, the evidence for "one sender per session at a time".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { StoryService } from '../../src/gen/storycast/v1/story_service_pb.js';
import { overlappingCalls, readCallLog, type CallInterval, type CallOverlap } from '../../src/transport/sim/call-log.js';
import { startRedis, type RedisServer } from './redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One JSON line a replica logged, with the process that logged it and when the harness read it. */
export interface LogLine {
  readonly msg?: string;
  readonly pid: number;
  readonly seenAt: number;
  readonly [field: string]: unknown;
}

export interface ClusterOptions {
  readonly replicas: number;
  /** Undefined: the server's own default, so a measurement sees what production does. */
  readonly leaseTtlMs?: number | undefined;
  /** Real time x this on the slow first-send ramp; 20 makes a 6,000-recipient send last seconds. */
  readonly timeScale?: number;
  readonly env?: Readonly<Record<string, string>>;
}

interface Incarnation {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly id: string;
  readonly manager: Http2SessionManager;
  readonly stories: Client<typeof StoryService>;
  readonly exited: Promise<Exit>;
  /** Set when the harness signalled it: an exit without it is a crash. */
  signalled?: NodeJS.Signals;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Replica {
  /** r0, r1, ...: the slot, which outlives its processes. */
  readonly name: string;
  /** Every line each of this slot's processes logged, in order. */
  readonly log: readonly LogLine[];
  /** Up, announced, and not signalled: a place a client may call. */
  readonly live: boolean;
  /** The current (or last) process's pid, replica id and URL. */
  readonly pid: number;
  readonly id: string;
  readonly url: string;
  /** A client of the current process; its connection is torn down when that process exits. */
  readonly stories: Client<typeof StoryService>;
  /** Signals the process group and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<Exit>;
  /** A new process in this slot, once the last one has exited; resolves when it is announced. */
  restart(): Promise<void>;
}

export interface Cluster {
  readonly redis: RedisServer;
  readonly replicas: readonly Replica[];
  /** The shared call log file (STORYCAST_SIM_CALL_LOG). */
  readonly callLog: string;
  readonly leaseTtlMs: number | undefined;
  /**
   * When each process stopped being able to send, per pid: the SIGKILL's time
   * (the kernel stops it there), or a SIGTERMed process's exit (it may send
   * while it drains).
   */
  readonly killedAt: ReadonlyMap<number, number>;
  /** The signal the harness sent each pid it stopped: its calls failing then are expected. */
  readonly signalled: ReadonlyMap<number, NodeJS.Signals>;
  live(): Replica[];
  /** The slot whose current or any earlier process had this pid. */
  byPid(pid: number): Replica | undefined;
  /** Every transport call each process made, by session. */
  calls(): Promise<Map<string, CallInterval[]>>;
  /** Calls for one session by two processes in flight at once: must be none. */
  overlaps(): Promise<CallOverlap[]>;
  /** Processes that exited without the harness signalling them. */
  readonly crashes: readonly { readonly name: string; readonly pid: number; readonly exit: Exit }[];
  close(): Promise<void>;
}

const ANNOUNCED = 'replica announced: calls for its sessions are forwarded here';
const START_TIMEOUT_MS = 30_000;
const TERM_TIMEOUT_MS = 10_000;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-cluster-'));
  const callLog = join(dir, 'calls.jsonl');
  const redis = await startRedis();
  const killedAt = new Map<number, number>();
  const signalled = new Map<number, NodeJS.Signals>();
  const pids = new Map<number, Replica>();
  const crashes: { name: string; pid: number; exit: Exit }[] = [];
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    STORYCAST_HOST: '127.0.0.1',
    STORYCAST_PORT: '0',
    STORYCAST_METRICS_PORT: '0',
    STORYCAST_STORE: redis.url,
    STORYCAST_SIM_PROFILE: 'seed-first-send',
    STORYCAST_SIM_TIME_SCALE: String(options.timeScale ?? 20),
    STORYCAST_SIM_CALL_LOG: callLog,
    STORYCAST_LOG_LEVEL: 'info',
    // A SIGTERMed replica checkpoints its CONTINUE sends at once instead of holding them for the default 20 s.
    STORYCAST_SHUTDOWN_GRACE_MS: '500',
    ...options.env,
  };
  // Whatever the calling shell exports, the default TTL means the server's default.
  delete env['STORYCAST_LEASE_TTL_MS'];
  delete env['STORYCAST_ADVERTISE_ADDRESS'];
  if (options.leaseTtlMs !== undefined) env['STORYCAST_LEASE_TTL_MS'] = String(options.leaseTtlMs);

  const slot = (name: string): Replica & { begin(): Promise<void> } => {
    const log: LogLine[] = [];
    let current: Incarnation | undefined;
    const now = () => {
      if (!current) throw new Error(`${name} has not started`);
      return current;
    };
    const replica = {
      name,
      log,
      get live() {
        return current !== undefined && current.child.exitCode === null && current.child.signalCode === null && !current.signalled;
      },
      get pid() {
        return now().pid;
      },
      get id() {
        return now().id;
      },
      get url() {
        return now().url;
      },
      get stories() {
        return now().stories;
      },
      async kill(signal: NodeJS.Signals) {
        const it = now();
        if (it.child.exitCode !== null || it.child.signalCode !== null) return it.exited;
        it.signalled = signal;
        signalled.set(it.pid, signal);
        if (signal === 'SIGKILL') killedAt.set(it.pid, Date.now());
        try {
          process.kill(-it.pid, signal);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
        return it.exited;
      },
      async restart() {
        if (current && current.child.exitCode === null && current.child.signalCode === null) {
          throw new Error(`${name} (pid ${current.pid}) is still running`);
        }
        await replica.begin();
      },
      async begin() {
        current = await spawnReplica(name, env, log, (incarnation, exit) => {
          // A SIGTERMed process sends while it drains: it is done only once it has gone.
          if (!killedAt.has(incarnation.pid)) killedAt.set(incarnation.pid, Date.now());
          if (!incarnation.signalled) crashes.push({ name, pid: incarnation.pid, exit });
        });
        pids.set(current.pid, replica);
      },
    };
    return replica;
  };

  const replicas = Array.from({ length: options.replicas }, (_, i) => slot(`r${i}`));
  const close = async () => {
    await Promise.all(
      replicas.map(async (r) => {
        if (!r.live) return;
        const exited = r.kill('SIGTERM');
        const late = setTimeout(() => void r.kill('SIGKILL'), TERM_TIMEOUT_MS);
        await exited;
        clearTimeout(late);
      }),
    );
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(replicas.map((r) => r.begin()));
  } catch (error) {
    await close();
    throw error;
  }
  const calls = () => readCallLog(callLog);
  return {
    redis,
    replicas,
    callLog,
    leaseTtlMs: options.leaseTtlMs,
    killedAt,
    signalled,
    crashes,
    live: () => replicas.filter((r) => r.live),
    byPid: (pid) => pids.get(pid),
    calls,
    overlaps: async () => overlappingCalls([...(await calls()).values()].flat(), killedAt),
    close,
  };
}

/** `npm start` (tsx src/main.ts) as node itself, leading its own process group: the pid signalled is the pid in the call log. */
async function spawnReplica(
  name: string,
  env: Record<string, string>,
  log: LogLine[],
  onExit: (incarnation: Incarnation, exit: Exit) => void,
): Promise<Incarnation> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    detached: true,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} could not be started`);
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const started = new Promise<{ url: string; id: string }>((resolve, reject) => {
    let url: string | undefined;
    createInterface({ input: child.stdout! }).on('line', (raw) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        entry = { raw };
      }
      log.push({ ...entry, pid, seenAt: Date.now() });
      if (entry['msg'] === 'storycast listening') url = String(entry['url']);
      if (entry['msg'] === ANNOUNCED && url !== undefined) resolve({ url, id: String(entry['replica']) });
    });
    void exited.then((exit) =>
      reject(new Error(`${name} (pid ${pid}) exited (${exit.code ?? exit.signal}) before it was announced:\n${stderr.join('\n')}`)),
    );
  });
  const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), START_TIMEOUT_MS);
  let announced: { url: string; id: string };
  try {
    announced = await started;
  } finally {
    clearTimeout(timer);
  }
  // Its own connection, so a dead replica's streams fail at once rather than waiting on a shared one.
  const manager = new Http2SessionManager(announced.url);
  const incarnation: Incarnation = {
    child,
    pid,
    url: announced.url,
    id: announced.id,
    manager,
    stories: createClient(StoryService, createGrpcTransport({ baseUrl: announced.url, sessionManager: manager })),
    exited,
  };
  void exited.then((exit) => {
    manager.abort();
    onExit(incarnation, exit);
  });
  return incarnation;
}

/** The replica whose process made the last transport call for the session: the one sending for it. */
export async function lastSender(cluster: Cluster, sessionId: string): Promise<Replica | undefined> {
  const calls = (await cluster.calls()).get(sessionId) ?? [];
  const last = calls.reduce<CallInterval | undefined>((a, c) => (a === undefined || c.start >= a.start ? c : a), undefined);
  return last && cluster.byPid(last.pid);
}

/** Where and from which event a replica resumed the send from the journal (a failover), if one has. */
export function resumedBy(cluster: Cluster, sendId: string): { replica: Replica; line: LogLine; events: number } | undefined {
  for (const replica of cluster.replicas) {
    const line = replica.log.find((l) => l.msg === 'resuming a send from its journal' && l['sendId'] === sendId);
    if (line) return { replica, line, events: Number(line['events']) };
  }
  return undefined;
}
