/** Every RPC the fuzzer drives: the three storycast services, read from their descriptors so a new RPC is fuzzed (or fails the build of its generator table) without a list to keep in step. */
import type { DescMessage, DescMethod, DescService } from '@bufbuild/protobuf';
import { ExperimentService } from '../../src/gen/storycast/v1/experiment_service_pb.js';
import { SessionService } from '../../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../../src/gen/storycast/v1/story_service_pb.js';

export interface Rpc {
  /** "StoryService/SendStory": what the report prints. */
  readonly name: string;
  /** "/storycast.v1.StoryService/SendStory": the HTTP/2 :path. */
  readonly path: string;
  readonly method: DescMethod;
  readonly input: DescMessage;
  readonly output: DescMessage;
  /** A server stream answers with any number of messages; a unary call with exactly one on OK. */
  readonly streaming: boolean;
}

const FUZZED_SERVICES: readonly DescService[] = [StoryService, SessionService, ExperimentService];

function rpcOf(method: DescMethod): Rpc {
  return {
    name: `${method.parent.name}/${method.name}`,
    path: `/${method.parent.typeName}/${method.name}`,
    method,
    input: method.input,
    output: method.output,
    streaming: method.methodKind === 'server_streaming',
  };
}

export const RPCS: readonly Rpc[] = FUZZED_SERVICES.flatMap((service) => service.methods.map(rpcOf));
