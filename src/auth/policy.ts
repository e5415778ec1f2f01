/**
 * What each RPC needs from a key: a role, and which sessions the call is
 * about (so a tenant's key reaches only its own sessions). One table, so an
 * RPC added without a line here is refused to everyone (the interceptor
 * fails closed) and a test that walks every served method says which.
 *
 * Roles: "send" starts and steers sends; "read" looks; "admin" changes what
 * a session is (linking, logging out, forgetting what it learnt) or what
 * every tenant's sends do (experiments). A sender that should also follow
 * its sends with WatchSend needs "read" too.
 */
import type { DescMethod } from '@bufbuild/protobuf';
import { ExperimentService } from '../gen/storycast/v1/experiment_service_pb.js';
import { SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../gen/storycast/v1/story_service_pb.js';
import type { Role } from './keys.js';

/**
 * Which sessions a call touches:
 * - session: the request's session_id;
 * - send: the session of the send named by send_id (looked up in the registry);
 * - sends-list: ListSends: its session_id filter, or without one the answer
 *   is narrowed to the key's sessions;
 * - schedule: the session of the schedule named by schedule_id;
 * - schedules-list: ListSchedules: its session_id filter, required of a key
 *   that reaches only some sessions;
 * - sessions-list: ListSessions: the answer is narrowed to the key's sessions;
 * - every-tenant: experiments steer and count the sends of every tenant, so
 *   changing one needs a key for every session ("sessions": ["*"]);
 * - none: nothing tenant-owned (the strategies the server offers, experiment reads).
 */
type Scope = 'session' | 'send' | 'sends-list' | 'schedule' | 'schedules-list' | 'sessions-list' | 'every-tenant' | 'none';

export interface RpcPolicy {
  /** undefined: any valid key. */
  readonly role: Role | undefined;
  readonly scope: Scope;
}

const rule = (role: Role | undefined, scope: Scope): RpcPolicy => ({ role, scope });

const POLICY: ReadonlyMap<DescMethod, RpcPolicy> = new Map<DescMethod, RpcPolicy>([
  [StoryService.method.sendStory, rule('send', 'session')],
  [StoryService.method.saveRecipientList, rule('send', 'session')],
  [StoryService.method.deleteRecipientList, rule('send', 'session')],
  [StoryService.method.getRecipientList, rule('read', 'session')],
  [StoryService.method.listRecipientLists, rule('read', 'session')],
  [StoryService.method.cancelSend, rule('send', 'send')],
  [StoryService.method.deleteSchedule, rule('send', 'schedule')],
  [StoryService.method.listSchedules, rule('read', 'schedules-list')],
  [StoryService.method.watchSend, rule('read', 'send')],
  [StoryService.method.getSend, rule('read', 'send')],
  [StoryService.method.listSends, rule('read', 'sends-list')],
  [StoryService.method.getSessionLearning, rule('read', 'session')],
  [StoryService.method.getStoryReceipts, rule('read', 'session')],
  // Forgetting what a session learnt changes how its next sends ramp: not a reader's call.
  [StoryService.method.resetSessionLearning, rule('admin', 'session')],
  // What the server offers, nobody's data: a send-only key may ask which strategy to name.
  [StoryService.method.listStrategies, rule(undefined, 'none')],
  [SessionService.method.connectSession, rule('admin', 'session')],
  [SessionService.method.logoutSession, rule('admin', 'session')],
  [SessionService.method.getSession, rule('read', 'session')],
  [SessionService.method.listContacts, rule('read', 'session')],
  [SessionService.method.listSessions, rule('read', 'sessions-list')],
  // Results are totals over every tenant's sends (no tenant's sends one by one).
  [ExperimentService.method.getExperiment, rule('read', 'none')],
  [ExperimentService.method.listExperiments, rule('read', 'none')],
  [ExperimentService.method.getExperimentResults, rule('read', 'none')],
  [ExperimentService.method.createExperiment, rule('admin', 'every-tenant')],
  [ExperimentService.method.updateExperiment, rule('admin', 'every-tenant')],
  [ExperimentService.method.stopExperiment, rule('admin', 'every-tenant')],
]);

/** The services whose every method needs a line in POLICY. */
export const GUARDED_SERVICES = [StoryService, SessionService, ExperimentService] as const;

export function policyOf(method: DescMethod): RpcPolicy | undefined {
  return POLICY.get(method);
}
