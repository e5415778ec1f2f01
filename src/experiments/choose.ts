/**
 * Which strategy a send gets, and why: the one the request names; else the
 * experiment's arm for the send's unit (the request's experiment, or the
 * server's default one), sticky once given; else the server's default. Only
 * a send an experiment assigned an arm is counted in it: one that named its
 * strategy, fell outside the coverage or came after the stop is not.
 */
import { randomUUID } from 'node:crypto';
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { StrategyChoice } from '../engine/engine.js';
import { chooseArm } from './assign.js';
import type { ExperimentStore } from './store.js';
import type { Experiment } from './types.js';

export interface ChoiceDeps {
  /** Undefined when the server does not offer it; '' is the default strategy. */
  readonly strategyNamed: (name: string) => AnyStrategy | undefined;
  readonly experiments: ExperimentStore;
  /** STORYCAST_DEFAULT_EXPERIMENT; '' for none. */
  readonly defaultExperiment: string;
}

export interface ChoiceRequest {
  readonly sessionId: string;
  readonly strategy: string;
  readonly experiment: string;
  readonly requestId: string;
}

export interface Chosen {
  /** Undefined when the named strategy is not offered (the caller says NOT_FOUND). */
  readonly strategy: AnyStrategy | undefined;
  readonly choice: StrategyChoice;
}

export class ExperimentNotFoundError extends Error {
  override readonly name = 'ExperimentNotFoundError';
  constructor(readonly key: string) {
    super(`no experiment "${key}" on this server`);
  }
}

export async function chooseStrategy(deps: ChoiceDeps, req: ChoiceRequest): Promise<Chosen> {
  const named = req.experiment || deps.defaultExperiment;
  if (req.strategy !== '') {
    const overrides = named ? `; it overrides experiment "${named}", which does not count this send` : '';
    return { strategy: deps.strategyNamed(req.strategy), choice: { reason: `named by the request${overrides}` } };
  }
  const fallback = (reason: string): Chosen => ({ strategy: deps.strategyNamed(''), choice: { reason } });
  if (!named) return fallback("the server's default strategy");
  const experiment = await deps.experiments.get(named);
  if (!experiment) {
    if (req.experiment) throw new ExperimentNotFoundError(req.experiment);
    // The server-wide default may be configured before the experiment is created: send as usual meanwhile.
    return fallback(`the server's default strategy (default experiment "${named}" does not exist yet)`);
  }
  const armNamed = (name: string | undefined) => experiment.arms.find((a) => a.name === name);
  const control = experiment.arms.find((a) => a.control)!;
  if (experiment.state === 'STOPPED') {
    const winner = armNamed(experiment.winner) ?? control;
    return withArm(deps, winner.strategy, { reason: `experiment "${experiment.key}" is stopped: its winner, arm "${winner.name}"` });
  }
  const unit = experiment.unit === 'SESSION' ? req.sessionId : req.requestId || `send-${randomUUID()}`;
  const picked = chooseArm(experiment, unit);
  if (picked === undefined) {
    return withArm(deps, control.strategy, {
      reason: `outside experiment "${experiment.key}"'s coverage (${coverageOf(experiment)}): the control's strategy, not counted`,
    });
  }
  // Sticky: a unit keeps the arm it got first, whatever the weights have become since.
  const armName = await deps.experiments.assign(experiment.key, unit, picked);
  const arm = armNamed(armName) ?? control;
  const by = experiment.unit === 'SESSION' ? `session "${req.sessionId}"` : req.requestId ? `request_id "${req.requestId}"` : 'this send';
  return withArm(deps, arm.strategy, {
    reason: `experiment "${experiment.key}", arm "${arm.name}" (assigned by ${by})`,
    experiment: experiment.key,
    arm: arm.name,
    unit,
    // Randomising sends: each arm learns apart (even two arms of one strategy), or one arm's proven size would start the other's sends.
    ...(experiment.unit === 'SEND' ? { memoryKey: `${req.sessionId}#experiment:${experiment.key}:${arm.name}` } : {}),
  });
}

function withArm(deps: ChoiceDeps, strategy: string, choice: StrategyChoice): Chosen {
  const found = deps.strategyNamed(strategy);
  if (found) return { strategy: found, choice };
  // An arm's strategy left the server (a module removed on restart): the default, and not counted.
  const { experiment: _e, arm: _a, unit: _u, memoryKey: _m, ...rest } = choice;
  return {
    strategy: deps.strategyNamed(''),
    choice: { ...rest, reason: `${choice.reason}; its strategy "${strategy}" is not offered, so the default` },
  };
}

function coverageOf(experiment: Experiment): string {
  return `${Math.round(experiment.coverage * 100)}%`;
}
