/**
 * From a SendStoryRequest to what the send registry starts: the request
 * checked, its strategy chosen (by name, an experiment's arm or the default),
 * its saved list and contacts read. SendStory starts sends through here, and
 * so does the scheduler when an occurrence comes, so a scheduled send is the
 * very send the same request would have started then.
 */
import { Code } from '@connectrpc/connect';
import type { SendStoryRequest } from '../gen/storycast/v1/story_service_pb.js';
import { chooseStrategy, ExperimentNotFoundError } from '../experiments/choose.js';
import type { ExperimentStore } from '../experiments/store.js';
import type { Logger } from '../log.js';
import {
  AfterEventOutOfRangeError,
  JournalUnavailableError,
  RequestIdReusedError,
  SendMovedError,
  SendNotFoundError,
  SessionElsewhereError,
} from '../sends/errors.js';
import type { StartRequest } from '../sends/registry-types.js';
import type { StrategyRegistry } from '../strategy-registry.js';
import { audienceOf, type AudienceDeps } from './audience.js';
import { invalidField, requireSessionId, storycastError, toConnectError } from './errors.js';
import { fingerprintOf } from './fingerprint.js';
import { storyFromProto } from './translate.js';

export interface SendRequestDeps {
  readonly strategies: StrategyRegistry;
  readonly experiments: ExperimentStore;
  /** STORYCAST_DEFAULT_EXPERIMENT; '' for none. */
  readonly defaultExperiment: string;
  /** Saved lists and contacts, for a request's recipient_list and all_contacts. */
  readonly audiences: AudienceDeps;
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const EXPERIMENT_KEY = /^[A-Za-z0-9._-]{1,64}$/;

/** The checks that need no store: session, story, experiment key and request_id, in the order callers have always seen. */
export function checkRequestShape(req: SendStoryRequest): { sessionId: string; story: ReturnType<typeof storyFromProto> } {
  const sessionId = requireSessionId(req.sessionId);
  const story = storyFromProto(req.story);
  if (req.experiment !== '' && !EXPERIMENT_KEY.test(req.experiment)) {
    throw invalidField(
      'experiment',
      'BAD_EXPERIMENT_KEY',
      'experiment must be an experiment key: letters, digits, dot, dash and underscore, at most 64',
    );
  }
  return { sessionId, story };
}

export function checkRequestId(requestId: string): void {
  if (requestId !== '' && !REQUEST_ID.test(requestId)) {
    throw invalidField('request_id', 'BAD_REQUEST_ID', 'request_id must be 1 to 128 printable ASCII characters without spaces');
  }
}

export function unknownStrategy(strategies: StrategyRegistry, name: string) {
  const have = strategies
    .list()
    .map((s) => s.name)
    .join(', ');
  return storycastError(Code.NotFound, 'UNKNOWN_STRATEGY', `strategy "${name}" is not offered here (have: ${have})`, {
    field: 'strategy',
  });
}

export function experimentNotFound(message: string) {
  return storycastError(Code.NotFound, 'EXPERIMENT_NOT_FOUND', message, { field: 'experiment' });
}

/**
 * What the registry starts for this request. `as` overrides its request_id
 * (a schedule's occurrence has one of its own) and gives the send id handed
 * out in advance, when there is one.
 */
export async function startRequestOf(
  deps: SendRequestDeps,
  req: SendStoryRequest,
  logger: Logger,
  as?: { readonly requestId: string; readonly sendId?: string },
): Promise<StartRequest> {
  const { sessionId, story } = checkRequestShape(req);
  const requestId = as?.requestId ?? req.requestId;
  const { strategy, choice } = await chooseStrategy(
    { strategyNamed: (name) => deps.strategies.get(name), experiments: deps.experiments, defaultExperiment: deps.defaultExperiment },
    { sessionId, strategy: req.strategy, experiment: req.experiment, requestId },
  ).catch((error: unknown) => {
    if (error instanceof ExperimentNotFoundError) throw experimentNotFound(error.message);
    throw storycastError(
      Code.Unavailable,
      'STORE_UNAVAILABLE',
      `the experiment store is unavailable: ${(error as Error).message}`,
      {},
      error,
    );
  });
  if (!strategy) throw unknownStrategy(deps.strategies, req.strategy);
  checkRequestId(requestId);
  const audience = await audienceOf(deps.audiences, sessionId, req);
  return {
    input: {
      sessionId,
      story,
      recipients: req.recipients,
      ...(audience ? { audience } : {}),
      strategy,
      choice,
      logger,
      ...(as?.sendId ? { sendId: as.sendId } : {}),
    },
    requestId,
    // Compared only between requests that carry one request_id: without one there is nothing to compare with.
    fingerprint: requestId === '' ? '' : fingerprintOf(req, strategy.name),
  };
}

/** Registry errors as what the caller should see; the rest as before (engine input errors included). */
export function sendError(error: unknown) {
  if (error instanceof SendNotFoundError) return storycastError(Code.NotFound, 'SEND_NOT_FOUND', error.message, { field: 'send_id' });
  if (error instanceof AfterEventOutOfRangeError) {
    return storycastError(Code.OutOfRange, 'AFTER_EVENT_OUT_OF_RANGE', error.message, { field: 'after_event' });
  }
  if (error instanceof SessionElsewhereError) {
    return storycastError(Code.Unavailable, 'SESSION_OWNED_ELSEWHERE', `${error.message}; send it there`, {
      session_id: error.sessionId,
    });
  }
  if (error instanceof SendMovedError) {
    return storycastError(Code.Unavailable, 'SEND_MOVED', error.message, { send_id: error.sendId, after_event: String(error.events) });
  }
  if (error instanceof JournalUnavailableError) {
    return storycastError(Code.Unavailable, 'JOURNAL_UNAVAILABLE', `${error.message}; nothing was sent`);
  }
  if (error instanceof RequestIdReusedError) {
    return storycastError(Code.AlreadyExists, 'REQUEST_ID_REUSED', error.message, { field: 'request_id', send_id: error.sendId });
  }
  return toConnectError(error);
}
