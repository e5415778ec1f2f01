/**
 * Experiments through the API, in memory over the server's own handler:
 * creating and checking them, SendStory choosing a strategy by arm (and
 * saying so in `planned`), what is and is not counted, stopping, results,
 * and session memory kept apart per arm when sends are the unit.
 */
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { ExperimentService, ExperimentState, ExperimentUnit } from '../src/gen/storycast/v1/experiment_service_pb.js';
import { StoryService, type SendStoryRequest, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };
const reasonOf = (error: unknown) => ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
const plannedOf = (events: readonly SendStoryResponse[]) => (events[0]?.event.case === 'planned' ? events[0].event.value : undefined);

interface ArmInit {
  readonly name: string;
  readonly strategy: string;
  readonly weight: number;
  readonly control: boolean;
}
interface ExperimentInit {
  readonly key?: string;
  readonly arms?: ArmInit[];
  readonly unit?: ExperimentUnit;
  readonly coverage?: number;
}

const twoArms = (key: string, over: ExperimentInit = {}) => ({
  experiment: {
    key,
    description: 'bracket against adaptive',
    arms: <ArmInit[]>[
      { name: 'control', strategy: 'adaptive', weight: 1, control: true },
      { name: 'bracket', strategy: 'bracket', weight: 1, control: false },
    ],
    ...over,
  },
});

describe('ExperimentService and experiments in SendStory', () => {
  let t: TestApp;
  let experiments: Client<typeof ExperimentService>;
  let stories: Client<typeof StoryService>;
  const send = (over: Partial<SendStoryRequest>, n = 300) =>
    collectStream(stories.sendStory({ sessionId: 's-0', story, recipients: numbers(n), ...over } as SendStoryRequest));

  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_SIM_TIME_SCALE: '1000', STORYCAST_DEFAULT_EXPERIMENT: 'server-wide' });
    experiments = createClient(ExperimentService, t.transport);
    stories = createClient(StoryService, t.transport);
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses a bad experiment with INVALID_ARGUMENT naming the field, and a taken key with ALREADY_EXISTS', async () => {
    const arms = twoArms('x').experiment.arms;
    const cases: Array<[ExperimentInit, string, string]> = [
      [{ key: '' }, 'experiment.key', 'BAD_EXPERIMENT_KEY'],
      [{ key: 'has space' }, 'experiment.key', 'BAD_EXPERIMENT_KEY'],
      [{ arms: arms.slice(0, 1) }, 'experiment.arms', 'TOO_FEW_ARMS'],
      [{ arms: [arms[0]!, { ...arms[1]!, strategy: 'nope' }] }, 'experiment.arms[1].strategy', 'UNKNOWN_STRATEGY'],
      [{ arms: [arms[0]!, { ...arms[1]!, weight: 0 }] }, 'experiment.arms[1].weight', 'BAD_WEIGHT'],
      [{ arms: [arms[0]!, { ...arms[1]!, control: true }] }, 'experiment.arms', 'CONTROL_COUNT'],
      [{ arms: [{ ...arms[0]!, control: false }, arms[1]!] }, 'experiment.arms', 'CONTROL_COUNT'],
      [{ arms: [arms[0]!, { ...arms[1]!, name: 'control' }] }, 'experiment.arms[1].name', 'DUPLICATE_ARM_NAME'],
      [{ coverage: 1.5 }, 'experiment.coverage', 'BAD_COVERAGE'],
      [{ coverage: -0.1 }, 'experiment.coverage', 'BAD_COVERAGE'],
    ];
    for (const [over, field, reason] of cases) {
      const error = await experiments.createExperiment(twoArms('bad', over)).catch((e: unknown) => ConnectError.from(e));
      expect(error, `${field} ${reason}`).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect(reasonOf(error)).toMatchObject({ reason, metadata: { field } });
    }
    await experiments.createExperiment(twoArms('taken'));
    const taken = await experiments.createExperiment(twoArms('taken')).catch((e: unknown) => ConnectError.from(e));
    expect((taken as ConnectError).code).toBe(Code.AlreadyExists);
    expect(reasonOf(taken)).toMatchObject({ reason: 'EXPERIMENT_EXISTS', metadata: { field: 'experiment.key' } });
    const missing = await experiments.getExperiment({ key: 'missing' }).catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
  });

  it('assigns by session, sticks, says so in planned, and counts the send for its arm', async () => {
    const created = await experiments.createExperiment(twoArms('by-session'));
    expect(created.experiment).toMatchObject({
      key: 'by-session',
      unit: ExperimentUnit.SESSION,
      coverage: 1,
      state: ExperimentState.RUNNING,
    });
    const arms = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const sessionId = `sess-${i}`;
      for (let round = 0; round < 2; round++) {
        const { events, error } = await send({ sessionId, experiment: 'by-session' }, 50);
        expect(error).toBeUndefined();
        const planned = plannedOf(events)!;
        expect(planned.experiment).toBe('by-session');
        expect(planned.strategyReason).toContain(`session "${sessionId}"`);
        expect(planned.strategy).toBe(planned.arm === 'control' ? 'adaptive' : 'bracket');
        if (round === 1) expect(planned.arm).toBe(arms.get(sessionId));
        arms.set(sessionId, planned.arm);
      }
    }
    expect(new Set(arms.values()).size).toBe(2);
    await vi.waitFor(async () => {
      const results = await experiments.getExperimentResults({ key: 'by-session' });
      expect(results.arms.reduce((n, a) => n + a.sends, 0)).toBe(24);
      expect(results.arms.reduce((n, a) => n + a.units, 0)).toBe(12);
    });
    const results = await experiments.getExperimentResults({ key: 'by-session' });
    expect(results.arms[0]).toMatchObject({ arm: 'control', control: true, strategy: 'adaptive' });
    expect(results.comparisons.map((c) => c.arm)).toEqual(['bracket']);
    expect(results.enoughData).toBe(false);
    expect(results.verdict).toMatch(/not enough data/i);
  });

  it('an explicit strategy overrides the experiment and is not counted; an unknown experiment is NOT_FOUND', async () => {
    await experiments.createExperiment(twoArms('override'));
    const { events } = await send({ sessionId: 'o-1', experiment: 'override', strategy: 'conservative' }, 20);
    expect(plannedOf(events)).toMatchObject({ strategy: 'conservative', experiment: '', arm: '' });
    expect(plannedOf(events)!.strategyReason).toContain('overrides experiment "override"');
    const results = await experiments.getExperimentResults({ key: 'override' });
    expect(results.arms.every((a) => a.sends === 0)).toBe(true);
    const { error } = await send({ experiment: 'no-such-experiment' }, 5);
    expect(error?.code).toBe(Code.NotFound);
    expect(reasonOf(error)).toMatchObject({ reason: 'EXPERIMENT_NOT_FOUND', metadata: { field: 'experiment' } });
  });

  it('STORYCAST_DEFAULT_EXPERIMENT applies once it exists; before that the default strategy, said so', async () => {
    const before = plannedOf((await send({ sessionId: 'd-1' }, 5)).events)!;
    expect(before).toMatchObject({ strategy: 'adaptive', experiment: '' });
    expect(before.strategyReason).toContain('"server-wide" does not exist yet');
    await experiments.createExperiment(twoArms('server-wide'));
    expect(plannedOf((await send({ sessionId: 'd-1' }, 5)).events)).toMatchObject({ experiment: 'server-wide' });
  });

  it('stopping: new sends get the winner and are not counted; what was recorded stays', async () => {
    await experiments.createExperiment(twoArms('to-stop'));
    await send({ sessionId: 'st-1', experiment: 'to-stop' }, 20);
    await vi.waitFor(async () => {
      expect((await experiments.getExperimentResults({ key: 'to-stop' })).arms.reduce((n, a) => n + a.sends, 0)).toBe(1);
    });
    const bad = await experiments.stopExperiment({ key: 'to-stop', winner: 'nope' }).catch((e: unknown) => ConnectError.from(e));
    expect(reasonOf(bad)).toMatchObject({ reason: 'UNKNOWN_ARM', metadata: { field: 'winner' } });
    const stopped = await experiments.stopExperiment({ key: 'to-stop', winner: 'bracket' });
    expect(stopped.experiment).toMatchObject({ state: ExperimentState.STOPPED, winner: 'bracket' });
    const after = plannedOf((await send({ sessionId: 'st-2', experiment: 'to-stop' }, 20)).events)!;
    expect(after).toMatchObject({ strategy: 'bracket', experiment: '', arm: '' });
    expect(after.strategyReason).toContain('stopped');
    expect((await experiments.getExperimentResults({ key: 'to-stop' })).arms.reduce((n, a) => n + a.sends, 0)).toBe(1);
    const listed = await experiments.listExperiments({ state: ExperimentState.STOPPED });
    expect(listed.experiments.map((e) => e.key)).toContain('to-stop');
  });

  it('with unit SEND, each arm learns in its own session memory, apart from the session and from each other', async () => {
    await experiments.createExperiment(twoArms('by-send', { unit: ExperimentUnit.SEND }));
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const planned = plannedOf((await send({ sessionId: 'shared', experiment: 'by-send', requestId: `by-send-${i}` }, 400)).events)!;
      expect(planned.strategyReason).toContain(`request_id "by-send-${i}"`);
      seen.add(planned.strategy);
    }
    expect(seen).toEqual(new Set(['adaptive', 'bracket']));
    const memory = t.runtime.memory;
    await vi.waitFor(async () => {
      expect(await memory.inspect('shared#experiment:by-send:control')).toBeTruthy();
      expect(await memory.inspect('shared#experiment:by-send:bracket')).toBeTruthy();
    });
    expect(await memory.inspect('shared')).toBeFalsy();
  });

  it('UpdateExperiment: new weights and coverage reach new units only; a unit with an arm keeps it', async () => {
    await experiments.createExperiment(twoArms('tuned', { coverage: 0.5 }));
    const armOf = async (sessionId: string) => plannedOf((await send({ sessionId, experiment: 'tuned' }, 5)).events)!.arm;
    const before = new Map<string, string>();
    for (let i = 0; i < 40; i++) before.set(`t-${i}`, await armOf(`t-${i}`));
    const inside = [...before].filter(([, arm]) => arm !== '');
    expect(inside.length).toBeGreaterThan(5);
    expect(inside.length).toBeLessThan(35);

    const updated = await experiments.updateExperiment({
      experiment: {
        key: 'tuned',
        coverage: 1,
        arms: [{ ...twoArms('x').experiment.arms[0]! }, { ...twoArms('x').experiment.arms[1]!, weight: 9 }],
      },
      updateMask: { paths: ['coverage', 'arms'] },
    });
    expect(updated.experiment).toMatchObject({ coverage: 1, arms: [{ weight: 1 }, { weight: 9 }] });
    const after = new Map<string, string>();
    for (const sessionId of before.keys()) after.set(sessionId, await armOf(sessionId));
    // Raising the coverage only added units, and no unit that had an arm moved, whatever the new weights say.
    for (const [sessionId, arm] of inside) expect(after.get(sessionId)).toBe(arm);
    expect([...after.values()].every((arm) => arm !== '')).toBe(true);
    const newcomers: string[] = [];
    for (let i = 0; i < 30; i++) newcomers.push(await armOf(`n-${i}`));
    expect(newcomers.filter((arm) => arm === 'bracket').length).toBeGreaterThan(20);
  });

  it('UpdateExperiment refuses what cannot change, and a stopped experiment', async () => {
    await experiments.createExperiment(twoArms('fixed'));
    const arms = twoArms('x').experiment.arms;
    const refusals: Array<[Parameters<typeof experiments.updateExperiment>[0], Code, string, string]> = [
      [
        { experiment: { key: 'fixed', unit: ExperimentUnit.SEND }, updateMask: { paths: ['unit'] } },
        Code.InvalidArgument,
        'NOT_UPDATABLE',
        'update_mask',
      ],
      [
        { experiment: { key: 'fixed', arms: [arms[0]!, { ...arms[1]!, strategy: 'conservative' }] } },
        Code.InvalidArgument,
        'ARMS_CHANGED',
        'experiment.arms[1]',
      ],
      [{ experiment: { key: 'fixed', arms: [arms[0]!] } }, Code.InvalidArgument, 'ARMS_CHANGED', 'experiment.arms'],
      [
        { experiment: { key: 'fixed', arms: [arms[0]!, { ...arms[1]!, weight: 0 }] }, updateMask: { paths: ['arms'] } },
        Code.InvalidArgument,
        'BAD_WEIGHT',
        'experiment.arms[1].weight',
      ],
      [{ experiment: { key: 'fixed', coverage: 2 } }, Code.InvalidArgument, 'BAD_COVERAGE', 'experiment.coverage'],
      [{ experiment: { key: 'nope', coverage: 0.5 } }, Code.NotFound, 'EXPERIMENT_NOT_FOUND', 'experiment.key'],
    ];
    for (const [req, code, reason, field] of refusals) {
      const error = await experiments.updateExperiment(req).catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code, reason).toBe(code);
      expect(reasonOf(error)).toMatchObject({ reason, metadata: { field } });
    }
    expect((await experiments.updateExperiment({ experiment: { key: 'fixed', description: 'notes' } })).experiment).toMatchObject({
      description: 'notes',
      coverage: 1,
    });
    await experiments.stopExperiment({ key: 'fixed' });
    const stopped = await experiments
      .updateExperiment({ experiment: { key: 'fixed', coverage: 0.5 } })
      .catch((e: unknown) => ConnectError.from(e));
    expect((stopped as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(reasonOf(stopped)?.reason).toBe('EXPERIMENT_STOPPED');
  });
});
