/** GetExperimentResults: the computed results (src/experiments/results.ts) as the API's messages. */
import { create } from '@bufbuild/protobuf';
import type { ExperimentResults, Interval } from '../experiments/results.js';
import type { Computed } from '../experiments/stats.js';
import type { Experiment } from '../experiments/types.js';
import { GetExperimentResultsResponseSchema, type GetExperimentResultsResponse } from '../gen/storycast/v1/experiment_service_pb.js';
import { experimentToProto } from './experiment-service.js';

/** A metric that could not be computed (too few units, no variance) reads as NaN: "no number", not a zero. */
function estimate(value: Computed<Interval>) {
  return value.ok
    ? { mean: value.estimate, ciLow: value.lower, ciHigh: value.upper }
    : { mean: Number.NaN, ciLow: Number.NaN, ciHigh: Number.NaN };
}

export function resultsToProto(
  experiment: Experiment,
  results: ExperimentResults,
  recipientsPerArm: ReadonlyMap<string, number>,
): GetExperimentResultsResponse {
  const control = results.arms.filter((a) => a.control);
  const others = results.arms.filter((a) => !a.control);
  return create(GetExperimentResultsResponseSchema, {
    experiment: experimentToProto(experiment),
    arms: [...control, ...others].map((a) => ({
      arm: a.arm,
      strategy: a.strategy,
      control: a.control,
      units: a.units,
      sends: a.sends,
      msPerThousand: estimate(a.timePer1000Recipients),
      failedCallsPerSend: estimate(a.failedCallsPerSend),
      gaveUpShare: a.givenUpShare ?? Number.NaN,
      finishedShare: a.finishedShare ?? Number.NaN,
      recipients: BigInt(recipientsPerArm.get(a.arm) ?? 0),
      unitMsPerThousand: [...a.unitValues],
    })),
    comparisons: results.comparisons.map((c) => {
      const time = c.timePer1000Recipients;
      return time.ok
        ? {
            arm: c.arm,
            relativeDifference: time.relative,
            ciLow: time.lower,
            ciHigh: time.upper,
            pValue: time.pValue,
            significant: c.significant,
          }
        : { arm: c.arm, relativeDifference: Number.NaN, ciLow: Number.NaN, ciHigh: Number.NaN, pValue: Number.NaN, significant: false };
    }),
    srmPValue: results.srmPValue ?? Number.NaN,
    verdict: results.verdict,
    enoughData: results.enoughData,
  });
}
