/**
 * Streams SendStory to a storycast server and prints one line per batch and the
 * summary; an error is reported by its gRPC code and ErrorInfo reason.
 *
 *   npx tsx examples/send-story.ts --server 127.0.0.1:50051 --session demo --recipients 3000
 *
 * A server with API keys (STORYCAST_API_KEYS) needs one: STORYCAST_API_KEY=... or
 * --api-key, sent as `authorization: Bearer <key>` on every call.
 */
import { parseArgs } from 'node:util';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: '127.0.0.1:50051' },
    session: { type: 'string', default: 'demo' },
    recipients: { type: 'string', default: '0' },
    recipient: { type: 'string', multiple: true, default: [] },
    strategy: { type: 'string', default: '' },
    text: { type: 'string', default: 'Hello from the TypeScript client' },
    // The environment is the better place: other users can see a command line.
    'api-key': { type: 'string', default: process.env.STORYCAST_API_KEY ?? '' },
  },
});

const fake = Array.from({ length: Number(values.recipients) }, (_, i) => `+1555${String(i).padStart(7, '0')}`);
const baseUrl = /^https?:\/\//.test(values.server) ? values.server : `http://${values.server}`;
const apiKey = values['api-key'];
const bearer: Interceptor = (next) => (req) => {
  req.header.set('authorization', `Bearer ${apiKey}`);
  return next(req);
};
const client = createClient(StoryService, createGrpcTransport({ baseUrl, interceptors: apiKey ? [bearer] : [] }));

try {
  let failed = 0;
  for await (const { event } of client.sendStory({
    sessionId: values.session,
    story: { content: { case: 'text', value: { text: values.text } } },
    recipients: [...values.recipient, ...fake],
    strategy: values.strategy,
  })) {
    if (event.case === 'planned') {
      console.log(
        `planned total=${event.value.totalRecipients} invalid=${event.value.invalidRecipients.length} strategy=${event.value.strategy}`,
      );
    } else if (event.case === 'batch') {
      const b = event.value;
      console.log(`batch ${b.index} size=${b.size} ok=${b.ok} duration_ms=${b.durationMs} next=${b.nextBatchSize} reason=${b.reason}`);
    } else if (event.case === 'summary') {
      const s = event.value;
      failed = s.failed.length;
      console.log(`summary delivered=${s.delivered} total=${s.total} failed=${failed} batches=${s.batches} message_id=${s.messageId}`);
    }
  }
  process.exitCode = failed === 0 ? 0 : 2;
} catch (error) {
  const e = ConnectError.from(error);
  const reason = e.findDetails(ErrorInfoSchema)[0]?.reason ?? '-';
  // Code names as the gRPC spec spells them (INVALID_ARGUMENT), which is also what grpcurl prints.
  const code = Code[e.code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  console.log(`error code=${code} reason=${reason} message=${e.rawMessage}`);
  process.exitCode = 1;
}
