/**
 * `npm run bench`: every registered strategy plus the `oracle` and `fixed`
 * baselines over the benchmark suite (or a random family of networks), in
 * virtual time, through the real engine. Prints tables and the targets;
 * --json writes every row, --chart an SVG.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FIXED, ORACLE } from '../bench/baselines.js';
import { renderChart, type RatioCell } from '../bench/chart.js';
import { evaluateFamilyTargets, FAMILY_NAMES, formatFamilyTable } from '../bench/family.js';
import { type BenchRow, foldRows } from '../bench/matrix.js';
import { runInWorkers } from '../bench/parallel.js';
import { belowOracle, formatBelowOracle } from '../bench/below-oracle.js';
import { evaluateTargets, formatGivenUp, formatTable } from '../bench/report.js';
import type { BenchCase, RunResult } from '../bench/run.js';
import { runOnce } from '../bench/run.js';
import { resolveBench, type BenchInputs } from '../bench/setup.js';
import { geomean } from '../bench/stats.js';
import { formatTrace } from '../bench/trace.js';
import { exitOnStartupError } from '../util/startup-error.js';

const HELP = `Usage: npm run bench -- [options]

Runs every strategy (built-in, STORYCAST_STRATEGY_MODULES and --strategy-module)
and the baselines "oracle" (the physical limit) and "fixed" (the plain ramp) over
the benchmark suite (src/bench/profiles, the seed scenarios, memory cases), in
virtual time, with the reference "informed" (the oracle without the random draws:
what knowing the network buys; --strategy informed keeps it in a narrowed run).

  --recipients LIST   list sizes, comma-separated (default 1000,10000,100000)
  --seeds N           seeds per case, 1..N (default 5)
  --strategy NAME     only this strategy (repeatable; baselines always run)
  --strategy-module PATH
                      load a strategy module (a .js or .ts file default-exporting a
                      strategy made with the SDK's defineStrategy; repeatable), as
                      STORYCAST_STRATEGY_MODULES does for the server
  --case NAME         only this case (repeatable)
  --profile FILE      add a network profile (simulated transport schema; repeatable;
                      replaces a suite profile of the same name; with --random, needs --suite)
  --random N          instead of the suite: N profiles drawn from the random family
                      (src/bench/random-family.ts) and the same N plain (only the search
                      left: the model of docs/lab's bound), each with its table and targets
  --random-seed S     the family's seed (default 1): the same S draws the same profiles
  --suite             with --random, run the suite as well (reported on its own)
  --json FILE         write every row and the targets as JSON
  --chart FILE.svg    draw batch size over time on one profile, and ratio to oracle per profile
  --chart-profile P   the profile of the first view (default step-down)
  --workers N         worker threads (default: one per core)
  --trace CASE        instead of the suite: each contender's run on CASE, call by call,
                      with the strategy's reason for every size (narrow it with
                      --strategy, --recipients and --seeds)
  -h, --help          this text
`;

function positiveList(option: string, text: string): number[] {
  const values = text.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || !values.every((v) => Number.isSafeInteger(v) && v >= 1)) {
    throw new Error(`--${option} "${text}": expected positive whole numbers, comma-separated`);
  }
  return values;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      recipients: { type: 'string', default: '1000,10000,100000' },
      seeds: { type: 'string', default: '5' },
      strategy: { type: 'string', multiple: true },
      'strategy-module': { type: 'string', multiple: true },
      profile: { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
      random: { type: 'string' },
      'random-seed': { type: 'string' },
      suite: { type: 'boolean' },
      json: { type: 'string' },
      chart: { type: 'string' },
      'chart-profile': { type: 'string', default: 'step-down' },
      workers: { type: 'string' },
      trace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const recipients = positiveList('recipients', values.recipients);
  const [seedCount] = positiveList('seeds', values.seeds);
  if (values.random === undefined && (values['random-seed'] !== undefined || values.suite))
    throw new Error('--random-seed and --suite go with --random N');
  // --profile adds to the suite: with --random alone it would be dropped without a word.
  if (values.random !== undefined && !values.suite && values.profile !== undefined)
    throw new Error('--profile adds to the suite, which --random replaces: add --suite to run both');
  const inputs: BenchInputs = {
    strategies: values.strategy ?? [],
    strategyModules: values['strategy-module'] ?? [],
    profileFiles: values.profile ?? [],
    recipients,
    seeds: Array.from({ length: seedCount! }, (_, i) => i + 1),
    cases: values.case ?? [],
    ...(values.random !== undefined
      ? {
          random: { count: positiveList('random', values.random)[0]!, seed: wholeNumber('random-seed', values['random-seed'] ?? '1') },
          suite: values.suite ?? false,
        }
      : {}),
  };
  // Resolved here too, so a bad strategy name or profile fails before any worker starts.
  const { cases, contenders, strategies, builtinNames, config } = await resolveBench(inputs);
  if (values.trace !== undefined) {
    const traced = cases.find((c) => c.name === values.trace);
    if (!traced) throw new Error(`--trace "${values.trace}": no such case (have: ${cases.map((c) => c.name).join(', ')})`);
    for (const n of recipients) {
      for (const seed of inputs.seeds) {
        let oracleMs: number | undefined;
        for (const contender of contenders) {
          const run = await runOnce(contender, traced, n, seed, config);
          if (run.strategy === ORACLE) oracleMs = run.completionMs;
          console.log(`\n${formatTrace(run, run.strategy === ORACLE ? undefined : oracleMs)}`);
        }
      }
    }
    return 0;
  }
  const workers = values.workers === undefined ? undefined : positiveList('workers', values.workers)[0];

  const started = performance.now();
  const total = cases.length * recipients.length * inputs.seeds.length * contenders.length;
  let done = 0;
  const runs = await runInWorkers(
    inputs,
    cases.map((c) => c.name),
    () => {
      if (process.stderr.isTTY && ++done % 10 === 0) process.stderr.write(`\r${done}/${total} runs`);
    },
    workers,
  );
  // Workers finish in any order: put runs back in suite order so the table reads the same every time.
  const caseOrder = new Map(cases.map((c, i) => [c.name, i]));
  const contenderOrder = new Map(contenders.map((c, i) => [typeof c === 'string' ? c : c.name, i]));
  runs.sort(
    (a, b) =>
      caseOrder.get(a.case)! - caseOrder.get(b.case)! ||
      a.recipients - b.recipients ||
      a.seed - b.seed ||
      contenderOrder.get(a.strategy)! - contenderOrder.get(b.strategy)!,
  );
  if (process.stderr.isTTY) process.stderr.write('\r');
  const seconds = (performance.now() - started) / 1000;
  const seeds = inputs.seeds;
  const suiteCases = cases.filter((c) => !c.family);
  const inGroup = (group: readonly BenchCase[]) => {
    const names = new Set(group.map((c) => c.name));
    return runs.filter((r) => names.has(r.case));
  };
  const suiteRuns = inGroup(suiteCases);
  const suiteRows = foldRows(suiteRuns);

  let suiteTargets: ReturnType<typeof evaluateTargets> | undefined;
  if (suiteCases.length > 0) {
    console.log(formatTable(suiteRows));
    suiteTargets = builtinNames.length > 0 ? evaluateTargets(suiteRows, suiteRuns, suiteCases, builtinNames) : undefined;
    if (suiteTargets) {
      console.log(`\nTargets (best built-in: ${suiteTargets.best})`);
      for (const l of suiteTargets.lines) console.log(l.text);
    }
    console.log(`\n${formatGivenUp(suiteRuns)}`);
    console.log(`\n${formatBelowOracle(belowOracle(suiteRows, seeds))}`);
  }
  const families = (['random', 'plain'] as const).map((kind) => {
    const group = cases.filter((c) => c.family === kind);
    const familyRuns = inGroup(group);
    return { kind, cases: group, runs: familyRuns, rows: foldRows(familyRuns) };
  });
  const familyJson: Record<string, unknown> = {};
  for (const family of families.filter((f) => f.cases.length > 0)) {
    const { count, seed } = inputs.random!;
    console.log(formatTable(family.rows));
    console.log(formatFamilyTable(family.rows, family.cases.length, seed, family.kind));
    const targets = builtinNames.length > 0 ? evaluateFamilyTargets(family.rows, builtinNames, family.kind) : undefined;
    if (targets) {
      console.log(
        `\n${FAMILY_NAMES[family.kind]} targets (best built-in: ${targets.best}; ${count} profiles from seed ${seed}, ${seeds.length} seeds each)`,
      );
      for (const l of targets.lines) console.log(l.text);
      if (targets.previous.length > 0) {
        console.log("Issue 19's lines for the family, under what any strategy can reach (docs/lab): figures, not targets");
        for (const l of targets.previous) console.log(l.text.replace(/^(PASS|FAIL)/, 'was '));
      }
    }
    console.log(`\n${formatGivenUp(family.runs)}`);
    console.log(`\n${formatBelowOracle(belowOracle(family.rows, seeds))}`);
    familyJson[family.kind === 'plain' ? 'plain' : 'family'] = {
      seed,
      count,
      rows: family.rows,
      targets: targets?.lines ?? [],
      previousTargets: targets?.previous ?? [],
      best: targets?.best,
      // The drawn profiles themselves, so any one can be rerun with --profile.
      cases: family.cases.map((c) => ({ name: c.name, description: c.description, profile: c.profile })),
    };
  }
  console.log(
    `\n${runs.length} runs (${cases.length} cases x ${recipients.length} sizes x ${seeds.length} seeds x ${contenders.length} contenders) in ${seconds.toFixed(1)} s`,
  );

  if (values.json) {
    const json = {
      rows: suiteRows,
      targets: suiteTargets?.lines ?? [],
      // The lines issue 19 replaced, computed on the same rows: how a change reads under both.
      previousTargets: suiteTargets?.previous ?? [],
      best: suiteTargets?.best,
      seeds: seeds.length,
      recipients,
      cases: suiteCases.map((c) => ({ name: c.name, description: c.description })),
      ...familyJson,
    };
    await writeFile(values.json, `${JSON.stringify(json, null, 2)}\n`);
  }
  if (values.chart)
    await writeChart(values.chart, values['chart-profile'], {
      cases,
      runs,
      rows: [...suiteRows, ...families.flatMap((f) => f.rows)],
      recipients,
      seeds,
      strategies: strategies.map((x) => x.name),
    });
  // Targets are measurements: missing one is reported above, not an error.
  return 0;
}

function wholeNumber(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${option} "${text}": expected a whole number`);
  return value;
}

async function writeChart(
  file: string,
  wanted: string,
  run: {
    cases: readonly BenchCase[];
    runs: readonly RunResult[];
    rows: readonly BenchRow[];
    recipients: readonly number[];
    seeds: readonly number[];
    strategies: readonly string[];
  },
): Promise<void> {
  const { cases, runs, rows, recipients, seeds } = run;
  const chartProfile = cases.some((c) => c.name === wanted) ? wanted : cases[0]!.name;
  const size = recipients.includes(10_000) ? 10_000 : recipients[0]!;
  const traces = runs.filter((r) => r.case === chartProfile && r.recipients === size && r.seed === seeds[0]).map((r) => r.trace);
  const ratios: RatioCell[] = [];
  for (const c of cases) {
    for (const s of [FIXED, ...run.strategies]) {
      const mine = rows.filter((r) => r.profile === c.name && r.strategy === s);
      if (mine.length === 0) continue;
      ratios.push({
        strategy: s,
        profile: c.name,
        geomean: geomean(mine.map((r) => r.ratioToOracle.geomean)),
        p95: Math.max(...mine.map((r) => r.ratioToOracle.p95)),
      });
    }
  }
  await writeFile(
    file,
    renderChart({
      title: `storycast strategy lab — ${chartProfile}, ${size.toLocaleString('en-US')} recipients`,
      profile: chartProfile,
      recipients: size,
      traces,
      ratios,
    }),
  );
}

// Its errors come from its options, profile files and strategy modules: all the person's to fix.
main(process.argv.slice(2)).then((code) => process.exit(code), exitOnStartupError('bench', { alwaysBrief: true }));
