/**
 * Spreads the matrix over worker threads, a share of the cases each (the
 * slowest cases first, round-robin, so the shares come out even). Runs are
 * independent and seeded, so the result does not depend on the split.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RunResult } from './run.js';
import type { BenchInputs } from './setup.js';

export async function runInWorkers(
  inputs: BenchInputs,
  caseNames: readonly string[],
  onRun: () => void,
  workers = availableParallelism(),
): Promise<RunResult[]> {
  const count = Math.max(1, Math.min(workers, caseNames.length));
  const shares: string[][] = Array.from({ length: count }, () => []);
  caseNames.forEach((name, i) => {
    shares[i % count]!.push(name);
  });
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<RunResult[]>((resolve, reject) => {
          const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { inputs, caseNames: share } });
          worker.on('message', (m: { type: 'progress' } | { type: 'done'; runs: RunResult[] }) => {
            if (m.type === 'progress') onRun();
            else resolve(m.runs);
          });
          worker.once('error', reject);
          worker.once('exit', (code) => code !== 0 && reject(new Error(`benchmark worker exited with ${code}`)));
        }),
    ),
  );
  return results.flat();
}
