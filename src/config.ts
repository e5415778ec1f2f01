/**
 * Configuration from the environment, as one zod schema. Every variable has a
 * default, so the server runs with none set; a value that is set but does not
 * parse or is out of range stops start-up with one message naming each bad
 * variable and value (the seed's parseInt would have turned "2s" into NaN and
 * carried on).
 */
import { z } from 'zod';
import type { ScalingConfig } from '../strategies/sdk.js';
import { DEFAULT_MAX_MEDIA_BYTES } from './media/limits.js';
import { parseDuration } from './util/duration.js';

/** The seed's SmartSendConfig, made whole. */
export interface SmartSendConfig extends ScalingConfig {
  readonly enableSessionLearning: boolean;
  /** ms (the variable is in hours, as in the seed). */
  readonly sessionMemoryTTL: number;
  readonly minRecipientsForSmartSend: number;
  readonly maxAttempts: number;
}

interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly store: string;
  readonly transport: 'simulated' | 'baileys';
  readonly simProfile: string;
  readonly simTimeScale: number;
  readonly simSeed: number;
  /** A file the simulated network appends a line to as each send call starts and ends, shared by processes (multi-replica tests); unset: none. */
  readonly simCallLog: string | undefined;
  readonly defaultStrategy: string;
  /** An experiment's key, or '' for none: SendStory without a strategy or an experiment uses it. */
  readonly defaultExperiment: string;
  /** With a redis store: how long a session's lease lasts unrenewed before another replica may take it. */
  readonly leaseTtlMs: number;
  /** With a redis store: the URL other replicas forward this one's sessions to; unset: http://host:port as listened on. */
  readonly advertiseAddress: string | undefined;
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
  /** How long a finished send (its events, its request_id) is kept, in ms. */
  readonly sendRetentionMs: number;
  /** Prometheus /metrics on this port (on the same host); 0: none. */
  readonly metricsPort: number;
  /** The web console, with the API over Connect and gRPC-Web, on this HTTP/1.1 port (on the same host); 0: none. */
  readonly webPort: number;
  /** The API keys file (see src/auth); unset: every call is allowed, as before. */
  readonly apiKeysFile: string | undefined;
  /** With API keys: whether reflection needs a key too (health never does). */
  readonly authReflection: boolean;
  /** A PEM CA bundle: with TLS, clients may present a certificate it signed, which names their tenant. */
  readonly tlsClientCa: string | undefined;
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

const DEFAULT_SEQUENCE: readonly number[] = [100, 500, 1000, 2000, 4000, 5000];

/** Blank counts as unset, as docker-compose leaves variables it has no value for. */
function present(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function setting<T>(schema: z.ZodType<T, string>, fallback: T) {
  return z.preprocess(present, schema.optional()).transform((value) => value ?? fallback);
}

const optionalText = z.preprocess(present, z.string().optional());

// Number() alone would take "", "0x10" and "Infinity"; this is what people write as a decimal.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A finite number in range; `integer` rejects fractions instead of truncating them. */
function numeric(fallback: number, range: { min: number; max?: number; integer?: boolean; minExclusive?: boolean }) {
  const { min, max, integer, minExclusive } = range;
  const error = `expected ${integer ? 'an integer' : 'a number'} ${minExclusive ? '>' : '>='} ${min}${max !== undefined ? ` and <= ${max}` : ''}`;
  const kind = integer ? z.int({ error }) : z.number({ error });
  const bounded = (minExclusive ? kind.gt(min, { error }) : kind.gte(min, { error })).lte(max ?? Number.MAX_SAFE_INTEGER, { error });
  return setting(z.string().regex(DECIMAL, { error }).transform(Number).pipe(bounded), fallback);
}

function flag(fallback: boolean) {
  return setting(
    z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'], error: 'expected true or false' }),
    fallback,
  );
}

function oneOf<const T extends readonly [string, ...string[]]>(allowed: T, fallback: T[number]) {
  return setting(z.enum(allowed, { error: `expected one of ${allowed.join(', ')}` }), fallback);
}

function text(fallback: string) {
  return setting(z.string(), fallback);
}

function list(fallback: readonly string[]) {
  return setting<readonly string[]>(
    z.string().transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
    fallback,
  );
}

const SEQUENCE_ERROR = 'expected a comma-separated, strictly increasing list of positive integers';
const sequence = setting<readonly number[]>(
  z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(
      z.array(
        z
          .string()
          .regex(/^\d+$/, { error: SEQUENCE_ERROR })
          .transform(Number)
          .pipe(z.int({ error: SEQUENCE_ERROR }).gte(1, { error: SEQUENCE_ERROR })),
      ),
    )
    .refine((ns) => ns.every((n, i) => i === 0 || n > ns[i - 1]!), { error: SEQUENCE_ERROR }),
  DEFAULT_SEQUENCE,
);

const DAY_MS = 86_400_000;
const DURATION_ERROR = 'expected a duration from 1m to 365d, such as 7d, 12h or 30m';
function duration(fallbackMs: number) {
  return setting(
    z
      .string()
      .transform((v) => parseDuration(v) ?? Number.NaN)
      .pipe(
        z
          .number({ error: DURATION_ERROR })
          .gte(60_000, { error: DURATION_ERROR })
          .lte(365 * DAY_MS, { error: DURATION_ERROR }),
      ),
    fallbackMs,
  );
}

const STORE_ERROR = 'expected sqlite://PATH, redis://HOST:PORT or memory://';

const variables = z.object({
  SMART_SEND_FAST_THRESHOLD_MS: numeric(2000, { min: 0, integer: true }),
  SMART_SEND_SLOW_THRESHOLD_MS: numeric(10_000, { min: 0, integer: true }),
  SMART_SEND_MIN_SUCCESS_RATE: numeric(0.95, { min: 0, max: 1 }),
  SMART_SEND_ENABLE_LEARNING: flag(true),
  SMART_SEND_MEMORY_TTL_HOURS: numeric(24, { min: 0, minExclusive: true, max: 24 * 365 }),
  SMART_SEND_MAX_BATCH_SIZE: numeric(10_000, { min: 1, integer: true }),
  SMART_SEND_PROGRESSIVE_SEQUENCE: sequence,
  SMART_SEND_MIN_RECIPIENTS: numeric(100, { min: 1, integer: true }),
  SMART_SEND_MAX_BATCHES_PER_SECOND: numeric(2, { min: 0, minExclusive: true, max: 1000 }),
  SMART_SEND_BATCH_TIMEOUT_MS: numeric(15_000, { min: 1, integer: true }),
  SMART_SEND_MAX_ATTEMPTS: numeric(3, { min: 1, max: 100, integer: true }),
  STORYCAST_HOST: text('127.0.0.1'),
  STORYCAST_PORT: numeric(50051, { min: 0, max: 65535, integer: true }),
  STORYCAST_STORE: setting(
    z.string().regex(/^(sqlite|redis|rediss|memory):\/\//, { error: STORE_ERROR }),
    'sqlite://./data/storycast.sqlite',
  ),
  STORYCAST_TRANSPORT: oneOf(['simulated', 'baileys'], 'simulated'),
  STORYCAST_SIM_PROFILE: text('realistic'),
  STORYCAST_SIM_TIME_SCALE: numeric(1, { min: 0, minExclusive: true, max: 1_000_000 }),
  STORYCAST_SIM_SEED: numeric(1, { min: 0, integer: true }),
  STORYCAST_SIM_CALL_LOG: optionalText,
  STORYCAST_DEFAULT_STRATEGY: text('adaptive'),
  STORYCAST_STRATEGY_MODULES: list([]),
  STORYCAST_LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  STORYCAST_MAX_RECIPIENTS: numeric(100_000, { min: 1, max: 10_000_000, integer: true }),
  STORYCAST_TLS_CERT: optionalText,
  STORYCAST_TLS_KEY: optionalText,
  STORYCAST_SHUTDOWN_GRACE_MS: numeric(20_000, { min: 0, max: 3_600_000, integer: true }),
  STORYCAST_CHECK_RECIPIENTS: flag(true),
  // Up to 1 GiB: the whole body is held in memory while it is encrypted and uploaded.
  STORYCAST_MAX_MEDIA_BYTES: numeric(DEFAULT_MAX_MEDIA_BYTES, { min: 1, max: 1024 * 1024 * 1024, integer: true }),
  STORYCAST_SEND_RETENTION: duration(7 * DAY_MS),
  // Replicas on one Redis: how long a session's lease lasts unrenewed, and where other replicas reach this one.
  STORYCAST_LEASE_TTL_MS: numeric(10_000, { min: 500, max: 600_000, integer: true }),
  STORYCAST_ADVERTISE_ADDRESS: optionalText,
  // Production: Prometheus on its own port, API keys per tenant, client certificates.
  STORYCAST_METRICS_PORT: numeric(9464, { min: 0, max: 65535, integer: true }),
  STORYCAST_WEB_PORT: numeric(8080, { min: 0, max: 65535, integer: true }),
  STORYCAST_API_KEYS: optionalText,
  STORYCAST_AUTH_REFLECTION: flag(false),
  STORYCAST_TLS_CLIENT_CA: optionalText,
  STORYCAST_DEFAULT_EXPERIMENT: setting(
    z
      .string()
      .regex(/^([A-Za-z0-9._-]{1,64})?$/, { error: 'expected an experiment key: letters, digits, dot, dash and underscore, at most 64' }),
    '',
  ),
});

type Variable = keyof typeof variables.shape;

/** A rule across variables is checked only once each of them parsed: otherwise it would judge a default the user never chose. */
const parsed =
  (...names: Variable[]) =>
  (payload: z.core.ParsePayload): boolean =>
    !payload.issues.some((issue) => (names as PropertyKey[]).includes(issue.path?.[0] ?? ''));

const configSchema = variables
  .superRefine(
    ({ SMART_SEND_FAST_THRESHOLD_MS: fast, SMART_SEND_SLOW_THRESHOLD_MS: slow }, ctx) => {
      if (slow > fast) return;
      ctx.addIssue({
        code: 'custom',
        path: ['SMART_SEND_SLOW_THRESHOLD_MS'],
        message: `expected more than SMART_SEND_FAST_THRESHOLD_MS=${JSON.stringify(String(fast))}`,
        params: { shown: String(slow) },
      });
    },
    { when: parsed('SMART_SEND_FAST_THRESHOLD_MS', 'SMART_SEND_SLOW_THRESHOLD_MS') },
  )
  .superRefine(
    ({ STORYCAST_TLS_CERT: cert, STORYCAST_TLS_KEY: key }, ctx) => {
      if ((cert === undefined) === (key === undefined)) return;
      const [set, unset] = cert === undefined ? ['STORYCAST_TLS_KEY', 'STORYCAST_TLS_CERT'] : ['STORYCAST_TLS_CERT', 'STORYCAST_TLS_KEY'];
      ctx.addIssue({ code: 'custom', path: [set], message: `${unset} must be set too (TLS needs both a certificate and a key)` });
    },
    { when: parsed('STORYCAST_TLS_CERT', 'STORYCAST_TLS_KEY') },
  )
  .superRefine(
    ({ STORYCAST_TLS_CLIENT_CA: ca, STORYCAST_TLS_CERT: cert }, ctx) => {
      if (ca === undefined || cert !== undefined) return;
      ctx.addIssue({
        code: 'custom',
        path: ['STORYCAST_TLS_CLIENT_CA'],
        message: 'needs STORYCAST_TLS_CERT and STORYCAST_TLS_KEY: client certificates are a TLS feature',
      });
    },
    { when: parsed('STORYCAST_TLS_CLIENT_CA', 'STORYCAST_TLS_CERT') },
  )
  .transform(
    (v): Config => ({
      smartSend: {
        fastBatchThresholdMs: v.SMART_SEND_FAST_THRESHOLD_MS,
        slowBatchThresholdMs: v.SMART_SEND_SLOW_THRESHOLD_MS,
        minSuccessRate: v.SMART_SEND_MIN_SUCCESS_RATE,
        enableSessionLearning: v.SMART_SEND_ENABLE_LEARNING,
        sessionMemoryTTL: v.SMART_SEND_MEMORY_TTL_HOURS * 60 * 60 * 1000,
        progressiveSequence: capSequence(v.SMART_SEND_PROGRESSIVE_SEQUENCE, v.SMART_SEND_MAX_BATCH_SIZE),
        maxBatchSize: v.SMART_SEND_MAX_BATCH_SIZE,
        minRecipientsForSmartSend: v.SMART_SEND_MIN_RECIPIENTS,
        maxBatchesPerSecond: v.SMART_SEND_MAX_BATCHES_PER_SECOND,
        batchTimeoutMs: v.SMART_SEND_BATCH_TIMEOUT_MS,
        maxAttempts: v.SMART_SEND_MAX_ATTEMPTS,
      },
      server: {
        host: v.STORYCAST_HOST,
        port: v.STORYCAST_PORT,
        store: v.STORYCAST_STORE,
        transport: v.STORYCAST_TRANSPORT,
        simProfile: v.STORYCAST_SIM_PROFILE,
        simTimeScale: v.STORYCAST_SIM_TIME_SCALE,
        simSeed: v.STORYCAST_SIM_SEED,
        simCallLog: v.STORYCAST_SIM_CALL_LOG,
        defaultStrategy: v.STORYCAST_DEFAULT_STRATEGY,
        strategyModules: v.STORYCAST_STRATEGY_MODULES,
        logLevel: v.STORYCAST_LOG_LEVEL,
        maxRecipients: v.STORYCAST_MAX_RECIPIENTS,
        tlsCert: v.STORYCAST_TLS_CERT,
        tlsKey: v.STORYCAST_TLS_KEY,
        shutdownGraceMs: v.STORYCAST_SHUTDOWN_GRACE_MS,
        checkRecipients: v.STORYCAST_CHECK_RECIPIENTS,
        maxMediaBytes: v.STORYCAST_MAX_MEDIA_BYTES,
        sendRetentionMs: v.STORYCAST_SEND_RETENTION,
        defaultExperiment: v.STORYCAST_DEFAULT_EXPERIMENT,
        leaseTtlMs: v.STORYCAST_LEASE_TTL_MS,
        advertiseAddress: v.STORYCAST_ADVERTISE_ADDRESS,
        metricsPort: v.STORYCAST_METRICS_PORT,
        webPort: v.STORYCAST_WEB_PORT,
        apiKeysFile: v.STORYCAST_API_KEYS,
        authReflection: v.STORYCAST_AUTH_REFLECTION,
        tlsClientCa: v.STORYCAST_TLS_CLIENT_CA,
      },
    }),
  );

/** `NAME="value": expected …`, once per variable and problem (a list can fail the same way at several places). */
function problemsOf(error: z.ZodError, env: Env): string[] {
  const lines = error.issues.map((issue) => {
    const name = String(issue.path?.[0]);
    const shown = issue.code === 'custom' && typeof issue.params?.shown === 'string' ? issue.params.shown : present(env[name]);
    return `${name}=${JSON.stringify(shown)}: ${issue.message}`;
  });
  return [...new Set(lines)];
}

export function loadConfig(env: Env = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) throw new ConfigError(problemsOf(result.error, env));
  return result.data;
}

/**
 * Levels above maxBatchSize are replaced by maxBatchSize itself, so lowering
 * the ceiling alone is enough and the sequence stays strictly increasing.
 */
function capSequence(sequence: readonly number[], maxBatchSize: number): readonly number[] {
  const below = sequence.filter((n) => n < maxBatchSize);
  return below.length === sequence.length ? sequence : [...below, maxBatchSize];
}

/** The defaults, as a value (what tests and the simulator start from). */
export const defaultConfig: Config = loadConfig({});
