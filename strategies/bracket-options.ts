/**
 * bracket's tuning: the numbers its rules are tuned by, as options with their
 * defaults side by side, so the built-in's numbers read at a glance and a
 * variant is `createBracket({ name: 'my-bracket', probeEvery: 12 })`.
 * bracket.ts's header says what each rule does; this file, by how much.
 */

export interface BracketOptions {
  /** Unique, as for any strategy: a tuned bracket next to the built-in needs a name of its own. */
  readonly name?: string;
  readonly description?: string;
  /** Without history, the first batch is this level of the progressive sequence (0-based; capped at its top). */
  readonly startLevel?: number;
  /** Stop bisecting when bad/good is under this with few batches left ... */
  readonly toleranceShort?: number;
  /** ... or under this when many remain: a few percent over many batches pays for one more probe. */
  readonly toleranceLong?: number;
  /** Clean batches at good before probing above it (scaled down where failures are cheap). */
  readonly probeEvery?: number;
  /** Starting from history, the first probe above the proven size comes sooner. */
  readonly probeFromMemory?: number;
  /** The fewest clean batches between probes, however cheap failures are. */
  readonly minProbeEvery?: number;
  /** A probe tries this multiple of good. */
  readonly probeStep?: number;
  /** A probe's odds of failing: after a streak of clean batches, the last failure says little about now. */
  readonly probeOdds?: number;
  /**
   * From the second probe in a row that failed, each doubles the wait for the next, up to
   * 2^this. One failed probe says little (it may have come just before the network got better).
   */
  readonly maxProbeBackoff?: number;
  /**
   * Before any batch the per-recipient cost is unknown: the engine gives up on the first one
   * as if each recipient cost up to this many ms (the most seen in practice, ~2 ms; the give-up
   * factor covers jitter on top: cutting a good call short costs more than waiting a little).
   */
  readonly maxMsPerRecipient?: number;
  /**
   * After a failure it steps down to this fraction: the check below a size that worked (once a
   * retry there failed too), the
   * next try after a first call that failed, each step down a capacity that fell. A third
   * passes under most drops in one step (a half often fails again, which costs a second hung
   * call), and climbing back after a random failure is quick.
   */
  readonly checkDivisor?: number;
  /** With history, the first batch is this fraction of the proven size (but not below the cold start's). */
  readonly memoryStartDivisor?: number;
  /** A fast error at a size that worked is a blip unless another came within this many batches. */
  readonly blipSpacing?: number;
  /**
   * With no failure seen, each batch grows to at most this multiple of the last good one. A
   * failed try far above what worked costs a call of its size (up to the give-up): small steps
   * keep that cost near one call, and a success at each step is no waste (it delivers).
   */
  readonly maxGrowth?: number;
  /**
   * When the anchor is not FAST (a call is mostly fixed cost, and it starts at the sequence's top),
   * a call before any batch worked is given up after at most (1 + this) anchors' round trips
   * (times the give-up factor) rather than the batch timeout: a first call that hangs there costs
   * a few calls, not the full timeout; one cut short would mostly have been slow per recipient,
   * where a smaller size loses little.
   */
  readonly coldGiveUpAnchors?: number;
}

export type BracketTuning = Required<Omit<BracketOptions, 'name' | 'description'>>;

/** The built-in's tuning: what `createBracket` uses for every option left out. */
export const bracketDefaults: BracketTuning = Object.freeze({
  startLevel: 2,
  toleranceShort: 1.2,
  toleranceLong: 1.05,
  probeEvery: 24,
  probeFromMemory: 8,
  minProbeEvery: 4,
  probeStep: 1.1,
  probeOdds: 0.5,
  maxProbeBackoff: 3,
  maxMsPerRecipient: 2,
  checkDivisor: 3,
  memoryStartDivisor: 3,
  blipSpacing: 3,
  maxGrowth: 3,
  coldGiveUpAnchors: 2,
});

const checks: readonly (readonly [keyof BracketTuning, (x: number) => boolean, string])[] = [
  ['startLevel', (x) => Number.isInteger(x) && x >= 0, 'a whole number >= 0'],
  ['toleranceShort', (x) => x > 1, '> 1'],
  ['toleranceLong', (x) => x > 1, '> 1'],
  ['probeEvery', (x) => x >= 1, '>= 1'],
  ['probeFromMemory', (x) => x >= 1, '>= 1'],
  ['minProbeEvery', (x) => x >= 1, '>= 1'],
  ['probeStep', (x) => x > 1, '> 1'],
  ['probeOdds', (x) => x > 0 && x < 1, 'between 0 and 1'],
  ['maxProbeBackoff', (x) => Number.isInteger(x) && x >= 0, 'a whole number >= 0'],
  ['maxMsPerRecipient', (x) => x > 0, '> 0'],
  ['checkDivisor', (x) => x > 1, '> 1'],
  ['memoryStartDivisor', (x) => x >= 1, '>= 1'],
  ['blipSpacing', (x) => x >= 0, '>= 0'],
  ['maxGrowth', (x) => x >= 2, '>= 2'],
  ['coldGiveUpAnchors', (x) => x > 0, '> 0'],
];

/** The tuning with every option left out (or undefined) at its default; throws on one out of range or unknown. */
export function resolveTuning(options: Omit<BracketOptions, 'name' | 'description'>): BracketTuning {
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  for (const [key] of given) if (!(key in bracketDefaults)) throw new RangeError(`unknown bracket option ${key}`);
  const t: BracketTuning = { ...bracketDefaults, ...Object.fromEntries(given) };
  for (const [key, ok, expected] of checks) {
    // NaN fails every check; the message names the option so a typo in a config is found at once.
    if (typeof t[key] !== 'number' || !ok(t[key])) throw new RangeError(`bracket option ${key}: ${String(t[key])} (expected ${expected})`);
  }
  return t;
}
