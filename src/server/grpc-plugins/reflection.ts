/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) for connect-node, so
 * grpcurl, buf curl, Postman and evans can list and describe the API without
 * local .proto files. No maintained package does this for connect-node; the
 * descriptors come from the protoc-gen-es GenFile objects (or a FileRegistry)
 * the caller passes in, so this module knows nothing of the server it runs in.
 * Older tools only speak v1alpha, newer ones try v1 first: both are served.
 */
import type { DescEnum, DescFile, DescMessage, FileRegistry } from '@bufbuild/protobuf';
import { toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import * as v1 from '../../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';

/** gRPC status codes carried in error_response (not stream failures). */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

export const reflectionServiceNames: readonly string[] = [v1.ServerReflection.typeName, v1alpha.ServerReflection.typeName];

/** The question of one request, the same shape in v1 and v1alpha. */
export type ReflectionQuestion =
  | { case: 'fileByFilename'; value: string }
  | { case: 'fileContainingSymbol'; value: string }
  | { case: 'fileContainingExtension'; value: { containingType: string; extensionNumber: number } }
  | { case: 'allExtensionNumbersOfType'; value: string }
  | { case: 'listServices'; value: string }
  | { case: undefined; value?: undefined };

/** The answer to one request, as an init shape both versions' response messages accept. */
export type ReflectionAnswer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

/** Everything reflection can be asked about, indexed once at start-up. */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly messages = new Set<string>();
  private readonly extensions = new Map<string, { file: DescFile; number: number }[]>();
  private readonly encoded = new Map<DescFile, Uint8Array>();
  readonly services: readonly string[];

  /**
   * @param files the files that define the served services (their imports are followed).
   * @param services fully qualified names to list; the reflection services are always added.
   */
  constructor(files: Iterable<DescFile> | FileRegistry, services: Iterable<string>) {
    const roots = isFileRegistry(files) ? files.files : files;
    for (const file of [...roots, v1.file_grpc_reflection_v1_reflection, v1alpha.file_grpc_reflection_v1alpha_reflection]) {
      this.addFile(file);
    }
    this.services = [...new Set([...services, ...reflectionServiceNames])];
    for (const name of this.services) {
      // Listing a service that cannot then be described breaks every client: fail at start-up instead.
      if (!this.symbols.has(name)) throw new Error(`reflection: no descriptor given for service "${name}"`);
    }
  }

  answer(question: ReflectionQuestion): ReflectionAnswer {
    switch (question.case) {
      case 'listServices':
        return { case: 'listServicesResponse', value: { service: this.services.map((name) => ({ name })) } };
      case 'fileByFilename':
        return this.fileAnswer(this.files.get(question.value), `file "${question.value}" not found`);
      case 'fileContainingSymbol': {
        const symbol = question.value.replace(/^\./, '');
        return this.fileAnswer(this.symbols.get(symbol), `symbol "${symbol}" not found`);
      }
      case 'fileContainingExtension': {
        const type = question.value.containingType.replace(/^\./, '');
        const number = question.value.extensionNumber;
        const found = this.extensions.get(type)?.find((ext) => ext.number === number);
        return this.fileAnswer(found?.file, `extension ${number} of "${type}" not found`);
      }
      case 'allExtensionNumbersOfType': {
        const type = question.value.replace(/^\./, '');
        if (!this.messages.has(type)) return notFound(`message type "${type}" not found`);
        const numbers = (this.extensions.get(type) ?? []).map((ext) => ext.number).sort((a, b) => a - b);
        return { case: 'allExtensionNumbersResponse', value: { baseTypeName: type, extensionNumber: numbers } };
      }
      default:
        return { case: 'errorResponse', value: { errorCode: INVALID_ARGUMENT, errorMessage: 'empty reflection request' } };
    }
  }

  /** The file first, then everything it imports, transitively: clients need all of them to build the file. */
  private fileAnswer(file: DescFile | undefined, missing: string): ReflectionAnswer {
    if (!file) return notFound(missing);
    const ordered: DescFile[] = [];
    const seen = new Set<DescFile>();
    const visit = (f: DescFile) => {
      if (seen.has(f)) return;
      seen.add(f);
      ordered.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: 'fileDescriptorResponse', value: { fileDescriptorProto: ordered.map((f) => this.encode(f)) } };
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.addFile(dep);
    const pkg = file.proto.package;
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const en of file.enums) this.addEnum(file, en, pkg);
    for (const message of file.messages) this.addMessage(file, message);
    for (const ext of file.extensions) this.addExtension(file, ext);
  }

  private addMessage(file: DescFile, message: DescMessage): void {
    this.symbols.set(message.typeName, file);
    this.messages.add(message.typeName);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const en of message.nestedEnums) this.addEnum(file, en, message.typeName);
    for (const nested of message.nestedMessages) this.addMessage(file, nested);
    for (const ext of message.nestedExtensions) this.addExtension(file, ext);
  }

  /**
   * Enum values are scoped as protoc scopes them (siblings of their enum), and also
   * under the enum, the name grpcurl shows for them and so the one users type back.
   */
  private addEnum(file: DescFile, en: DescEnum, scope: string): void {
    this.symbols.set(en.typeName, file);
    for (const value of en.values) {
      this.symbols.set(scope ? `${scope}.${value.name}` : value.name, file);
      this.symbols.set(`${en.typeName}.${value.name}`, file);
    }
  }

  private addExtension(file: DescFile, ext: DescFile['extensions'][number]): void {
    this.symbols.set(ext.typeName, file);
    const list = this.extensions.get(ext.extendee.typeName) ?? [];
    list.push({ file, number: ext.number });
    this.extensions.set(ext.extendee.typeName, list);
  }
}

function notFound(message: string): ReflectionAnswer {
  return { case: 'errorResponse', value: { errorCode: NOT_FOUND, errorMessage: message } };
}

function isFileRegistry(input: Iterable<DescFile> | FileRegistry): input is FileRegistry {
  return 'getFile' in input && typeof input.getFile === 'function';
}

/**
 * Registers grpc.reflection.v1 and v1alpha ServerReflection on a connect router.
 * `services` are the names to list (e.g. "storycast.v1.StoryService", and
 * "grpc.health.v1.Health" when health is served, with its file in `files`).
 */
export function reflectionRoutes(files: Iterable<DescFile> | FileRegistry, services: Iterable<string>): (router: ConnectRouter) => void {
  const index = new ReflectionIndex(files, services);
  return (router) => {
    // Same logic for both versions; each answers its own requests, in order, until the client ends.
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest) };
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest) };
        }
      },
    });
  };
}
