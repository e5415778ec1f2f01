/** Every service the server offers, in one place. */
import type { ConnectRouter } from '@connectrpc/connect';
import { file_storycast_v1_session_service, SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { file_storycast_v1_story_service, StoryService } from '../gen/storycast/v1/story_service_pb.js';
import type { Clock } from '../clock.js';
import { ExperimentService, file_storycast_v1_experiment_service } from '../gen/storycast/v1/experiment_service_pb.js';
import { file_google_rpc_error_details } from '../gen/google/rpc/error_details_pb.js';
import { file_storycast_v1_recipient_list } from '../gen/storycast/v1/recipient_list_pb.js';
import { file_storycast_v1_schedule } from '../gen/storycast/v1/schedule_pb.js';
import type { Scheduler } from '../schedules/scheduler.js';
import type { SendRequestDeps } from './send-request.js';
import type { Runtime } from '../runtime.js';
import { experimentServiceRoutes } from './experiment-service.js';
import { grpcPlugins, type HealthStatusSource } from './grpc-plugins/index.js';
import type { SendRegistry } from '../sends/registry.js';
import type { RunningSends } from './sends.js';
import { sessionServiceRoutes } from './session-service.js';
import { storyServiceRoutes } from './story-service.js';

/** Services with a health status of their own. */
export const SERVED_SERVICES: readonly string[] = [StoryService.typeName, SessionService.typeName, ExperimentService.typeName];

export function routes(deps: {
  runtime: Runtime;
  health: HealthStatusSource;
  sends: RunningSends;
  registry: SendRegistry;
  scheduler: Scheduler;
  clock: Clock;
}) {
  const { runtime, health, sends, registry } = deps;
  const story = storyServiceRoutes({
    memory: runtime.memory,
    strategies: runtime.strategies,
    sends,
    registry,
    memoryTtlMs: runtime.config.smartSend.sessionMemoryTTL,
    receipts: runtime.receipts,
    experiments: runtime.experiments,
    defaultExperiment: runtime.config.server.defaultExperiment,
    lists: runtime.lists,
    contacts: runtime.contacts,
    sessions: runtime.sessions,
    maxRecipients: runtime.config.server.maxRecipients,
    schedules: runtime.schedules,
    scheduler: deps.scheduler,
    clock: deps.clock,
  });
  const experiments = experimentServiceRoutes({ experiments: runtime.experiments, strategies: runtime.strategies, clock: deps.clock });
  const plugins = grpcPlugins({
    health,
    reflection: {
      // error_details: the ErrorInfo our errors carry, so grpcurl and the like print its reason and field, not base64.
      files: [
        file_storycast_v1_story_service,
        file_storycast_v1_recipient_list,
        file_storycast_v1_schedule,
        file_storycast_v1_session_service,
        file_storycast_v1_experiment_service,
        file_google_rpc_error_details,
      ],
      services: SERVED_SERVICES,
    },
  });
  return (router: ConnectRouter) => {
    story(router);
    sessionServiceRoutes({ sessions: runtime.sessions, lists: runtime.lists, contacts: runtime.contacts, schedules: runtime.schedules })(
      router,
    );
    experiments(router);
    plugins(router);
  };
}

/** What starting a send from a SendStoryRequest reads, from the runtime: SendStory's and the scheduler's. */
export function sendRequestDepsOf(runtime: Runtime): SendRequestDeps {
  return {
    strategies: runtime.strategies,
    experiments: runtime.experiments,
    defaultExperiment: runtime.config.server.defaultExperiment,
    audiences: { lists: runtime.lists, contacts: runtime.contacts, sessions: runtime.sessions },
  };
}
