/**
 * gRPC health (grpc.health.v1) and server reflection (grpc.reflection.v1 and
 * v1alpha) as plain connect-node routes. This folder imports only @connectrpc/*,
 * @bufbuild/protobuf and the generated grpc.* stubs, never the server it runs
 * in: everything it needs (a status source, the files to describe) comes in as
 * parameters, so it can be lifted into another connect-node server unchanged.
 */
import type { DescFile, FileRegistry } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { healthFile, healthRoutes, healthServiceName, type HealthStatusSource } from './health.js';
import { reflectionRoutes } from './reflection.js';

export * from './health.js';
export * from './reflection.js';

export interface GrpcPluginsOptions {
  /** Serve grpc.health.v1.Health from this source. */
  readonly health?: HealthStatusSource;
  /**
   * Serve reflection: the files that define the served services (imports are
   * followed) and the services to list. Health and reflection themselves are
   * added, so callers name only their own API.
   */
  readonly reflection?: {
    readonly files: Iterable<DescFile> | FileRegistry;
    readonly services: Iterable<string>;
  };
}

/** Registers the chosen plugins on a connect router. */
export function grpcPlugins(options: GrpcPluginsOptions): (router: ConnectRouter) => void {
  const { health, reflection } = options;
  const reflect =
    reflection &&
    reflectionRoutes(
      health ? [...filesOf(reflection.files), healthFile] : reflection.files,
      health ? [...reflection.services, healthServiceName] : reflection.services,
    );
  return (router) => {
    if (health) healthRoutes(health)(router);
    reflect?.(router);
  };
}

function filesOf(files: Iterable<DescFile> | FileRegistry): Iterable<DescFile> {
  return 'getFile' in files && typeof files.getFile === 'function' ? files.files : (files as Iterable<DescFile>);
}
