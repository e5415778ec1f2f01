/**
 * `npm run bench`: every registered strategy plus the `oracle` and `fixed`
 * baselines over the benchmark suite, in virtual time, through the real engine.
 * Prints a table and the targets; --json writes every row, --chart an SVG.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FIXED, ORACLE } from '../bench/baselines.js';
import { renderChart, type RatioCell } from '../bench/chart.js';
import { foldRows } from '../bench/matrix.js';
import { runInWorkers } from '../bench/parallel.js';
import { evaluateTargets, formatGivenUp, formatTable } from '../bench/report.js';
import { runOnce } from '../bench/run.js';
import { resolveBench, type BenchInputs } from '../bench/setup.js';
import { formatTrace } from '../bench/trace.js';
import { geomean } from '../bench/stats.js';
import { exitOnStartupError } from '../util/startup-error.js';

const HELP = `Usage: npm run bench -- [options]

Runs every strategy (built-in and STORYCAST_STRATEGY_MODULES) and the baselines
"oracle" (the physical limit) and "fixed" (the plain ramp) over the benchmark
suite (src/bench/profiles, the seed scenarios, memory cases), in virtual time.

  --recipients LIST   list sizes, comma-separated (default 1000,10000,100000)
  --seeds N           seeds per case, 1..N (default 5)
  --strategy NAME     only this strategy (repeatable; baselines always run)
  --case NAME         only this case of the suite (repeatable)
  --profile FILE      add a network profile (simulated transport schema; repeatable;
                      replaces a suite profile of the same name)
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
      profile: { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
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
  const inputs: BenchInputs = {
    strategies: values.strategy ?? [],
    profileFiles: values.profile ?? [],
    recipients,
    seeds: Array.from({ length: seedCount! }, (_, i) => i + 1),
    cases: values.case ?? [],
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
  const rows = foldRows(runs);
  if (process.stderr.isTTY) process.stderr.write('\r');
  const seconds = (performance.now() - started) / 1000;
  const seeds = inputs.seeds;

  console.log(formatTable(rows));
  const targets = builtinNames.length > 0 ? evaluateTargets(rows, runs, cases, builtinNames) : undefined;
  if (targets) {
    console.log(`\nTargets (best built-in: ${targets.best})`);
    for (const l of targets.lines) console.log(l.text);
  }
  console.log(`\n${formatGivenUp(runs)}`);
  console.log(
    `\n${runs.length} runs (${cases.length} cases x ${recipients.length} sizes x ${seeds.length} seeds x ${contenders.length} contenders) in ${seconds.toFixed(1)} s`,
  );

  if (values.json) {
    await writeFile(
      values.json,
      `${JSON.stringify({ rows, targets: targets?.lines ?? [], best: targets?.best, seeds: seeds.length, recipients, cases: cases.map((c) => ({ name: c.name, description: c.description })) }, null, 2)}\n`,
    );
  }
  if (values.chart) {
    const chartProfile = cases.some((c) => c.name === values['chart-profile']) ? values['chart-profile'] : cases[0]!.name;
    const size = recipients.includes(10_000) ? 10_000 : recipients[0]!;
    const traces = runs.filter((r) => r.case === chartProfile && r.recipients === size && r.seed === seeds[0]).map((r) => r.trace);
    const ratios: RatioCell[] = [];
    for (const c of cases) {
      for (const s of [FIXED, ...strategies.map((x) => x.name)]) {
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
      values.chart,
      renderChart({
        title: `storycast strategy lab — ${chartProfile}, ${size.toLocaleString('en-US')} recipients`,
        profile: chartProfile,
        recipients: size,
        traces,
        ratios,
      }),
    );
  }
  // Targets are measurements: missing one is reported above, not an error.
  return 0;
}

// Its errors come from its options, profile files and strategy modules: all the person's to fix.
main(process.argv.slice(2)).then((code) => process.exit(code), exitOnStartupError('bench', { alwaysBrief: true }));
