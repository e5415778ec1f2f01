/**
 * proto <-> domain. Requests become engine inputs (with field-level
 * validation the engine cannot do: the shape of the story); engine events
 * become response messages, one to one.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Speed as DomainSpeed } from '../../strategies/sdk.js';
import type { SendEvent } from '../engine/events.js';
import type { SessionBatchHistory } from '../memory/history.js';
import type { Story as DomainStory } from '../transport/port.js';
import {
  SendMode,
  SendStoryResponseSchema,
  SessionHistorySchema,
  Speed,
  type SendStoryResponse,
  type SessionHistory,
  type Story,
} from '../gen/storycast/v1/story_service_pb.js';
import { checkMediaUrl } from '../media/url-guard.js';
import { HEX_COLOUR_FORMAT, isHexColour } from '../util/hex-colour.js';
import { invalidField } from './errors.js';

const SPEED: Record<DomainSpeed, Speed> = { FAST: Speed.FAST, NORMAL: Speed.NORMAL, SLOW: Speed.SLOW };

/** The request's story as the engine's Story; INVALID_ARGUMENT naming the field when it is not one. */
export function storyFromProto(story: Story | undefined): DomainStory {
  const content = story?.content;
  if (!content || content.case === undefined) {
    throw invalidField('story', 'MISSING_STORY', 'story is required: set story.text, story.image or story.video');
  }
  if (content.case === 'text') {
    const { text, backgroundColor, font } = content.value;
    if (text.trim() === '') throw invalidField('story.text.text', 'EMPTY_TEXT', 'story.text.text must not be empty');
    if (backgroundColor !== '' && !isHexColour(backgroundColor)) {
      throw invalidField(
        'story.text.background_color',
        'BAD_BACKGROUND_COLOR',
        `story.text.background_color "${backgroundColor}" must be ${HEX_COLOUR_FORMAT}`,
      );
    }
    return { kind: 'text', text, ...(backgroundColor ? { backgroundColor } : {}), ...(font ? { font } : {}) };
  }
  const kind = content.case;
  const { source, caption, mimeType } = content.value;
  const base = { kind, ...(caption ? { caption } : {}), ...(mimeType ? { mimeType } : {}) };
  if (source.case === 'data' && source.value.length > 0) return { ...base, data: source.value };
  if (source.case === 'url' && source.value !== '') {
    // What the text alone shows, for every transport; names are resolved and checked again when fetched.
    const checked = checkMediaUrl(source.value);
    if (!checked.ok) throw invalidField(`story.${kind}.url`, 'BAD_MEDIA_URL', `story.${kind}.url ${checked.problem}`);
    return { ...base, url: source.value };
  }
  throw invalidField(`story.${kind}`, 'MISSING_MEDIA', `story.${kind} needs its media: set story.${kind}.data or story.${kind}.url`);
}

export function eventToProto(event: SendEvent): SendStoryResponse {
  switch (event.type) {
    case 'planned':
      return create(SendStoryResponseSchema, {
        event: {
          case: 'planned',
          value: {
            sendId: event.sendId,
            sessionId: event.sessionId,
            strategy: event.strategy,
            mode: event.mode === 'smart' ? SendMode.SMART : SendMode.SINGLE,
            totalRecipients: event.total,
            sources: event.sources ?? { request: event.total, list: 0, contacts: 0 },
            invalidRecipients: event.invalid.map((i) => ({ input: i.input, reason: i.reason, index: i.index })),
            duplicateRecipients: event.duplicates,
            usedHistory: event.usedHistory,
            provenBatchSize: event.provenSize,
            firstBatchSize: event.firstBatchSize,
            reason: event.reason,
            experiment: event.experiment ?? '',
            arm: event.arm ?? '',
            strategyReason: event.strategyReason ?? '',
          },
        },
      });
    case 'anchor':
      return create(SendStoryResponseSchema, {
        event: {
          case: 'anchor',
          value: { messageId: event.messageId, recipients: event.recipients, durationMs: ms(event.durationMs), attempts: event.attempts },
        },
      });
    case 'batch':
      return create(SendStoryResponseSchema, {
        event: {
          case: 'batch',
          value: {
            index: event.index,
            size: event.size,
            durationMs: ms(event.durationMs),
            ok: event.ok,
            ...(event.late ? { late: true } : {}),
            ...(event.refused ? { refused: event.refused } : {}),
            ...(event.setupMs ? { setupMs: ms(event.setupMs) } : {}),
            ...(event.error
              ? {
                  error: {
                    code: event.error.code,
                    message: event.error.message,
                    retryable: event.error.retryable,
                    whatsappCode: event.error.whatsappCode ?? 0,
                  },
                }
              : {}),
            speed: SPEED[event.speed],
            delivered: event.delivered,
            failed: event.failed,
            remaining: event.remaining,
            nextBatchSize: event.nextSize,
            reason: event.reason,
          },
        },
      });
    case 'summary':
      return create(SendStoryResponseSchema, {
        event: {
          case: 'summary',
          value: {
            sendId: event.sendId,
            messageId: event.messageId,
            total: event.total,
            delivered: event.delivered,
            failed: event.failed.map((f) => ({ recipient: f.recipient, code: f.code, reason: f.reason })),
            invalid: event.invalid,
            batches: event.batches,
            batchSequence: [...event.batchSequence],
            totalDurationMs: BigInt(ms(event.totalDurationMs)),
            stoppedBy: event.stoppedBy ?? '',
            sessionLearning: event.learning,
          },
        },
      });
  }
}

export function historyToProto(history: SessionBatchHistory, ttlMs: number): SessionHistory {
  return create(SessionHistorySchema, {
    sessionId: history.sessionId,
    maxProvenBatchSize: history.maxProvenBatchSize,
    lastSuccessfulSend: timestampFromMs(history.lastSuccessfulSend),
    expireTime: timestampFromMs(history.lastSuccessfulSend + ttlMs),
    totalSuccessfulSends: BigInt(history.totalSuccessfulSends),
    totalAttempts: BigInt(history.totalAttempts),
    averageBatchTimeMs: history.averageBatchTime,
    successRate: history.successRate,
    minFailedBatchSize: history.minFailedBatchSize,
    learnedCallsPerSecond: history.learnedCallsPerSecond ?? 0,
    ...(history.callRateLearnedAt !== undefined ? { callRateLearnTime: timestampFromMs(history.callRateLearnedAt) } : {}),
  });
}

function ms(value: number): number {
  return Math.max(0, Math.round(value));
}
