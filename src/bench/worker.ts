/**
 * A benchmark worker thread: rebuilds the same suite and strategies from the
 * same inputs (so nothing but names crosses the thread boundary), runs the
 * cases it is given, and posts the runs back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runMatrix } from './matrix.js';
import { resolveBench, type BenchInputs } from './setup.js';

const { inputs, caseNames } = workerData as { inputs: BenchInputs; caseNames: string[] };
const { cases, contenders, config } = await resolveBench(inputs);
const { runs } = await runMatrix({
  cases: cases.filter((c) => caseNames.includes(c.name)),
  contenders,
  recipients: inputs.recipients,
  seeds: inputs.seeds,
  config,
  onRun: () => parentPort!.postMessage({ type: 'progress' }),
});
parentPort!.postMessage({ type: 'done', runs });
