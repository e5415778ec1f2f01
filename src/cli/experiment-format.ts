/**
 * What `storycast experiment` prints as text: an experiment, the list, and
 * the results as tables. Pure: experiment.ts does the calls.
 */
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  type Experiment,
  ExperimentState,
  ExperimentUnit,
  type GetExperimentResultsResponse,
} from '../gen/storycast/v1/experiment_service_pb.js';
import { formatEstimate, formatMs, NOT_COMPUTABLE, pValue, share, signedShare } from './experiment-chart.js';

const iso = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const when = (t: Timestamp | undefined): string => (t ? iso(timestampDate(t)) : '-');
const stateName = (s: ExperimentState): string =>
  s === ExperimentState.STOPPED ? 'stopped' : s === ExperimentState.RUNNING ? 'running' : '-';
const unitName = (u: ExperimentUnit): string => (u === ExperimentUnit.SEND ? 'send' : 'session');
const twoDecimals = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : NOT_COMPUTABLE);

/** "control=adaptive:1* fast=bracket:2": the star marks the control. */
export function formatArms(e: Experiment): string {
  return e.arms.map((a) => `${a.name}=${a.strategy}:${a.weight}${a.control ? '*' : ''}`).join(' ');
}

/** Columns padded to their widest cell; numbers (`right`) aligned on the right. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatExperiment(e: Experiment): string[] {
  const lines = [
    `experiment  ${e.key}`,
    `state       ${stateName(e.state)}${e.state === ExperimentState.STOPPED ? ` (winner: ${e.winner || '-'}, stopped ${when(e.stopTime)})` : ''}`,
    `unit        ${unitName(e.unit)}`,
    `coverage    ${share(e.coverage)}`,
    `arms        ${formatArms(e)}   (* control)`,
    `created     ${when(e.createTime)}`,
  ];
  if (e.description !== '') lines.splice(1, 0, `description ${e.description}`);
  return lines;
}

export function formatExperimentList(experiments: readonly Experiment[]): string[] {
  if (experiments.length === 0) return ['no experiments'];
  return table(
    ['KEY', 'STATE', 'UNIT', 'COVERAGE', 'ARMS (* control)', 'CREATED'],
    experiments.map((e) => [e.key, stateName(e.state), unitName(e.unit), share(e.coverage), formatArms(e), when(e.createTime)]),
    [3],
  );
}

export function formatResults(r: GetExperimentResultsResponse): string[] {
  const arms = table(
    [
      'ARM',
      'STRATEGY',
      'CONTROL',
      'UNITS',
      'SENDS',
      'MS PER 1,000 RECIPIENTS [95% CI]',
      'FAILED CALLS/SEND [95% CI]',
      'GAVE UP',
      'FINISHED',
    ],
    r.arms.map((a) => [
      a.arm,
      a.strategy,
      a.control ? '*' : '',
      String(a.units),
      String(a.sends),
      formatEstimate(a.msPerThousand, formatMs),
      formatEstimate(a.failedCallsPerSend, twoDecimals),
      share(a.gaveUpShare),
      share(a.finishedShare),
    ]),
    [3, 4, 7, 8],
  );
  const control = r.arms.find((a) => a.control)?.arm ?? 'control';
  const comparisons =
    r.comparisons.length === 0
      ? ['no arms to compare with the control']
      : table(
          ['ARM', 'VS', 'TIME DIFFERENCE', '95% CI', 'P-VALUE', 'SIGNIFICANT'],
          r.comparisons.map((c) => [
            c.arm,
            control,
            signedShare(c.relativeDifference),
            Number.isFinite(c.ciLow) && Number.isFinite(c.ciHigh) ? `[${signedShare(c.ciLow)}, ${signedShare(c.ciHigh)}]` : NOT_COMPUTABLE,
            pValue(c.pValue),
            c.significant ? 'yes' : 'no',
          ]),
          [2, 4],
        );
  // Below 0.001 the units did not split as the weights say, and no difference can be trusted.
  const split = r.srmPValue < 0.001 ? 'the split is broken' : 'the split matches the weights';
  const srm = Number.isFinite(r.srmPValue) ? split : 'not computable yet';
  const e = r.experiment;
  return [
    `experiment ${e?.key ?? ''}  ${e ? `${stateName(e.state)}, unit ${unitName(e.unit)}, coverage ${share(e.coverage)}` : ''}`.trimEnd(),
    '',
    ...arms,
    '',
    `time per 1,000 recipients against the control (negative is faster):`,
    ...comparisons,
    '',
    `sample-ratio mismatch: p = ${pValue(r.srmPValue)} (${srm})`,
    `verdict: ${r.verdict}`,
  ];
}
