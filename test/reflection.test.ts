/**
 * gRPC server reflection from the grpc-plugins module: every question, in
 * memory (connect clients over createRouterTransport, v1 and v1alpha); then on a
 * real HTTP/2 port, the descriptors as @grpc/grpc-js and grpcurl read them.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create, createFileRegistry, fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, file_google_protobuf_timestamp } from '@bufbuild/protobuf/wkt';
import { Code, createClient, createRouterTransport, type ConnectRouter } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as v1 from '../src/gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../src/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { StoryService, file_storycast_v1_story_service } from '../src/gen/storycast/v1/story_service_pb.js';
import { grpcPlugins, HealthStatus, ReflectionIndex } from '../src/server/grpc-plugins/index.js';
import { startH2Server, type H2TestServer } from './support/h2-server.js';

const run = promisify(execFile);
const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const STORY = StoryService.typeName;
const STORY_FILE = 'storycast/v1/story_service.proto';
const TIMESTAMP_FILE = 'google/protobuf/timestamp.proto';
const LISTS_FILE = 'storycast/v1/recipient_list.proto';
/** The API file, then its imports in the order it names them. */
const SCHEDULE_FILE = 'storycast/v1/schedule.proto';
const STORY_FILES = [STORY_FILE, TIMESTAMP_FILE, LISTS_FILE, SCHEDULE_FILE];
const LISTED = [STORY, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'].sort();

/** StoryService, health and reflection, the way a server wires the plugins: it names only its own API. */
function routes(router: ConnectRouter): void {
  router.service(StoryService, {}); // every method answers UNIMPLEMENTED: only discovery is under test
  grpcPlugins({ health: new HealthStatus([STORY]), reflection: { files: [file_storycast_v1_story_service], services: [STORY] } })(router);
}

type Question = NonNullable<MessageInitShape<typeof v1.ServerReflectionRequestSchema>['messageRequest']>;
type Reply = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;

function fileNames(reply: Reply): string[] {
  const response = reply.messageResponse;
  expect(response.case).toBe('fileDescriptorResponse');
  if (response.case !== 'fileDescriptorResponse') return [];
  return response.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

for (const version of ['v1', 'v1alpha'] as const) {
  describe(`grpc.reflection.${version} in memory`, () => {
    const transport = createRouterTransport(routes);
    /** Sends the questions on one stream, ends it, and returns every reply in arrival order. */
    async function ask(questions: Question[]): Promise<Reply[]> {
      async function* requests() {
        for (const messageRequest of questions) yield { host: 'in-memory', messageRequest };
      }
      const replies =
        version === 'v1'
          ? createClient(v1.ServerReflection, transport).serverReflectionInfo(requests())
          : // The same plain objects; only the generated types' $typeName differs between versions.
            createClient(v1alpha.ServerReflection, transport).serverReflectionInfo(
              requests() as AsyncIterable<MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>>,
            );
      const out: Reply[] = [];
      for await (const reply of replies) out.push(reply);
      return out;
    }

    it('lists the served services, reflection and health included', async () => {
      const [reply] = await ask([{ case: 'listServices', value: '' }]);
      const response = reply!.messageResponse;
      expect(response.case).toBe('listServicesResponse');
      if (response.case === 'listServicesResponse') expect(response.value.service.map((s) => s.name).sort()).toEqual(LISTED);
      expect(reply!.validHost).toBe('in-memory');
    });

    it('finds the file of a service, with its imports, as decodable descriptors', async () => {
      const [reply] = await ask([{ case: 'fileContainingSymbol', value: STORY }]);
      expect(fileNames(reply!)).toEqual(STORY_FILES);
      const response = reply!.messageResponse;
      if (response.case !== 'fileDescriptorResponse') throw new Error(response.case);
      const file = fromBinary(FileDescriptorProtoSchema, response.value.fileDescriptorProto[0]!);
      expect(file.package).toBe('storycast.v1');
      expect(file.dependency).toEqual([TIMESTAMP_FILE, LISTS_FILE, SCHEDULE_FILE]);
      expect(file.service.find((s) => s.name === 'StoryService')?.method.map((m) => m.name)).toEqual([
        'SendStory',
        'GetSessionLearning',
        'ResetSessionLearning',
        'ListStrategies',
        'GetStoryReceipts',
        'WatchSend',
        'GetSend',
        'ListSends',
        'CancelSend',
        'SaveRecipientList',
        'GetRecipientList',
        'ListRecipientLists',
        'DeleteRecipientList',
        'ListSchedules',
        'DeleteSchedule',
      ]);
    });

    it('answers each request of one stream in order, for methods, messages, fields and enums', async () => {
      const symbols = [
        `${STORY}.SendStory`,
        'storycast.v1.SendStoryRequest',
        'storycast.v1.SendStoryRequest.session_id',
        'storycast.v1.Speed',
      ];
      const replies = await ask(symbols.map((value) => ({ case: 'fileContainingSymbol', value })));
      expect(replies.map((r) => r.originalRequest?.messageRequest.value)).toEqual(symbols);
      for (const reply of replies) expect(fileNames(reply)).toEqual(STORY_FILES);
    });

    it('answers an unknown symbol or file with NOT_FOUND on the stream, which stays usable', async () => {
      const replies = await ask([
        { case: 'fileContainingSymbol', value: 'storycast.v1.NoSuchThing' },
        { case: 'fileByFilename', value: 'nope.proto' },
        { case: 'listServices', value: '' },
      ]);
      expect(replies.map((r) => r.messageResponse.case)).toEqual(['errorResponse', 'errorResponse', 'listServicesResponse']);
      expect(replies[0]!.messageResponse.value).toMatchObject({
        errorCode: Code.NotFound,
        errorMessage: expect.stringContaining('NoSuchThing'),
      });
      expect(replies[1]!.messageResponse.value).toMatchObject({ errorCode: Code.NotFound });
    });

    it('serves files by name: the API file with its imports, and a dependency alone', async () => {
      const [api, ts] = await ask([
        { case: 'fileByFilename', value: STORY_FILE },
        { case: 'fileByFilename', value: TIMESTAMP_FILE },
      ]);
      expect(fileNames(api!)).toEqual(STORY_FILES);
      expect(fileNames(ts!)).toEqual([TIMESTAMP_FILE]);
    });

    it('answers extension questions: numbers of a known type, NOT_FOUND otherwise', async () => {
      const [numbers, unknownType, noExtension] = await ask([
        { case: 'allExtensionNumbersOfType', value: 'storycast.v1.SendStoryRequest' },
        { case: 'allExtensionNumbersOfType', value: 'storycast.v1.Nope' },
        { case: 'fileContainingExtension', value: { containingType: 'storycast.v1.SendStoryRequest', extensionNumber: 100 } },
      ]);
      expect(numbers!.messageResponse.case).toBe('allExtensionNumbersResponse');
      expect(numbers!.messageResponse.value).toMatchObject({ baseTypeName: 'storycast.v1.SendStoryRequest', extensionNumber: [] });
      expect(unknownType!.messageResponse.value).toMatchObject({ errorCode: Code.NotFound });
      expect(noExtension!.messageResponse.value).toMatchObject({ errorCode: Code.NotFound });
    });
  });
}

let server: H2TestServer;
beforeAll(async () => {
  server = await startH2Server(routes);
});
afterAll(() => server.close());

describe('on a real HTTP/2 port, via @grpc/grpc-js and the .proto files', () => {
  /** A reflection response as proto-loader decodes it (keepCase, oneofs). */
  interface WireReply {
    message_response: string;
    file_descriptor_response?: { file_descriptor_proto: Buffer[] };
    list_services_response?: { service: { name: string }[] };
  }
  type ReflectionClient = grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<object, WireReply> };
  type ClientCtor = new (addr: string, creds: grpc.ChannelCredentials) => ReflectionClient;

  function loadClient(version: 'v1' | 'v1alpha'): ClientCtor {
    const def = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
      includeDirs: [protoDir],
      keepCase: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: Record<string, { ServerReflection: ClientCtor }> } };
    return pkg.grpc.reflection[version]!.ServerReflection;
  }

  it.each(['v1', 'v1alpha'] as const)("%s: lists the services and sends a service's file with its imports, in order", async (version) => {
    const client = new (loadClient(version))(server.address, grpc.credentials.createInsecure());
    try {
      const call = client.ServerReflectionInfo();
      const replies: WireReply[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on('data', (reply: WireReply) => replies.push(reply));
        call.on('error', reject);
        call.on('end', resolve);
      });
      call.write({ list_services: '' });
      call.write({ file_containing_symbol: STORY });
      call.end();
      await done;
      expect(replies.map((r) => r.message_response)).toEqual(['list_services_response', 'file_descriptor_response']);
      expect(replies[0]!.list_services_response!.service.map((s) => s.name).sort()).toEqual(LISTED);
      const files = replies[1]!.file_descriptor_response!.file_descriptor_proto.map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      expect(files.map((f) => f.name)).toEqual(STORY_FILES);
      expect(files[0]!.package).toBe('storycast.v1');
    } finally {
      client.close();
    }
  });
});

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
    const symbols = [
      'test.ext.Base.Inner',
      'test.ext.Base.Inner.Kind',
      'test.ext.Base.Inner.KIND_A',
      'test.ext.Base.Inner.Kind.KIND_A',
      'test.ext.flag',
      '.test.ext.Base',
    ];
    for (const symbol of symbols) {
      expect(index.answer({ case: 'fileContainingSymbol', value: symbol }).case, symbol).toBe('fileDescriptorResponse');
    }
    expect(index.answer({ case: 'fileContainingSymbol', value: 'test.ext.KIND_A' }).case).toBe('errorResponse');
  });

  it('refuses to list a service it cannot describe', () => {
    expect(() => new ReflectionIndex([file_google_protobuf_timestamp], ['storycast.v1.StoryService'])).toThrow(/StoryService/);
  });
});

describe('the grpc-plugins module', () => {
  it('imports only connect, protobuf-es, node and the generated grpc.* stubs, so another server can take it as it is', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = fileURLToPath(new URL('../src/server/grpc-plugins/', import.meta.url));
    const allowed = /^(@connectrpc\/connect(-node)?|@bufbuild\/protobuf(\/wkt)?|node:.*|\.\/[\w-]+\.js|\.\.\/\.\.\/gen\/grpc\/.+)$/;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
    expect(files.sort()).toEqual(['health.ts', 'index.ts', 'reflection.ts']);
    for (const file of files) {
      const source = await readFile(join(dir, file), 'utf8');
      const specifiers = [...source.matchAll(/^(?:import|export)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
      expect(specifiers.length, file).toBeGreaterThan(0);
      for (const specifier of specifiers) expect(specifier, `${file} imports ${specifier}`).toMatch(allowed);
    }
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
