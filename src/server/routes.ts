/** Every service the server offers, in one place. */
import type { ConnectRouter } from '@connectrpc/connect';
import { file_grpc_health_v1_health, Health } from '../gen/grpc/health/v1/health_pb.js';
import { file_grpc_reflection_v1_reflection } from '../gen/grpc/reflection/v1/reflection_pb.js';
import { file_grpc_reflection_v1alpha_reflection } from '../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { file_storycast_v1_session_service, SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { file_storycast_v1_story_service, StoryService } from '../gen/storycast/v1/story_service_pb.js';
import type { Runtime } from '../runtime.js';
import { healthRoutes, type HealthStatus } from './health.js';
import { reflectionRoutes, reflectionServiceNames } from './reflection.js';
import type { RunningSends } from './sends.js';
import { sessionServiceRoutes } from './session-service.js';
import { storyServiceRoutes } from './story-service.js';

/** Services with a health status of their own. */
export const SERVED_SERVICES: readonly string[] = [StoryService.typeName, SessionService.typeName];

export function routes(deps: { runtime: Runtime; health: HealthStatus; sends: RunningSends }) {
  const { runtime, health, sends } = deps;
  const story = storyServiceRoutes({
    engine: runtime.engine,
    memory: runtime.memory,
    strategies: runtime.strategies,
    sends,
    memoryTtlMs: runtime.config.smartSend.sessionMemoryTTL,
    receipts: runtime.receipts,
  });
  const reflection = reflectionRoutes(
    [file_storycast_v1_story_service, file_storycast_v1_session_service, file_grpc_health_v1_health, file_grpc_reflection_v1_reflection, file_grpc_reflection_v1alpha_reflection],
    [...SERVED_SERVICES, Health.typeName, ...reflectionServiceNames],
  );
  return (router: ConnectRouter) => {
    story(router);
    sessionServiceRoutes(runtime.sessions)(router);
    healthRoutes(health)(router);
    reflection(router);
  };
}
