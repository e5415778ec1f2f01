/**
 * Configuration from the environment. Every variable has a default, so the
 * server runs with none set; a value that is set but does not parse or is out
 * of range stops start-up with one message naming each bad variable and value
 * (the seed's parseInt would have turned "2s" into NaN and carried on).
 */
import type { ScalingConfig } from '../strategies/sdk.js';
import { DEFAULT_MAX_MEDIA_BYTES } from './media/limits.js';

/** The seed's SmartSendConfig, made whole. */
export interface SmartSendConfig extends ScalingConfig {
  readonly enableSessionLearning: boolean;
  /** ms (the variable is in hours, as in the seed). */
  readonly sessionMemoryTTL: number;
  readonly minRecipientsForSmartSend: number;
  readonly maxAttempts: number;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly store: string;
  readonly transport: 'simulated' | 'baileys';
  readonly simProfile: string;
  readonly simTimeScale: number;
  readonly simSeed: number;
  readonly defaultStrategy: string;
  readonly strategyModules: readonly string[];
  readonly logLevel: string;
  readonly maxRecipients: number;
  /** PEM files; both set = TLS (HTTP/2 with HTTP/1.1 fallback), neither = HTTP/2 cleartext. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** How long running sends get to finish on SIGTERM before they are cancelled. */
  readonly shutdownGraceMs: number;
  /** Check that recipients are on WhatsApp before sending (transports that can tell). */
  readonly checkRecipients: boolean;
  /** Largest story media accepted, inline or fetched from its URL. */
  readonly maxMediaBytes: number;
}

export interface Config {
  readonly smartSend: SmartSendConfig;
  readonly server: ServerConfig;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable; `undefined` when unset or blank (as docker-compose leaves them). */
function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private bad(name: string, value: string, expected: string): void {
    this.problems.push(`${name}=${JSON.stringify(value)}: expected ${expected}`);
  }

  /** A finite number in [min, max]; `integer` rejects fractions instead of truncating them. */
  number(name: string, fallback: number, opts: { min: number; max?: number; integer?: boolean; minExclusive?: boolean }): number {
    const value = raw(this.env, name);
    if (value === undefined) return fallback;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const kind = opts.integer ? 'an integer' : 'a number';
    const range = `${opts.minExclusive ? '>' : '>='} ${opts.min}${opts.max !== undefined ? ` and <= ${opts.max}` : ''}`;
    const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) ? Number(value) : Number.NaN;
    const inRange = opts.minExclusive ? n > opts.min : n >= opts.min;
    if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || !inRange || n > max) {
      this.bad(name, value, `${kind} ${range}`);
      return fallback;
    }
    return n;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = raw(this.env, name);
    if (value === undefined) return fallback;
    const v = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    this.bad(name, value, 'true or false');
    return fallback;
  }

  string(name: string, fallback: string): string {
    return raw(this.env, name) ?? fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = raw(this.env, name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.bad(name, value, `one of ${allowed.join(', ')}`);
    return fallback;
  }

  list(name: string, fallback: readonly string[]): readonly string[] {
    const value = raw(this.env, name);
    if (value === undefined) return fallback;
    return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  /** A comma list of positive integers, strictly increasing. */
  sequence(name: string, fallback: readonly number[]): readonly number[] {
    const value = raw(this.env, name);
    if (value === undefined) return fallback;
    const parts = value.split(',').map((s) => s.trim());
    const numbers = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
    const ok =
      numbers.length > 0 &&
      numbers.every((n) => Number.isSafeInteger(n) && n >= 1) &&
      numbers.every((n, i) => i === 0 || n > numbers[i - 1]!);
    if (!ok) {
      this.bad(name, value, 'a comma-separated, strictly increasing list of positive integers');
      return fallback;
    }
    return numbers;
  }
}

export const DEFAULT_SEQUENCE: readonly number[] = [100, 500, 1000, 2000, 4000, 5000];

export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  const fastBatchThresholdMs = r.number('SMART_SEND_FAST_THRESHOLD_MS', 2000, { min: 0, integer: true });
  const slowBatchThresholdMs = r.number('SMART_SEND_SLOW_THRESHOLD_MS', 10_000, { min: 0, integer: true });
  const minSuccessRate = r.number('SMART_SEND_MIN_SUCCESS_RATE', 0.95, { min: 0, max: 1 });
  const enableSessionLearning = r.boolean('SMART_SEND_ENABLE_LEARNING', true);
  const ttlHours = r.number('SMART_SEND_MEMORY_TTL_HOURS', 24, { min: 0, minExclusive: true, max: 24 * 365 });
  const maxBatchSize = r.number('SMART_SEND_MAX_BATCH_SIZE', 10_000, { min: 1, integer: true });
  const sequence = r.sequence('SMART_SEND_PROGRESSIVE_SEQUENCE', DEFAULT_SEQUENCE);
  const minRecipientsForSmartSend = r.number('SMART_SEND_MIN_RECIPIENTS', 100, { min: 1, integer: true });
  const maxBatchesPerSecond = r.number('SMART_SEND_MAX_BATCHES_PER_SECOND', 2, { min: 0, minExclusive: true, max: 1000 });
  const batchTimeoutMs = r.number('SMART_SEND_BATCH_TIMEOUT_MS', 15_000, { min: 1, integer: true });
  const maxAttempts = r.number('SMART_SEND_MAX_ATTEMPTS', 3, { min: 1, max: 100, integer: true });

  if (slowBatchThresholdMs <= fastBatchThresholdMs) {
    r.problems.push(
      `SMART_SEND_SLOW_THRESHOLD_MS=${JSON.stringify(String(slowBatchThresholdMs))}: expected more than SMART_SEND_FAST_THRESHOLD_MS=${JSON.stringify(String(fastBatchThresholdMs))}`,
    );
  }

  const server: ServerConfig = {
    host: r.string('STORYCAST_HOST', '127.0.0.1'),
    port: r.number('STORYCAST_PORT', 50051, { min: 0, max: 65535, integer: true }),
    store: r.string('STORYCAST_STORE', 'sqlite://./data/storycast.sqlite'),
    transport: r.oneOf('STORYCAST_TRANSPORT', 'simulated', ['simulated', 'baileys'] as const),
    simProfile: r.string('STORYCAST_SIM_PROFILE', 'realistic'),
    simTimeScale: r.number('STORYCAST_SIM_TIME_SCALE', 1, { min: 0, minExclusive: true, max: 1_000_000 }),
    simSeed: r.number('STORYCAST_SIM_SEED', 1, { min: 0, integer: true }),
    defaultStrategy: r.string('STORYCAST_DEFAULT_STRATEGY', 'adaptive'),
    strategyModules: r.list('STORYCAST_STRATEGY_MODULES', []),
    logLevel: r.oneOf('STORYCAST_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    maxRecipients: r.number('STORYCAST_MAX_RECIPIENTS', 100_000, { min: 1, max: 10_000_000, integer: true }),
    tlsCert: raw(env, 'STORYCAST_TLS_CERT'),
    tlsKey: raw(env, 'STORYCAST_TLS_KEY'),
    shutdownGraceMs: r.number('STORYCAST_SHUTDOWN_GRACE_MS', 20_000, { min: 0, max: 3_600_000, integer: true }),
    checkRecipients: r.boolean('STORYCAST_CHECK_RECIPIENTS', true),
    // Up to 1 GiB: the whole body is held in memory while it is encrypted and uploaded.
    maxMediaBytes: r.number('STORYCAST_MAX_MEDIA_BYTES', DEFAULT_MAX_MEDIA_BYTES, { min: 1, max: 1024 * 1024 * 1024, integer: true }),
  };
  if ((server.tlsCert === undefined) !== (server.tlsKey === undefined)) {
    const [set, unset] = server.tlsCert === undefined ? ['STORYCAST_TLS_KEY', 'STORYCAST_TLS_CERT'] : ['STORYCAST_TLS_CERT', 'STORYCAST_TLS_KEY'];
    r.problems.push(`${set}=${JSON.stringify(raw(env, set))}: ${unset} must be set too (TLS needs both a certificate and a key)`);
  }

  if (!/^(sqlite|redis|rediss|memory):\/\//.test(server.store)) {
    r.problems.push(`STORYCAST_STORE=${JSON.stringify(server.store)}: expected sqlite://PATH, redis://HOST:PORT or memory://`);
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);

  return {
    smartSend: {
      fastBatchThresholdMs,
      slowBatchThresholdMs,
      minSuccessRate,
      enableSessionLearning,
      sessionMemoryTTL: ttlHours * 60 * 60 * 1000,
      progressiveSequence: capSequence(sequence, maxBatchSize),
      maxBatchSize,
      minRecipientsForSmartSend,
      maxBatchesPerSecond,
      batchTimeoutMs,
      maxAttempts,
    },
    server,
  };
}

/**
 * Levels above maxBatchSize are replaced by maxBatchSize itself, so lowering
 * the ceiling alone is enough and the sequence stays strictly increasing.
 */
export function capSequence(sequence: readonly number[], maxBatchSize: number): readonly number[] {
  const below = sequence.filter((n) => n < maxBatchSize);
  return below.length === sequence.length ? sequence : [...below, maxBatchSize];
}

/** The defaults, as a value (what tests and the simulator start from). */
export const defaultConfig: Config = loadConfig({});
