/**
 * `npm start`'s server as the load benchmark runs it: its own process (node
 * --import tsx src/main.ts, as test/support/cluster.ts starts replicas), on
 * port 0, the simulated network writing its call log, and what the benchmark
 * reads of it from /proc: CPU (every thread: V8's GC helpers and libuv's pool
 * work for the server too) and resident memory, with the peak reset after the
 * warm-up so it covers the measured round only. Logs go to a file: a pipe the
 * benchmark had to drain would make the server wait on the client's event loop.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
/** Clock ticks per second, the unit of /proc's CPU times. */
export const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface ServerOptions {
  /** A fresh directory: the SQLite file, the call log, the server's log and any CPU profile go here. */
  readonly dir: string;
  readonly store: 'sqlite' | 'memory';
  /** STORYCAST_SIM_PROFILE: a built-in name or a JSON file. */
  readonly profile: string;
  /** Write a V8 CPU profile of the server into `dir` (node --cpu-prof), read once it has exited. */
  readonly cpuProfile: boolean;
}

export interface LoadServer {
  readonly pid: number;
  readonly url: string;
  readonly callLog: string;
  /** Date.now() when the process was spawned: about when a CPU profile of it starts. */
  readonly spawnedAt: number;
  /** User + system CPU of the whole process so far, in seconds (clock ticks: 10 ms steps). */
  cpuSeconds(): number;
  /** Resident set now, and its peak since start or the last resetPeak(), in bytes. */
  memory(): { rss: number; peak: number };
  /** Starts the peak over from the current resident set (Linux clear_refs). */
  resetPeak(): void;
  /** SIGTERM, as a supervisor stops it; resolves with the CPU profile's path when one was asked for. */
  stop(): Promise<string | undefined>;
}

/**
 * The server's environment: the caller's, so a setting can be varied on purpose
 * (SMART_SEND_MAX_BATCHES_PER_SECOND=4 npm run load), with where it listens,
 * stores and logs its calls fixed by the benchmark.
 */
export function serverEnv(options: Pick<ServerOptions, 'dir' | 'store' | 'profile'>): Record<string, string> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    ...inherited,
    STORYCAST_HOST: '127.0.0.1',
    STORYCAST_PORT: '0',
    STORYCAST_METRICS_PORT: '0',
    STORYCAST_STORE: options.store === 'sqlite' ? `sqlite://${join(options.dir, 'storycast.sqlite')}` : 'memory://',
    STORYCAST_SIM_PROFILE: options.profile,
    STORYCAST_SIM_CALL_LOG: join(options.dir, 'calls.jsonl'),
  };
}

export async function startLoadServer(options: ServerOptions): Promise<LoadServer> {
  const logFile = join(options.dir, 'server.log');
  const out = openSync(logFile, 'w');
  const args = [...(options.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${options.dir}`] : []), '--import', 'tsx', 'src/main.ts'];
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, args, { cwd: root, env: serverEnv(options), stdio: ['ignore', out, out] });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server could not be started');
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => (exited = true));

  const url = await listening(logFile, () => exited);
  const stat = (name: string) => readFileSync(`/proc/${pid}/${name}`, 'utf8');
  const kib = (status: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return {
    pid,
    url,
    spawnedAt,
    callLog: join(options.dir, 'calls.jsonl'),
    cpuSeconds: () => {
      // Fields after the command name, which may itself hold spaces and parentheses: utime and stime are the 12th and 13th.
      const fields = stat('stat')
        .slice(stat('stat').lastIndexOf(')') + 2)
        .split(' ');
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    },
    memory: () => {
      const status = stat('status');
      return { rss: kib(status, 'VmRSS'), peak: kib(status, 'VmHWM') };
    },
    resetPeak: () => writeFileSync(`/proc/${pid}/clear_refs`, '5'),
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const late = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(late);
      if (!options.cpuProfile) return undefined;
      // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main one (tsx's loader has a thread too).
      const profile = readdirSync(options.dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
      return profile && join(options.dir, profile);
    },
  };
}

/** The URL from the server's "storycast listening" line; throws with its log when it exits or takes too long. */
async function listening(logFile: string, exited: () => boolean): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const log = readFileSync(logFile, 'utf8');
    for (const line of log.split('\n')) {
      if (!line.includes('"storycast listening"')) continue;
      return String((JSON.parse(line) as { url: unknown }).url);
    }
    if (exited() || Date.now() > deadline) throw new Error(`the server did not start listening:\n${log}`);
    await sleep(50);
  }
}
