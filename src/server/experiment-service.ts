/**
 * ExperimentService handlers: check what an operator asks for, translate to
 * and from the experiment store, and hand results over from
 * src/experiments/results.ts. No statistics and no assignment here.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter } from '@connectrpc/connect';
import type { Clock } from '../clock.js';
import { experimentResults } from '../experiments/results.js';
import { ExperimentExistsError, type ExperimentChanges, type ExperimentStore } from '../experiments/store.js';
import type { Arm, Experiment } from '../experiments/types.js';
import {
  type Experiment as ExperimentProto,
  CreateExperimentResponseSchema,
  ExperimentSchema,
  ExperimentService,
  ExperimentState,
  ExperimentUnit,
  GetExperimentResponseSchema,
  ListExperimentsResponseSchema,
  StopExperimentResponseSchema,
  UpdateExperimentResponseSchema,
} from '../gen/storycast/v1/experiment_service_pb.js';
import type { StrategyRegistry } from '../strategy-registry.js';
import { invalidField, storycastError } from './errors.js';
import { resultsToProto } from './experiment-results.js';

export interface ExperimentServiceDeps {
  readonly experiments: ExperimentStore;
  readonly strategies: StrategyRegistry;
  readonly clock: Clock;
}

const KEY = /^[A-Za-z0-9._-]{1,64}$/;
const PAGE_SIZE = { default: 50, max: 500 } as const;

export function experimentServiceRoutes(deps: ExperimentServiceDeps) {
  const { experiments, strategies, clock } = deps;

  /** A store failure is the caller's business: UNAVAILABLE, not INTERNAL. */
  const stored = <T>(work: Promise<T>): Promise<T> =>
    work.catch((error: unknown) => {
      if (error instanceof ExperimentExistsError) {
        throw storycastError(Code.AlreadyExists, 'EXPERIMENT_EXISTS', error.message, { field: 'experiment.key' });
      }
      throw storycastError(
        Code.Unavailable,
        'STORE_UNAVAILABLE',
        `the experiment store is unavailable: ${(error as Error).message}`,
        {},
        error,
      );
    });

  const find = async (key: string, field = 'key'): Promise<Experiment> => {
    if (key === '') throw invalidField(field, 'MISSING_EXPERIMENT_KEY', `${field} is required`);
    const experiment = await stored(experiments.get(key));
    if (!experiment) throw storycastError(Code.NotFound, 'EXPERIMENT_NOT_FOUND', `no experiment "${key}" on this server`, { field });
    return experiment;
  };

  const validate = (proto: ExperimentProto | undefined): Experiment => {
    if (!proto) throw invalidField('experiment', 'MISSING_EXPERIMENT', 'experiment is required');
    if (!KEY.test(proto.key)) {
      throw invalidField(
        'experiment.key',
        'BAD_EXPERIMENT_KEY',
        'experiment.key must be 1 to 64 letters, digits, dots, dashes or underscores',
      );
    }
    if (proto.arms.length < 2)
      throw invalidField('experiment.arms', 'TOO_FEW_ARMS', `an experiment needs at least two arms; got ${proto.arms.length}`);
    const names = new Set<string>();
    const arms: Arm[] = proto.arms.map((arm, i) => {
      const at = `experiment.arms[${i}]`;
      if (arm.name.trim() === '') throw invalidField(`${at}.name`, 'MISSING_ARM_NAME', `${at}.name is required`);
      if (names.has(arm.name)) throw invalidField(`${at}.name`, 'DUPLICATE_ARM_NAME', `arm name "${arm.name}" is used twice`);
      names.add(arm.name);
      if (!strategies.get(arm.strategy) || arm.strategy === '') {
        const have = strategies
          .list()
          .map((s) => s.name)
          .join(', ');
        throw invalidField(`${at}.strategy`, 'UNKNOWN_STRATEGY', `strategy "${arm.strategy}" is not offered here (have: ${have})`);
      }
      if (!(arm.weight >= 1))
        throw invalidField(`${at}.weight`, 'BAD_WEIGHT', `${at}.weight must be a positive integer; got ${arm.weight}`);
      return { name: arm.name, strategy: arm.strategy, weight: arm.weight, control: arm.control };
    });
    const controls = arms.filter((a) => a.control).length;
    if (controls !== 1) {
      throw invalidField('experiment.arms', 'CONTROL_COUNT', `exactly one arm must be the control; ${controls} are`);
    }
    if (!(proto.coverage >= 0 && proto.coverage <= 1)) {
      throw invalidField('experiment.coverage', 'BAD_COVERAGE', `experiment.coverage must be between 0 and 1; got ${proto.coverage}`);
    }
    return {
      key: proto.key,
      description: proto.description,
      arms,
      unit: proto.unit === ExperimentUnit.SEND ? 'SEND' : 'SESSION',
      // 0 is proto3's "not set": the whole population.
      coverage: proto.coverage === 0 ? 1 : proto.coverage,
      state: 'RUNNING',
      createdAt: clock.now(),
    };
  };

  return (router: ConnectRouter) =>
    router.service(ExperimentService, {
      async createExperiment(req) {
        const experiment = validate(req.experiment);
        await stored(experiments.create(experiment));
        return create(CreateExperimentResponseSchema, { experiment: experimentToProto(experiment) });
      },

      async getExperiment(req) {
        return create(GetExperimentResponseSchema, { experiment: experimentToProto(await find(req.key)) });
      },

      async listExperiments(req) {
        if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
        const limit = req.pageSize === 0 ? PAGE_SIZE.default : Math.min(req.pageSize, PAGE_SIZE.max);
        const state = req.state === ExperimentState.RUNNING ? 'RUNNING' : req.state === ExperimentState.STOPPED ? 'STOPPED' : undefined;
        const after = decodeToken(req.pageToken, String(req.state));
        const found = await stored(experiments.list({ ...(state ? { state } : {}), ...(after ? { after } : {}), limit }));
        const page = found.slice(0, limit);
        const last = page.at(-1);
        return create(ListExperimentsResponseSchema, {
          experiments: page.map(experimentToProto),
          nextPageToken: found.length > limit && last ? encodeToken(last.key, String(req.state)) : '',
        });
      },

      async updateExperiment(req) {
        const proto = req.experiment;
        if (!proto) throw invalidField('experiment', 'MISSING_EXPERIMENT', 'experiment is required');
        const current = await find(proto.key, 'experiment.key');
        if (current.state !== 'RUNNING') {
          throw storycastError(
            Code.FailedPrecondition,
            'EXPERIMENT_STOPPED',
            `experiment "${current.key}" is stopped: it no longer changes`,
            {
              field: 'experiment.key',
            },
          );
        }
        const changes = changesOf(current, proto, req.updateMask?.paths ?? []);
        const updated = await stored(experiments.update(current.key, changes));
        return create(UpdateExperimentResponseSchema, { experiment: experimentToProto(updated ?? current) });
      },

      async stopExperiment(req) {
        const experiment = await find(req.key);
        const winner = req.winner === '' ? experiment.arms.find((a) => a.control)!.name : req.winner;
        if (!experiment.arms.some((a) => a.name === winner)) {
          throw invalidField('winner', 'UNKNOWN_ARM', `experiment "${experiment.key}" has no arm "${winner}"`);
        }
        const stopped = await stored(experiments.stop(experiment.key, { at: clock.now(), winner }));
        return create(StopExperimentResponseSchema, { experiment: experimentToProto(stopped ?? experiment) });
      },

      async getExperimentResults(req) {
        const experiment = await find(req.key);
        const outcomes = await stored(experiments.outcomes(experiment.key));
        const recipients = new Map<string, number>();
        for (const o of outcomes) recipients.set(o.arm, (recipients.get(o.arm) ?? 0) + o.recipients);
        return resultsToProto(experiment, experimentResults(experiment, outcomes), recipients);
      },
    });
}

const UPDATABLE = ['coverage', 'description', 'arms'] as const;

/**
 * What an update asks for, checked: only coverage, description and the arms'
 * weights change. Without a mask (AIP-134), whatever the request populates.
 */
function changesOf(current: Experiment, proto: ExperimentProto, mask: readonly string[]): ExperimentChanges {
  for (const path of mask) {
    if (!(UPDATABLE as readonly string[]).includes(path)) {
      throw invalidField('update_mask', 'NOT_UPDATABLE', `"${path}" cannot change (only ${UPDATABLE.join(', ')}: arms' weights)`);
    }
  }
  const asked = (path: (typeof UPDATABLE)[number], populated: boolean) => (mask.length ? mask.includes(path) : populated);
  let changes: ExperimentChanges = {};
  if (asked('coverage', proto.coverage !== 0)) {
    if (!(proto.coverage >= 0 && proto.coverage <= 1)) {
      throw invalidField('experiment.coverage', 'BAD_COVERAGE', `experiment.coverage must be between 0 and 1; got ${proto.coverage}`);
    }
    changes = { ...changes, coverage: proto.coverage === 0 ? 1 : proto.coverage };
  }
  if (asked('description', proto.description !== '')) changes = { ...changes, description: proto.description };
  if (asked('arms', proto.arms.length > 0)) {
    if (proto.arms.length !== current.arms.length) {
      throw invalidField(
        'experiment.arms',
        'ARMS_CHANGED',
        `the experiment has ${current.arms.length} arms; only their weights can change`,
      );
    }
    const arms = current.arms.map((arm, i) => {
      const next = proto.arms[i]!;
      const at = `experiment.arms[${i}]`;
      if (next.name !== arm.name || next.strategy !== arm.strategy || next.control !== arm.control) {
        throw invalidField(
          at,
          'ARMS_CHANGED',
          `${at} must stay "${arm.name}" (${arm.strategy}${arm.control ? ', control' : ''}): only its weight can change`,
        );
      }
      if (!(next.weight >= 1))
        throw invalidField(`${at}.weight`, 'BAD_WEIGHT', `${at}.weight must be a positive integer; got ${next.weight}`);
      return { ...arm, weight: next.weight };
    });
    changes = { ...changes, arms };
  }
  return changes;
}

export function experimentToProto(e: Experiment): ExperimentProto {
  return create(ExperimentSchema, {
    key: e.key,
    description: e.description,
    arms: e.arms.map((a) => ({ name: a.name, strategy: a.strategy, weight: a.weight, control: a.control })),
    unit: e.unit === 'SEND' ? ExperimentUnit.SEND : ExperimentUnit.SESSION,
    coverage: e.coverage,
    state: e.state === 'RUNNING' ? ExperimentState.RUNNING : ExperimentState.STOPPED,
    createTime: timestampFromMs(e.createdAt),
    ...(e.stoppedAt !== undefined ? { stopTime: timestampFromMs(e.stoppedAt) } : {}),
    winner: e.winner ?? '',
  });
}

/** AIP-158 tokens: opaque, the last key of the page, bound to the filter they were issued for. */
function encodeToken(key: string, binding: string): string {
  return Buffer.from(JSON.stringify({ k: key, b: binding })).toString('base64url');
}

function decodeToken(token: string, binding: string): string | undefined {
  if (token === '') return undefined;
  let parsed: { k?: unknown; b?: unknown } = {};
  try {
    parsed = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) ?? {}) as typeof parsed;
  } catch {
    // Falls through to the refusal below.
  }
  if (typeof parsed.k !== 'string' || parsed.b !== binding) {
    throw invalidField('page_token', 'BAD_PAGE_TOKEN', 'page_token is not one this server issued for this request');
  }
  return parsed.k;
}
