/**
 * Cron expressions for repeating schedules, read by croner (minute, hour, day
 * of month, month, day of week, with an optional leading seconds field and
 * nicknames such as @daily) in an IANA time zone, so "0 9 * * 1-5" in
 * Europe/Lisbon stays at nine o'clock local across daylight saving changes.
 */
import { Cron } from 'croner';

/** A status more often than this is a spam campaign, not a schedule. */
const MIN_REPEAT_INTERVAL_MS = 60_000;
/** Consecutive occurrences checked against the minimum interval: enough to catch "every few seconds" in any field. */
const INTERVALS_CHECKED = 8;

export class BadRepeatError extends Error {
  override readonly name = 'BadRepeatError';
  constructor(
    /** The request field at fault: repeat or time_zone. */
    readonly field: 'repeat' | 'time_zone',
    message: string,
  ) {
    super(message);
  }
}

export interface RepeatRule {
  readonly expression: string;
  /** '' for UTC. */
  readonly timeZone: string;
}

function cronOf(rule: RepeatRule): Cron {
  return new Cron(rule.expression, { paused: true, timezone: rule.timeZone === '' ? 'Etc/UTC' : rule.timeZone, mode: 'auto' });
}

/** The first occurrence strictly after `after` (ms), or undefined when there is none. */
export function nextOccurrence(rule: RepeatRule, after: number): number | undefined {
  return cronOf(rule).nextRun(new Date(after))?.getTime();
}

/**
 * Checks a rule as a request gives it; BadRepeatError naming the field
 * otherwise. `from` is when its occurrences start counting.
 */
export function checkRepeat(rule: RepeatRule, from: number): void {
  if (rule.timeZone !== '' && !isTimeZone(rule.timeZone)) {
    throw new BadRepeatError('time_zone', `time_zone "${rule.timeZone}" is not an IANA time zone (such as "Europe/Lisbon" or "UTC")`);
  }
  let cron: Cron;
  try {
    cron = cronOf(rule);
  } catch (error) {
    throw new BadRepeatError('repeat', `repeat "${rule.expression}" is not a cron expression: ${(error as Error).message}`);
  }
  const runs = cron.nextRuns(INTERVALS_CHECKED + 1, new Date(from)).map((d) => d.getTime());
  if (runs.length === 0) throw new BadRepeatError('repeat', `repeat "${rule.expression}" never occurs`);
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]! - runs[i - 1]! < MIN_REPEAT_INTERVAL_MS) {
      throw new BadRepeatError(
        'repeat',
        `repeat "${rule.expression}" occurs less than a minute apart (${new Date(runs[i - 1]!).toISOString()} then ${new Date(runs[i]!).toISOString()}); a status goes out at most once a minute`,
      );
    }
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
