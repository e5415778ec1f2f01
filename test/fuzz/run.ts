/**
 * The fuzz run, by hand: N generated requests per RPC (10,000 by default)
 * against a real server on port 0, then the malformed-frame cases; prints the
 * summary table and exits non-zero if any property broke.
 * Run: node --expose-gc --import tsx test/fuzz/run.ts [--per-rpc 10000] [--seed 1]
 *   [--concurrency 8] [--only StoryService/SendStory,...] [--no-malformed] [--json report.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFuzz } from './harness.js';
import { formatReport } from './report.js';
import { violations } from './verdict.js';

const { values } = parseArgs({
  options: {
    'per-rpc': { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    only: { type: 'string' },
    'no-malformed': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const perRpc = Number(values['per-rpc']);
if (!Number.isInteger(perRpc) || perRpc < 1) throw new Error(`--per-rpc must be a positive integer, not ${values['per-rpc']}`);

const report = await runFuzz({
  perRpc,
  seed: Number(values.seed),
  concurrency: Number(values.concurrency),
  malformed: !values['no-malformed'],
  ...(values.only ? { only: values.only.split(',') } : {}),
  progress: (line) => console.error(`[fuzz] ${line}`),
});
if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
console.log(formatReport(report));
process.exitCode = violations(report).length === 0 ? 0 : 1;
