import { describe, expect, it } from 'vitest';
import { classifyAckError, classifyBaileysError, DEFAULT_RATE_LIMIT_RETRY_MS } from '../src/transport/baileys/errors.js';
import { TransportError } from '../src/transport/port.js';
import { boom } from './support/fake-socket.js';

describe('classifyBaileysError', () => {
  it('408 (promiseTimeout "Timed Out", connectionLost) is TIMEOUT', () => {
    const e = classifyBaileysError(boom('Timed Out', { statusCode: 408 }));
    expect(e.code).toBe('TIMEOUT');
    expect(e.fatal).toBe(false);
  });

  it('a frame too large for the noise header (RangeError ERR_OUT_OF_RANGE) is TIMEOUT, a size signal', () => {
    let thrown: unknown;
    try {
      Buffer.alloc(3).writeUInt8(294, 0);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect(classifyBaileysError(thrown).code).toBe('TIMEOUT');
    expect(classifyBaileysError(new Error('string too large to encode: 5000000000')).code).toBe('TIMEOUT');
  });

  it('rate-overlimit (code 429 in the Boom data, status 500) is RATE_LIMITED with a default wait', () => {
    const e = classifyBaileysError(boom('rate-overlimit', { data: 429 }));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterMs).toBe(DEFAULT_RATE_LIMIT_RETRY_MS);
  });

  it('a 429 status with a retry-after header uses the hint', () => {
    const b = boom('too many', { statusCode: 429 }) as Error & { output: { headers: Record<string, string> } };
    b.output.headers['retry-after'] = '12';
    const e = classifyBaileysError(b);
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.retryAfterMs).toBe(12_000);
  });

  it('428 connection closed is DISCONNECTED: retryable, and nothing about the batch', () => {
    const e = classifyBaileysError(boom('Connection Closed', { statusCode: 428 }));
    expect(e.code).toBe('DISCONNECTED');
    expect(e.whatsappCode).toBeUndefined();
    expect(e.fatal).toBe(false);
    expect(e.message).toMatch(/reconnect/);
  });

  it('401 logged out and 403 forbidden are fatal', () => {
    expect(classifyBaileysError(boom('Intentional Logout', { statusCode: 401 })).code).toBe('LOGGED_OUT');
    expect(classifyBaileysError(boom('forbidden', { statusCode: 403 })).code).toBe('FORBIDDEN');
    expect(classifyBaileysError(boom('not-authorized', { data: 401 })).fatal).toBe(true);
    expect(classifyBaileysError(boom('forbidden', { data: 403 })).code).toBe('FORBIDDEN');
  });

  it('other Booms and plain errors are retryable SEND_FAILED; TransportErrors pass through', () => {
    expect(classifyBaileysError(boom('Stream Errored (conflict)', { statusCode: 440 })).code).toBe('SEND_FAILED');
    expect(classifyBaileysError(new Error('boom')).code).toBe('SEND_FAILED');
    const own = new TransportError('FORBIDDEN', 'x');
    expect(classifyBaileysError(own)).toBe(own);
  });
});

describe('classifyAckError', () => {
  it('an error ack (479) fails the batch with its code, retryably', () => {
    const e = classifyAckError('479');
    expect(e.code).toBe('SEND_FAILED');
    expect(e.message).toContain('479');
    expect(e.whatsappCode).toBe(479);
    expect(e.fatal).toBe(false);
  });

  it('479 on an account moved to LID addressing cannot heal: STATUS_REJECTED stops the send and says why', () => {
    const e = classifyAckError('479', { lid: '123456789012345@lid' });
    expect(e.code).toBe('STATUS_REJECTED');
    expect(e.fatal).toBe(true);
    expect(e.whatsappCode).toBe(479);
    expect(e.message).toMatch(/LID addressing/);
    // Other codes on such an account stay retryable, and so does a 479 once a status of it went through.
    expect(classifyAckError('500', { lid: '1@lid' }).code).toBe('SEND_FAILED');
    expect(classifyAckError('479', { lid: '1@lid', statusAccepted: true }).code).toBe('SEND_FAILED');
  });

  it("a query error's code from WhatsApp travels as whatsappCode; Baileys' own status codes do not", () => {
    expect(classifyBaileysError(boom('not-acceptable', { data: 406 })).whatsappCode).toBe(406);
    expect(classifyBaileysError(boom('Timed Out', { statusCode: 408 })).whatsappCode).toBeUndefined();
  });

  it('a 429 ack is a rate limit', () => {
    expect(classifyAckError('429').code).toBe('RATE_LIMITED');
  });
});
