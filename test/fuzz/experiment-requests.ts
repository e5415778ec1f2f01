/**
 * ExperimentService requests, as create() inits: well-formed experiments on a
 * small pool of keys often enough that gets, updates, stops, results and sends
 * find them, and every way of being malformed besides.
 */
import fc from 'fast-check';
import { ExperimentState, ExperimentUnit } from '../../src/gen/storycast/v1/experiment_service_pb.js';
import {
  ARM_NAMES,
  double,
  EXPERIMENT_POOL,
  enumValue,
  experimentKey,
  garbageToken,
  idShaped,
  int32,
  maybe,
  nastyString,
  STRATEGY_NAMES,
  strategyName,
  timestamp,
  uint32,
} from './values.js';

const unit = enumValue([ExperimentUnit.UNSPECIFIED, ExperimentUnit.SESSION, ExperimentUnit.SEND]);
const state = enumValue([ExperimentState.UNSPECIFIED, ExperimentState.RUNNING, ExperimentState.STOPPED]);

const anyArm = fc.record({
  name: fc.oneof(fc.constantFrom(...ARM_NAMES), nastyString),
  strategy: fc.oneof(fc.constantFrom(...STRATEGY_NAMES), strategyName),
  weight: uint32,
  control: fc.boolean(),
});

/** Two to four arms with distinct names, known strategies, positive weights (some huge) and exactly one control. */
const goodArms = fc
  .tuple(
    fc.integer({ min: 2, max: ARM_NAMES.length }),
    fc.array(fc.constantFrom(...STRATEGY_NAMES), { minLength: ARM_NAMES.length, maxLength: ARM_NAMES.length }),
    fc.array(fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constantFrom(2 ** 31, 2 ** 32 - 1)), {
      minLength: ARM_NAMES.length,
      maxLength: ARM_NAMES.length,
    }),
  )
  .map(([n, strategies, weights]) =>
    ARM_NAMES.slice(0, n).map((name, i) => ({ name, strategy: strategies[i]!, weight: weights[i]!, control: i === 0 })),
  );

/** A thousand arms, all valid: what assignment and results do with more arms than anyone would use. */
const thousandArms = fc
  .constantFrom(...STRATEGY_NAMES)
  .map((strategy) => Array.from({ length: 1000 }, (_, i) => ({ name: `arm-${i}`, strategy, weight: 1 + (i % 7), control: i === 0 })));

const arms = fc.oneof(
  { arbitrary: goodArms, weight: 6 },
  { arbitrary: fc.array(anyArm, { maxLength: 6 }), weight: 4 },
  { arbitrary: thousandArms, weight: 1 },
);

const goodExperiment = fc.record({
  key: fc.constantFrom(...EXPERIMENT_POOL),
  description: fc.oneof(fc.constant('fuzz'), nastyString),
  arms: goodArms,
  unit,
  coverage: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
});

const anyExperiment = fc.record({
  key: experimentKey,
  description: nastyString,
  arms,
  unit,
  coverage: double,
  state,
  createTime: maybe(timestamp),
  stopTime: maybe(timestamp),
  winner: nastyString,
});

const experiment = fc.oneof({ arbitrary: goodExperiment, weight: 3 }, { arbitrary: anyExperiment, weight: 4 });

const updateMask = maybe(
  fc.record({
    paths: fc.array(fc.oneof(fc.constantFrom('coverage', 'description', 'arms', 'key', 'arms.weight', 'state', ''), nastyString), {
      maxLength: 5,
    }),
  }),
);

const keyOnly = fc.record({ key: experimentKey });

/** Half the pool only: the other half stays running, so updates have something to succeed on. */
const stopKey = fc.oneof(
  { arbitrary: fc.constantFrom(...EXPERIMENT_POOL.slice(0, 3)), weight: 8 },
  { arbitrary: idShaped, weight: 2 },
  { arbitrary: nastyString, weight: 3 },
);

export const experimentRequests = {
  CreateExperiment: fc.record({ experiment: fc.option(experiment, { nil: undefined, freq: 10 }) }),
  GetExperiment: keyOnly,
  ListExperiments: fc
    .record({ state, pageSize: int32, pageToken: garbageToken, forge: fc.option(fc.oneof(fc.string(), fc.integer(), fc.constant(null))) })
    // A token shaped like the server's (the last key, bound to the state filter).
    .map(({ forge, ...req }) =>
      forge === null ? req : { ...req, pageToken: Buffer.from(JSON.stringify({ k: forge, b: String(req.state) })).toString('base64url') },
    ),
  UpdateExperiment: fc.oneof(
    fc.record({ experiment: fc.option(experiment, { nil: undefined, freq: 10 }), updateMask }),
    // What may change (description, coverage) on experiments StopExperiment leaves running: updates that can succeed.
    fc.record({
      experiment: fc.record({
        key: fc.constantFrom(...EXPERIMENT_POOL.slice(3)),
        description: nastyString,
        coverage: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      updateMask: maybe(fc.record({ paths: fc.subarray(['coverage', 'description']) })),
    }),
  ),
  StopExperiment: fc.record({ key: stopKey, winner: fc.oneof(fc.constant(''), fc.constantFrom(...ARM_NAMES), nastyString) }),
  GetExperimentResults: keyOnly,
} as const;
