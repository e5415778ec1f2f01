/**
 * What makes two SendStory requests "the same" for request_id: everything the
 * caller asked for (session, story, recipients, the strategy as resolved,
 * fields added later such as an experiment), but not the key itself nor what
 * the caller does on disconnect. The SHA-256 of that request's protobuf
 * encoding: protobuf-es writes fields in number order, so equal requests hash
 * equal, and a fingerprint in the journal from an earlier version of this
 * code still matches.
 */
import { createHash } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { SendStoryRequestSchema, type SendStoryRequest } from '../gen/storycast/v1/story_service_pb.js';

/** Field 3 (recipients), length-delimited. */
const RECIPIENT_TAG = (3 << 3) | 2;

/**
 * The bytes are toBinary's for the request with request_id and on_disconnect
 * cleared and the strategy resolved, hashed in three parts: fields 1-2, the
 * recipients, then fields 4-12 with any unknown fields (which toBinary writes
 * last). The recipients are encoded here rather than by toBinary, which spends
 * about a millisecond on a thousand of them: a string at a time through a
 * TextEncoder.
 */
export function fingerprintOf(req: SendStoryRequest, strategy: string): string {
  const head = create(SendStoryRequestSchema, { sessionId: req.sessionId, ...(req.story ? { story: req.story } : {}) });
  const tail = create(SendStoryRequestSchema, {
    strategy,
    experiment: req.experiment,
    recipientList: req.recipientList,
    allContacts: req.allContacts,
    ...(req.startTime ? { startTime: req.startTime } : {}),
    repeat: req.repeat,
    timeZone: req.timeZone,
  });
  if (req.$unknown) tail.$unknown = req.$unknown;
  return createHash('sha256')
    .update(toBinary(SendStoryRequestSchema, head))
    .update(recipientsField(req.recipients))
    .update(toBinary(SendStoryRequestSchema, tail))
    .digest('base64url');
}

function recipientsField(recipients: readonly string[]): Buffer {
  const lengths = recipients.map((r) => Buffer.byteLength(r, 'utf8'));
  let size = 0;
  for (const n of lengths) size += 1 + varintSize(n) + n;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  recipients.forEach((recipient, i) => {
    out[at++] = RECIPIENT_TAG;
    let n = lengths[i]!;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    at += out.write(recipient, at, 'utf8');
  });
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  for (let rest = n >>> 7; rest > 0; rest >>>= 7) size++;
  return size;
}
