/** Turning a failed call into what a person (or a script) can act on. Pure, for tests. */
import { Code, ConnectError } from '@connectrpc/connect';
import { ErrorInfoSchema, type ErrorInfo } from '../gen/google/rpc/error_details_pb.js';

/** Code.InvalidArgument -> "INVALID_ARGUMENT", the spelling gRPC docs and the proto use. */
export function codeName(code: Code): string {
  return (Code[code] ?? 'UNKNOWN').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The server puts its reason in an ErrorInfo of domain "storycast"; proxies may add others. */
export function errorInfo(error: ConnectError): ErrorInfo | undefined {
  const infos = error.findDetails(ErrorInfoSchema);
  return infos.find((info) => info.domain === 'storycast') ?? infos[0];
}

/** Node error codes along the cause chain, where a refused connection shows up. */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    // AggregateError: Node tries every address of "localhost" and reports each refusal.
    if (e instanceof AggregateError) for (const inner of e.errors) codes.push(...causeCodes(inner));
  }
  return codes;
}

export function describeError(error: unknown, server: string): string[] {
  if (!(error instanceof ConnectError)) return [`error: ${error instanceof Error ? error.message : String(error)}`];
  const codes = causeCodes(error);
  const notRunning = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ETIMEDOUT'].find((c) => codes.includes(c));
  if (notRunning) {
    const why =
      notRunning === 'ECONNREFUSED' ? 'connection refused' : notRunning === 'ETIMEDOUT' ? 'timed out' : `${notRunning}: host not reachable`;
    return [
      `error: cannot reach a storycast server at ${server} (${why}).`,
      'Is it running? Start it with `npm start` in another terminal, or point --server (or STORYCAST_SERVER) at it.',
    ];
  }
  const lines = [`error: ${codeName(error.code)}: ${error.rawMessage}`];
  const info = errorInfo(error);
  if (info) {
    lines.push(`reason: ${info.reason}${info.domain && info.domain !== 'storycast' ? ` (${info.domain})` : ''}`);
    for (const [key, value] of Object.entries(info.metadata).sort()) lines.push(`  ${key}: ${value}`);
  }
  if (error.code === Code.Unimplemented) {
    lines.push(`hint: ${server} does not serve storycast.v1.StoryService; check --server and --protocol.`);
  }
  lines.push(...authHint(error));
  return lines;
}

/** What to do about a refused key: every command takes it the same way. */
export function authHint(error: ConnectError): string[] {
  const reason = errorInfo(error)?.reason;
  if (reason === 'API_KEY_MISSING') return ['hint: this server needs an API key: set STORYCAST_API_KEY (or pass --api-key).'];
  if (reason === 'API_KEY_UNKNOWN') return ['hint: the server does not know this key: check STORYCAST_API_KEY (or --api-key).'];
  return [];
}

/** The same error as one JSON object, so a --json consumer never has to parse prose. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (!(error instanceof ConnectError))
    return { error: { code: 'UNKNOWN', message: error instanceof Error ? error.message : String(error) } };
  const info = errorInfo(error);
  return {
    error: {
      code: codeName(error.code),
      message: error.rawMessage,
      ...(info ? { reason: info.reason, domain: info.domain, metadata: info.metadata } : {}),
    },
  };
}
