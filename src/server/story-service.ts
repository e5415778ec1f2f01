/**
 * StoryService handlers: thin translations between the API and the engine,
 * session memory and strategy registry. No scaling logic lives here.
 */
import { create } from '@bufbuild/protobuf';
import { Code, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { builtinStrategies } from '../../strategies/index.js';
import type { SendEngine } from '../engine/engine.js';
import {
  GetSessionLearningResponseSchema,
  ListStrategiesResponseSchema,
  ResetSessionLearningResponseSchema,
  StoryService,
  type SendStoryRequest,
  type SendStoryResponse,
} from '../../clients/typescript/src/gen/storycast/v1/story_service_pb.js';
import type { SessionMemory } from '../memory/types.js';
import type { StrategyRegistry } from '../strategy-registry.js';
import { loggerOf } from './context.js';
import { requireSessionId, storycastError, toConnectError } from './errors.js';
import type { RunningSends } from './sends.js';
import { eventToProto, historyToProto, storyFromProto } from './translate.js';

export interface StoryServiceDeps {
  readonly engine: SendEngine;
  readonly memory: SessionMemory;
  readonly strategies: StrategyRegistry;
  readonly sends: RunningSends;
  readonly memoryTtlMs: number;
}

/** A store failure on an operator call is the caller's business: UNAVAILABLE, not a silent miss. */
function storeUnavailable(error: unknown) {
  return storycastError(Code.Unavailable, 'STORE_UNAVAILABLE', `session memory store unavailable: ${(error as Error).message}`, {}, error);
}

export function storyServiceRoutes(deps: StoryServiceDeps) {
  const { engine, memory, strategies, sends } = deps;

  async function* sendStory(req: SendStoryRequest, ctx: HandlerContext): AsyncGenerator<SendStoryResponse> {
    if (!sends.accepting) throw storycastError(Code.Unavailable, 'SHUTTING_DOWN', 'the server is shutting down; retry on another instance');
    const sessionId = requireSessionId(req.sessionId);
    const story = storyFromProto(req.story);
    const strategy = strategies.get(req.strategy);
    if (!strategy) {
      throw storycastError(
        Code.NotFound,
        'UNKNOWN_STRATEGY',
        `strategy "${req.strategy}" is not offered here (have: ${strategies.list().map((s) => s.name).join(', ')})`,
        { field: 'strategy' },
      );
    }
    const send = sends.start(ctx.signal);
    try {
      const events = engine.send({ sessionId, story, recipients: req.recipients, strategy, signal: send.signal, logger: loggerOf(ctx) });
      for await (const event of events) yield eventToProto(event);
    } catch (error) {
      throw toConnectError(error);
    } finally {
      send.done();
    }
  }

  return (router: ConnectRouter) =>
    router.service(StoryService, {
      sendStory,

      async getSessionLearning(req) {
        const sessionId = requireSessionId(req.sessionId);
        const history = await memory.inspect(sessionId).catch((error: unknown) => {
          throw storeUnavailable(error);
        });
        return create(GetSessionLearningResponseSchema, history ? { found: true, history: historyToProto(history, deps.memoryTtlMs) } : { found: false });
      },

      async resetSessionLearning(req) {
        const sessionId = requireSessionId(req.sessionId);
        const existed = await memory.reset(sessionId).catch((error: unknown) => {
          throw storeUnavailable(error);
        });
        return create(ResetSessionLearningResponseSchema, { existed });
      },

      async listStrategies() {
        return create(ListStrategiesResponseSchema, {
          strategies: strategies.list().map((s) => ({ name: s.name, description: s.description, builtin: builtinStrategies.includes(s) })),
          defaultStrategy: strategies.defaultName,
        });
      },
    });
}
