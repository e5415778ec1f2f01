/**
 * Network profiles for the simulated transport: plain JSON files, validated
 * strictly so a typo in a field name is an error instead of a silently
 * ignored knob (which would make a benchmark measure the wrong network).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

// Type-only imports of the shipped JSON: they vanish at runtime but make tsc
// copy the files next to the compiled module, where loadBuiltin() reads them.
// Keep this list in step with BUILTIN_PROFILE_NAMES (a test checks it).

/** A capacity: a positive whole number of recipients per call, or null = unlimited. */
const capacityValue = z.int().positive().nullable();

const capacityStep = z.strictObject({
  atMs: z.number().nonnegative(),
  capacity: capacityValue,
});

const latencyTail = z
  .strictObject({
    probability: z.number().min(0).max(1),
    minFactor: z.number().min(1),
    maxFactor: z.number().min(1),
  })
  .superRefine((tail, ctx) => {
    if (tail.maxFactor < tail.minFactor) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxFactor'],
        input: tail.maxFactor,
        message: `must be at least minFactor (${tail.minFactor})`,
      });
    }
  });

const knee = z.strictObject({
  atSize: z.int().nonnegative(),
  extraMsPerRecipient: z.number().nonnegative(),
  exponent: z.number().min(1).max(4).default(1),
});

const failureBurst = z.strictObject({
  atMs: z.number().nonnegative(),
  durationMs: z.number().positive(),
  rate: z.number().min(0).max(1),
});

const rateLimit = z.strictObject({
  calls: z.int().positive(),
  windowMs: z.int().positive(),
});

/**
 * The profile schema. Defaults (a field may be left out of the JSON):
 * - description: none.
 * - jitterPct: 0. Every round trip's latency is multiplied by a factor drawn
 *   uniformly from [1 - jitterPct/100, 1 + jitterPct/100].
 * - capacity: null = unlimited (JSON has no Infinity). A send with more
 *   recipients than the capacity in force at its start fails.
 * - failure: "timeout" = a failing send hangs until the caller aborts it (the
 *   engine's batch timeout); "fast" = it rejects after baseMs with SEND_FAILED.
 * - failureRate: 0. Probability that any send fails regardless of its size,
 *   in the same failure mode.
 * - capacitySchedule: [] = capacity never changes. Steps sorted by atMs (ms
 *   since the network was created, on its clock); from a step's atMs on its
 *   capacity (null = unlimited) replaces the previous one.
 * - rateLimitPerSecond: 0 = no limit. Otherwise a session's send that would be
 *   the (N+1)th accepted in the trailing 1000 ms fails after baseMs with
 *   RATE_LIMITED and retryAfterMs = when the window frees. A fractional rate
 *   is allowed: it keeps floor(N) calls (at least 1) in a window of
 *   1000 * calls / N ms, rounded to a whole ms (0.5 = one call per 2000 ms,
 *   2.5 = two per 800 ms): model.ts perSecondWindow().
 * - latencyTail: null = no tail. { probability, minFactor >= 1, maxFactor >=
 *   minFactor }: with `probability` a send's whole round trip (success or fast
 *   failure) is further multiplied by a factor drawn log-uniformly from
 *   [minFactor, maxFactor], whatever its size: the rare stall that makes a
 *   small batch take 20 s.
 * - knee: null = latency stays linear. { atSize, extraMsPerRecipient,
 *   exponent = 1 (1..4) }: a send to n > atSize recipients takes
 *   extraMsPerRecipient * (n - atSize)^exponent ms more, so throughput can
 *   peak below the capacity (exponent > 1 gives a smooth peak).
 * - failureBursts: [] = none. [{ atMs, durationMs, rate }]: a send starting in
 *   [atMs, atMs + durationMs) (same time base as capacitySchedule) fails with
 *   probability `rate` instead of failureRate, in the profile's failure mode,
 *   whatever its size; overlapping bursts: the highest rate applies.
 * - rateLimits: [] = none beyond rateLimitPerSecond. [{ calls, windowMs }]:
 *   more sliding windows that work like rateLimitPerSecond's (which is
 *   { calls: N, windowMs: 1000 }); a send must fit in all of them, and
 *   retryAfterMs is when the last full one frees.
 * - deliveryShare: 0.95 (DEFAULT_DELIVERY_SHARE). The share of a delivered
 *   call's recipients whose phone sends a delivery receipt (the rest stay
 *   offline). Left out of the parsed profile when absent, so profiles that
 *   predate receipts parse exactly as before; read it through receiptShares().
 * - readShare: 0.6 (DEFAULT_READ_SHARE). The share of recipients who view the
 *   status and send a read receipt; reading implies delivery, so at least this
 *   share is delivered whatever deliveryShare says. Receipts change nothing
 *   about sending and draw from their own random stream; the network produces
 *   them only for a listener (SimulatedNetworkOptions.onReceipt).
 * baseMs and perRecipientMs are required: latency of a send to n recipients
 * is (baseMs + perRecipientMs * n + knee) * jitter * tail, rounded to a whole
 * millisecond.
 *
 * Random draws per send are fixed in number whatever its fate (see
 * network.ts), so two strategies on one seed see the same luck per call.
 * To add a knob: add an optional field with a default here so existing files
 * stay valid, document the default above, and read it in model.ts.
 */
const simProfileSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  baseMs: z.number().nonnegative(),
  perRecipientMs: z.number().nonnegative(),
  jitterPct: z.number().min(0).max(100).default(0),
  capacity: capacityValue.default(null),
  failure: z.enum(['timeout', 'fast']).default('timeout'),
  failureRate: z.number().min(0).max(1).default(0),
  capacitySchedule: z
    .array(capacityStep)
    .superRefine((steps, ctx) => {
      for (let i = 1; i < steps.length; i++) {
        if (steps[i]!.atMs < steps[i - 1]!.atMs) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'atMs'],
            input: steps[i]!.atMs,
            message: `steps must be sorted by atMs (previous step is at ${steps[i - 1]!.atMs})`,
          });
        }
      }
    })
    .default([]),
  rateLimitPerSecond: z.number().nonnegative().default(0),
  latencyTail: latencyTail.nullable().default(null),
  knee: knee.nullable().default(null),
  failureBursts: z.array(failureBurst).default([]),
  rateLimits: z.array(rateLimit).default([]),
  deliveryShare: z.number().min(0).max(1).optional(),
  readShare: z.number().min(0).max(1).optional(),
  /** Contacts in each session's generated address book (default DEFAULT_ADDRESS_BOOK). */
  addressBook: z.int().nonnegative().max(1_000_000).optional(),
});

export const DEFAULT_ADDRESS_BOOK = 2000;

export const DEFAULT_DELIVERY_SHARE = 0.95;
export const DEFAULT_READ_SHARE = 0.6;

/** The receipt shares in force: a profile's own, or the defaults (a reader is delivered to, so delivered >= read). */
export function receiptShares(profile: SimProfile): { readonly delivered: number; readonly read: number } {
  const read = profile.readShare ?? DEFAULT_READ_SHARE;
  return { delivered: Math.max(read, profile.deliveryShare ?? DEFAULT_DELIVERY_SHARE), read };
}

/** A validated profile, every default filled in (the receipt shares through receiptShares()). */
export type SimProfile = z.infer<typeof simProfileSchema>;
/** What a profile file may contain (defaults optional). */
export type SimProfileInput = z.input<typeof simProfileSchema>;

/**
 * Validates a parsed JSON value. Throws an Error naming the source, each
 * offending field's path and its value, so a bad file is fixed in one go.
 */
export function parseProfile(json: unknown, source?: string): SimProfile {
  const result = simProfileSchema.safeParse(json, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap(describeIssue);
  const where = source ? ` in ${source}` : '';
  throw new Error(`invalid network profile${where}: ${problems.join('; ')}`);
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`);
  }
  const value = 'input' in issue ? issue.input : undefined;
  const shown = value === undefined ? '(missing)' : truncate(JSON.stringify(value) ?? String(value));
  return [`${formatPath(issue.path)} = ${shown}: ${issue.message}`];
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(profile)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const BUILTIN_PROFILE_NAMES = [
  'seed-first-send',
  'seed-second-send',
  'seed-network-issues',
  'realistic',
  'flaky',
  'rate-limited',
  'weak-account',
  'degrading',
] as const;
export type BuiltinProfileName = (typeof BUILTIN_PROFILE_NAMES)[number];

let builtinCache: Record<string, SimProfile> | undefined;

function loadBuiltins(): Record<string, SimProfile> {
  if (builtinCache) return builtinCache;
  const loaded: Record<string, SimProfile> = {};
  for (const name of BUILTIN_PROFILE_NAMES) {
    const file = fileURLToPath(new URL(`./profiles/${name}.json`, import.meta.url));
    const profile = parseProfile(JSON.parse(readFileSync(file, 'utf8')), file);
    if (profile.name !== name) throw new Error(`built-in profile ${file} is named "${profile.name}", expected "${name}"`);
    loaded[name] = profile;
  }
  builtinCache = loaded;
  return loaded;
}

/** Every built-in profile by name; fresh copies, so callers may change them. */
export function builtinProfiles(): Record<string, SimProfile> {
  return structuredClone(loadBuiltins());
}

export function builtinProfileNames(): readonly BuiltinProfileName[] {
  return BUILTIN_PROFILE_NAMES;
}

/** A built-in profile by name, or a JSON file by path (tried in that order). */
export async function loadProfile(nameOrPath: string): Promise<SimProfile> {
  const builtins = loadBuiltins();
  if (Object.hasOwn(builtins, nameOrPath)) return structuredClone(builtins[nameOrPath]!);
  let text: string;
  try {
    text = await readFile(nameOrPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !/[\\/]|\.json$/i.test(nameOrPath)) {
      throw new Error(`unknown network profile "${nameOrPath}": not a built-in (${BUILTIN_PROFILE_NAMES.join(', ')}) and no such file`);
    }
    throw new Error(`cannot read network profile file ${nameOrPath}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`network profile file ${nameOrPath} is not valid JSON: ${(error as Error).message}`);
  }
  return parseProfile(json, nameOrPath);
}
