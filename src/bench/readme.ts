/**
 * The strategy lab's figures in the README, made from `npm run bench -- --json`
 * output so they are measured, never typed. Everything here is pure: the file
 * reading and writing is readme-cli.ts (`npm run bench:report`).
 *
 * Figures are computed from the rows with the formulas report.ts uses for the
 * targets (runs are not in the JSON; each row's per-seed ratios to the oracle
 * give the per-run ratios to `fixed`), and the targets are copied as printed.
 */
import { FIXED, ORACLE } from './baselines.js';
import type { BenchRow } from './matrix.js';
import type { TargetLine } from './report.js';
import { geomean } from './stats.js';
import { WEAK_MEMORY_BASE } from './suite.js';

export const BLOCK_START = '<!-- bench:start';
export const BLOCK_END = '<!-- bench:end -->';
/** The seed's algorithm: the figure every other is read against. */
const REFERENCE = 'adaptive';

/** What `npm run bench -- --json FILE` writes. */
export interface BenchJson {
  readonly rows: readonly BenchRow[];
  readonly targets: readonly TargetLine[];
  readonly best?: string;
  readonly seeds: number;
  readonly recipients: readonly number[];
  readonly cases: readonly { readonly name: string; readonly description: string }[];
  /** The target lines issue 19 replaced, on the same rows (not quoted in the README). */
  readonly previousTargets?: readonly TargetLine[];
  /** A --random run's family (not quoted in the README: its figures are the suite's). */
  readonly family?: { readonly seed: number; readonly count: number; readonly rows: readonly BenchRow[] };
}

const grouped = (n: number): string => n.toLocaleString('en-US');
const x2 = (v: number): string => `${v.toFixed(2)}x`;
/** "a, b and c" */
const list = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
/** Wraps prose at `width` columns, as the rest of the README is. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}
/** Large counts in words a reader takes in at a glance: 6.2 million, 19,925. */
const count = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} million` : grouped(Math.round(n)));

/** Rejects output the README must not be made from: a narrowed run would silently drop figures. */
function checkComplete(json: BenchJson): string {
  const best = json.best;
  if (json.rows.length === 0 && json.family)
    throw new Error('this JSON is a --random family run without the suite: the README quotes the suite (npm run bench -- --json FILE)');
  if (!best) throw new Error('no best built-in in the JSON: run the bench with the built-in strategies');
  const strategies = new Set(json.rows.map((r) => r.strategy));
  for (const s of [ORACLE, FIXED, REFERENCE, best]) {
    if (!strategies.has(s)) throw new Error(`no rows for "${s}": run the whole bench (npm run bench -- --json FILE), not a narrowed one`);
  }
  if (json.targets.length === 0) throw new Error('no targets in the JSON');
  return best;
}

/** Completion time / oracle, geomean over the rows of one strategy (and one list size, if given). */
function overall(rows: readonly BenchRow[], strategy: string, recipients?: number): number {
  return geomean(
    rows
      .filter((r) => r.strategy === strategy && (recipients === undefined || r.recipients === recipients))
      .map((r) => r.ratioToOracle.geomean),
  );
}

/** `a`'s completion time over `b`'s, run by run on the same case, size and seed (geomean). */
function versus(rows: readonly BenchRow[], a: string, b: string): number {
  const theirs = new Map(rows.filter((r) => r.strategy === b).map((r) => [`${r.profile}|${r.recipients}`, r]));
  const ratios: number[] = [];
  for (const mine of rows.filter((r) => r.strategy === a)) {
    const other = theirs.get(`${mine.profile}|${mine.recipients}`);
    if (!other) continue;
    mine.ratioToOracle.bySeed.forEach((ratio, i) => {
      const o = other.ratioToOracle.bySeed[i];
      if (o !== undefined) ratios.push(ratio / o);
    });
  }
  return geomean(ratios);
}

/** Sum over all runs of a per-run mean field. */
const total = (rows: readonly BenchRow[], strategy: string, field: 'failedCalls' | 'undelivered'): number =>
  rows.filter((r) => r.strategy === strategy).reduce((sum, r) => sum + r[field].mean * r.seeds, 0);

const ratioAt = (rows: readonly BenchRow[], strategy: string, profile: string, recipients: number): number | undefined =>
  rows.find((r) => r.strategy === strategy && r.profile === profile && r.recipients === recipients)?.ratioToOracle.geomean;

/** The generated paragraph, table and targets, without the markers. */
export function renderLabFigures(json: BenchJson): string {
  const best = checkComplete(json);
  const { rows } = json;
  const down = [...json.recipients].sort((a, b) => b - a);
  const up = [...down].reverse();
  const at = (s: string) => down.map((n) => overall(rows, s, n));
  const mine = at(best);
  const sentences: string[] = [];
  sentences.push(
    `\`${best}\` is the best built-in: ${list(mine.map((v, i) => `${x2(v)}${i === 0 ? ` the oracle at ${grouped(down[i]!)} recipients` : ` at ${grouped(down[i]!)}`}`))}` +
      ` (${overall(rows, best).toFixed(3)} over the whole suite)` +
      (best === REFERENCE
        ? '.'
        : `, against ${list(at(REFERENCE).map(x2))} for \`${REFERENCE}\` (the seed's algorithm, reported as it is).`),
  );

  const failedMine = total(rows, best, 'failedCalls');
  const failedFixed = total(rows, FIXED, 'failedCalls');
  const lost = rows.reduce((s, r) => s + r.lost, 0);
  let vsFixed = `It takes ${x2(versus(rows, best, FIXED))} the time of \`${FIXED}\``;
  if (failedFixed > 0) vsFixed += ` with ${x2(failedMine / failedFixed)} its failed calls`;
  vsFixed +=
    lost === 0 ? ', and no strategy loses anybody' : `; ${grouped(lost)} recipients were lost (every one must be delivered or failed)`;
  const high = json.cases.filter((c) => c.name.endsWith('+memory-3x-high'));
  const highCosts = high.flatMap((c) => {
    const cold = c.name.slice(0, c.name.indexOf('+'));
    return up.flatMap((n) => {
      const warm = rows.find((r) => r.strategy === best && r.profile === c.name && r.recipients === n);
      const base = rows.find((r) => r.strategy === best && r.profile === cold && r.recipients === n);
      return warm && base ? [warm.completionMs.mean / base.completionMs.mean] : [];
    });
  });
  if (highCosts.length > 0) vsFixed += `; with memory 3x too high it costs at most ${x2(Math.max(...highCosts))} a cold start`;
  sentences.push(`${vsFixed}.`);

  const weak = json.cases.find((c) => c.name === `${WEAK_MEMORY_BASE}+memory`);
  const warm = up.map((n) => ratioAt(rows, best, `${WEAK_MEMORY_BASE}+memory`, n));
  const cold = up.map((n) => ratioAt(rows, best, WEAK_MEMORY_BASE, n));
  if (weak && warm.every((v) => v !== undefined) && cold.every((v) => v !== undefined)) {
    const proven = /proven (\d+)/.exec(weak.description)?.[1];
    sentences.push(
      `A weak account that remembers the limit its last send found (\`${WEAK_MEMORY_BASE}\`${proven ? `, proven ${grouped(Number(proven))}, failed above it` : ''}) starts there: ` +
        `${list(warm.map((v) => x2(v!)))} the oracle at ${list(up.map(grouped))} recipients, where a cold start pays ${list(cold.map((v) => x2(v!)))} for the hung calls that find it.`,
    );
  }

  const runs = rows.reduce((s, r) => s + r.seeds, 0);
  const givenUp = total(rows, best, 'undelivered');
  const where = [...new Set(rows.filter((r) => r.strategy === best && r.undelivered.mean > 0).map((r) => `\`${r.profile}\``))];
  const others = [REFERENCE, FIXED].filter((s) => s !== best).map((s) => `${count(total(rows, s, 'undelivered'))} for \`${s}\``);
  sentences.push(
    `Over the ${grouped(runs)} runs it gave up on ${count(givenUp)} recipients${where.length > 0 ? ` (attempts used up, on ${list(where)})` : ''}, against ${list(others)}.`,
  );

  const contenders = [...new Set(rows.map((r) => r.strategy))].filter((s) => s !== ORACLE);
  const table = [
    `| completion time / oracle (geomean) | ${up.map((n) => `${grouped(n)} recipients`).join(' | ')} | whole suite |`,
    `|---|${up.map(() => '---:').join('|')}|---:|`,
    ...contenders.map(
      (s) =>
        `| ${s === best ? `**\`${s}\`**` : `\`${s}\``} | ${up.map((n) => overall(rows, s, n).toFixed(2)).join(' | ')} | ${overall(rows, s).toFixed(3)} |`,
    ),
  ];
  const targets = ['```', `Targets (best built-in: ${best}; ${json.seeds} seeds per case)`, ...json.targets.map((t) => t.text), '```'];
  return [wrap(sentences.join(' ')), '', ...table, '', ...targets].join('\n');
}

/** The README with the text between its bench markers replaced by `figures`. */
export function replaceLabBlock(readme: string, figures: string): string {
  const start = readme.indexOf(BLOCK_START);
  const end = readme.indexOf(BLOCK_END);
  if (start === -1 || end === -1 || end < start)
    throw new Error(`the README has no "${BLOCK_START} ... -->" ... "${BLOCK_END}" block to fill`);
  if (readme.indexOf(BLOCK_START, start + 1) !== -1) throw new Error('the README has more than one bench block');
  const open = readme.indexOf('-->', start);
  if (open === -1 || open > end) throw new Error(`the "${BLOCK_START}" marker is not closed with -->`);
  return `${readme.slice(0, open + 3)}\n${figures}\n${readme.slice(end)}`;
}
