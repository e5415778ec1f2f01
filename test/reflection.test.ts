/** gRPC server reflection over a real HTTP/2 server, asked by @grpc/grpc-js and by grpcurl. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, file_google_protobuf_timestamp } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { file_grpc_health_v1_health } from '../src/gen/grpc/health/v1/health_pb.js';
import { StoryService, file_storycast_v1_story_service } from '../src/gen/storycast/v1/story_service_pb.js';
import { HealthStatus, healthRoutes, healthServiceName } from '../src/server/health.js';
import { ReflectionIndex, reflectionRoutes } from '../src/server/reflection.js';
import { startH2Server, type H2TestServer } from './support/h2-server.js';

const run = promisify(execFile);
const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const STORY = StoryService.typeName;
const STORY_FILE = 'storycast/v1/story_service.proto';
const TIMESTAMP_FILE = 'google/protobuf/timestamp.proto';

/** A reflection response as proto-loader decodes it (keepCase, oneofs). */
interface Reply {
  valid_host: string;
  original_request: Record<string, unknown>;
  message_response: string;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  error_response?: { error_code: number; error_message: string };
}
type ReflectionClient = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, Reply> };
type ClientCtor = new (addr: string, creds: grpc.ChannelCredentials) => ReflectionClient;

function loadClient(version: 'v1' | 'v1alpha'): ClientCtor {
  const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [protoDir],
    keepCase: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: ClientCtor }> };
  };
  return pkg.grpc.reflection[version]!.ServerReflection;
}

let server: H2TestServer;
beforeAll(async () => {
  const health = new HealthStatus([STORY]);
  const reflect = reflectionRoutes([file_storycast_v1_story_service, file_grpc_health_v1_health], [STORY, healthServiceName]);
  server = await startH2Server((router) => {
    router.service(StoryService, {}); // every method answers UNIMPLEMENTED: only discovery is under test
    healthRoutes(health)(router);
    reflect(router);
  });
});
afterAll(() => server.close());

/** Sends the requests on one stream, ends it, and returns every reply in arrival order. */
async function ask(client: ReflectionClient, requests: object[]): Promise<Reply[]> {
  const call = client.ServerReflectionInfo();
  const replies: Reply[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (reply: Reply) => replies.push(reply));
    call.on('error', reject);
    call.on('end', resolve);
  });
  for (const request of requests) call.write(request);
  call.end();
  await done;
  return replies;
}

function fileNames(reply: Reply): string[] {
  expect(reply.message_response).toBe('file_descriptor_response');
  return reply.file_descriptor_response!.file_descriptor_proto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

for (const version of ['v1', 'v1alpha'] as const) {
  describe(`grpc.reflection.${version} via grpc-js`, () => {
    let client: ReflectionClient;
    beforeAll(() => {
      client = new (loadClient(version))(server.address, grpc.credentials.createInsecure());
    });
    afterAll(() => client.close());

    it('lists the served services, reflection and health included', async () => {
      const [reply] = await ask(client, [{ list_services: '' }]);
      expect(reply!.message_response).toBe('list_services_response');
      expect(reply!.list_services_response!.service.map((s) => s.name).sort()).toEqual(
        [STORY, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'].sort(),
      );
    });

    it('finds the file of a service, with its imports, as decodable descriptors', async () => {
      const [reply] = await ask(client, [{ file_containing_symbol: STORY }]);
      expect(fileNames(reply!)).toEqual([STORY_FILE, TIMESTAMP_FILE]);
      const file = fromBinary(FileDescriptorProtoSchema, reply!.file_descriptor_response!.file_descriptor_proto[0]!);
      expect(file.package).toBe('storycast.v1');
      expect(file.dependency).toEqual([TIMESTAMP_FILE]);
      expect(file.service.find((s) => s.name === 'StoryService')?.method.map((m) => m.name)).toEqual([
        'SendStory',
        'GetSessionLearning',
        'ResetSessionLearning',
        'ListStrategies',
        'GetStoryReceipts',
      ]);
    });

    it('answers each request of one stream in order, for methods, messages, fields and enums', async () => {
      const symbols = [`${STORY}.SendStory`, 'storycast.v1.SendStoryRequest', 'storycast.v1.SendStoryRequest.session_id', 'storycast.v1.Speed'];
      const replies = await ask(client, symbols.map((s) => ({ file_containing_symbol: s })));
      expect(replies.map((r) => r.original_request['file_containing_symbol'])).toEqual(symbols);
      for (const reply of replies) expect(fileNames(reply)).toEqual([STORY_FILE, TIMESTAMP_FILE]);
    });

    it('answers an unknown symbol or file with NOT_FOUND on the stream, which stays usable', async () => {
      const replies = await ask(client, [
        { file_containing_symbol: 'storycast.v1.NoSuchThing' },
        { file_by_filename: 'nope.proto' },
        { list_services: '' },
      ]);
      expect(replies.map((r) => r.message_response)).toEqual(['error_response', 'error_response', 'list_services_response']);
      expect(replies[0]!.error_response).toMatchObject({ error_code: grpc.status.NOT_FOUND, error_message: expect.stringContaining('NoSuchThing') });
      expect(replies[1]!.error_response!.error_code).toBe(grpc.status.NOT_FOUND);
    });

    it('serves files by name: the API file with its imports, and a dependency alone', async () => {
      const [api, ts] = await ask(client, [{ file_by_filename: STORY_FILE }, { file_by_filename: TIMESTAMP_FILE }]);
      expect(fileNames(api!)).toEqual([STORY_FILE, TIMESTAMP_FILE]);
      expect(fileNames(ts!)).toEqual([TIMESTAMP_FILE]);
    });

    it('answers extension questions: numbers of a known type, NOT_FOUND otherwise', async () => {
      const [numbers, unknownType, noExtension] = await ask(client, [
        { all_extension_numbers_of_type: 'storycast.v1.SendStoryRequest' },
        { all_extension_numbers_of_type: 'storycast.v1.Nope' },
        { file_containing_extension: { containing_type: 'storycast.v1.SendStoryRequest', extension_number: 100 } },
      ]);
      expect(numbers!.message_response).toBe('all_extension_numbers_response');
      // proto-loader leaves an empty repeated field out.
      expect(numbers!.all_extension_numbers_response!.base_type_name).toBe('storycast.v1.SendStoryRequest');
      expect(numbers!.all_extension_numbers_response!.extension_number ?? []).toEqual([]);
      expect(unknownType!.error_response!.error_code).toBe(grpc.status.NOT_FOUND);
      expect(noExtension!.error_response!.error_code).toBe(grpc.status.NOT_FOUND);
    });
  });
}

describe('ReflectionIndex', () => {
  // A proto2 file with extensions, enums and nesting, built from a descriptor: storycast's own API has no extensions.
  const registry = createFileRegistry(
    create(FileDescriptorSetSchema, {
      file: [
        {
          name: 'test/ext.proto',
          package: 'test.ext',
          syntax: 'proto2',
          messageType: [
            {
              name: 'Base',
              extensionRange: [{ start: 100, end: 200 }],
              nestedType: [{ name: 'Inner', enumType: [{ name: 'Kind', value: [{ name: 'KIND_A', number: 0 }] }] }],
            },
          ],
          extension: [
            { name: 'flag', number: 150, label: 1, type: 8, extendee: '.test.ext.Base' },
            { name: 'level', number: 101, label: 1, type: 5, extendee: '.test.ext.Base' },
          ],
        },
      ],
    }),
  );
  const index = new ReflectionIndex(registry, []);

  it('lists only the reflection services when given none', () => {
    expect(index.answer({ case: 'listServices', value: '' })).toMatchObject({
      value: { service: [{ name: 'grpc.reflection.v1.ServerReflection' }, { name: 'grpc.reflection.v1alpha.ServerReflection' }] },
    });
  });

  it('finds extensions by type and number, and lists the numbers of a type', () => {
    expect(index.answer({ case: 'fileContainingExtension', value: { containingType: 'test.ext.Base', extensionNumber: 150 } }).case).toBe(
      'fileDescriptorResponse',
    );
    expect(index.answer({ case: 'allExtensionNumbersOfType', value: 'test.ext.Base' })).toEqual({
      case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'test.ext.Base', extensionNumber: [101, 150] },
    });
    expect(index.answer({ case: 'fileContainingExtension', value: { containingType: 'test.ext.Base', extensionNumber: 151 } }).case).toBe(
      'errorResponse',
    );
  });

  it('resolves nested messages, nested enums, enum values (both scopings) and extensions by name', () => {
    const symbols = ['test.ext.Base.Inner', 'test.ext.Base.Inner.Kind', 'test.ext.Base.Inner.KIND_A', 'test.ext.Base.Inner.Kind.KIND_A', 'test.ext.flag', '.test.ext.Base'];
    for (const symbol of symbols) {
      expect(index.answer({ case: 'fileContainingSymbol', value: symbol }).case, symbol).toBe('fileDescriptorResponse');
    }
    expect(index.answer({ case: 'fileContainingSymbol', value: 'test.ext.KIND_A' }).case).toBe('errorResponse');
  });

  it('refuses to list a service it cannot describe', () => {
    expect(() => new ReflectionIndex([file_google_protobuf_timestamp], ['storycast.v1.StoryService'])).toThrow(/StoryService/);
  });
});

describe('grpcurl', () => {
  // Installed by CI: GOFLAGS=-mod=mod go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
  let grpcurl: string;
  beforeAll(async () => {
    grpcurl = process.env['GRPCURL'] ?? join((await run('go', ['env', 'GOPATH'])).stdout.trim(), 'bin', 'grpcurl');
  });
  // Async execFile: the server runs in this process, so a sync child would deadlock it.
  const grpcurlRun = async (...args: string[]) => (await run(grpcurl, ['-plaintext', ...args])).stdout;

  it('lists the services', async () => {
    const lines = (await grpcurlRun(server.address, 'list')).trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([STORY, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']));
  });

  it('describes StoryService and a message that needs the timestamp import', async () => {
    const service = await grpcurlRun(server.address, 'describe', STORY);
    expect(service).toContain(`${STORY} is a service:`);
    expect(service).toContain('rpc SendStory ( .storycast.v1.SendStoryRequest ) returns ( stream .storycast.v1.SendStoryResponse );');
    const message = await grpcurlRun(server.address, 'describe', 'storycast.v1.SessionHistory');
    expect(message).toContain('.google.protobuf.Timestamp last_successful_send = 3;');
    expect(await grpcurlRun(server.address, 'describe', 'storycast.v1.Speed.SPEED_FAST')).toContain('is an enum value');
  });

  it('calls a method using only what reflection told it', async () => {
    const out = await grpcurlRun('-d', '{"service": ""}', server.address, 'grpc.health.v1.Health/Check');
    expect(JSON.parse(out)).toEqual({ status: 'SERVING' });
  });
});
