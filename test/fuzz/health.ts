/** grpc.health.v1 Check over the same raw HTTP/2 client: is the server (and each service) still SERVING? */
import type * as http2 from 'node:http2';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../../src/gen/grpc/health/v1/health_pb.js';
import { SERVED_SERVICES } from '../../src/server/routes.js';
import { exchange } from './h2-client.js';
import { envelope } from './protocols.js';

export interface HealthAnswer {
  readonly service: string;
  /** SERVING, NOT_SERVING..., or what went wrong instead of an answer. */
  readonly status: string;
}

export async function checkHealth(session: http2.ClientHttp2Session, service: string): Promise<HealthAnswer> {
  const answer = await exchange(
    session,
    { ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' },
    envelope(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }))),
    { timeoutMs: 10_000 },
  );
  const grpcStatus = answer.trailers?.['grpc-status'] ?? answer.headers?.['grpc-status'];
  if (grpcStatus !== '0') return { service, status: `no answer: grpc-status ${grpcStatus}, ${answer.error ?? `rst ${answer.rstCode}`}` };
  const reply = fromBinary(HealthCheckResponseSchema, answer.body.subarray(5));
  return { service, status: HealthCheckResponse_ServingStatus[reply.status] ?? String(reply.status) };
}

/** The server as a whole ('') and every service it serves. */
export async function checkAllHealth(session: http2.ClientHttp2Session): Promise<HealthAnswer[]> {
  const answers: HealthAnswer[] = [];
  for (const service of ['', ...SERVED_SERVICES]) answers.push(await checkHealth(session, service));
  return answers;
}
