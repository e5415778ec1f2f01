/**
 * Issue 18, point 5, in CI: the fuzz harness (test/fuzz) at 200 generated
 * requests per RPC (the extremes included: 100,000 garbage recipients, text at
 * the 16 MiB read limit, media of 4 MiB, empty oneofs) over gRPC, gRPC-Web and
 * Connect on a real port, then every malformed HTTP/2 and protocol case.
 * `npm run fuzz` runs the same at 10,000 per RPC. FUZZ_SEED replays another seed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type FuzzReport, runFuzz } from './fuzz/harness.js';
import { MALFORMED_CASES } from './fuzz/malformed.js';
import type { FindingKind } from './fuzz/requests.js';
import { RPCS } from './fuzz/rpcs.js';
import { MEMORY_BOUND_BYTES } from './fuzz/verdict.js';

const PER_RPC = 200;
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_501);

let report: FuzzReport;

beforeAll(async () => {
  report = await runFuzz({ perRpc: PER_RPC, seed: SEED });
}, 300_000);

/** Per RPC, how many answers of a kind, with an example: readable when it fails. */
function offenders(count: (r: FuzzReport['rpcs'][number]) => number, kind: FindingKind): string[] {
  return report.rpcs
    .filter((r) => count(r) > 0)
    .map((r) => {
      const example = report.findings.find((f) => f.rpc === r.rpc && f.kind === kind);
      return `${r.rpc}: ${count(r)}${example ? `, e.g. ${example.input.slice(0, 200)} -> ${example.answer.slice(0, 160)}` : ''}`;
    });
}

describe(`fuzzing every RPC with ${PER_RPC} generated requests (seed ${SEED})`, () => {
  it('drives every RPC of the three services, every request to an answer', () => {
    expect(report.rpcs.map((r) => r.rpc)).toEqual(RPCS.map((r) => r.name));
    expect(report.rpcs.filter((r) => r.sent !== PER_RPC)).toEqual([]);
  });

  it('answers each request with a proper status: never a reset, a missing grpc-status or an unknown code', () => {
    expect(offenders((r) => r.noStatus, 'no status')).toEqual([]);
  });

  it('never answers INTERNAL or UNKNOWN for a request that decodes', () => {
    expect(offenders((r) => r.internal, 'INTERNAL')).toEqual([]);
    expect(offenders((r) => r.unknown, 'UNKNOWN')).toEqual([]);
  });

  it('answers OK only with responses that decode (exactly one for a unary call)', () => {
    expect(offenders((r) => r.badResponses, 'bad response')).toEqual([]);
  });

  it('gets both past validation and stopped by it, on every RPC', () => {
    // A generator whose requests all hit one wall tests that wall only.
    const oneSided = report.rpcs.filter((r) => !(r.codes[0] && r.codes[3])).map((r) => `${r.rpc}: ${JSON.stringify(r.codes)}`);
    expect(oneSided).toEqual([]);
  });

  it('answers every malformed HTTP/2, gRPC, gRPC-Web and Connect case properly, and stays up after each', () => {
    expect(report.malformed).toHaveLength(MALFORMED_CASES.length);
    expect(report.malformed.filter((m) => !m.ok).map((m) => `${m.name}: expected ${m.expected}; got ${m.answer}`)).toEqual([]);
  });

  it('leaves no unhandled rejection, uncaught exception, process warning or server error log', () => {
    expect(report.unhandledRejections).toEqual([]);
    expect(report.uncaughtExceptions).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.serverErrorLogs).toEqual([]);
  });

  it('is still SERVING afterwards, with every send ended', () => {
    expect(report.health.map((h) => h.status)).toEqual(report.health.map(() => 'SERVING'));
    expect(report.health.length).toBeGreaterThan(1);
    expect(report.sendsStillRunning).toBe(0);
  });

  it('gives memory back: heapUsed after a forced GC, the send retention passed, stays near the baseline', () => {
    expect(report.memory.after.heapUsed - report.memory.baseline.heapUsed).toBeLessThan(MEMORY_BOUND_BYTES);
  });
});
