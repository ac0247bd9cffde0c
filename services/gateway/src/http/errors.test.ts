import { describe, expect, it } from 'vitest';
import { ErrorCode, invalidArgument, resourceExhausted, TesseraError } from '@tessera/runtime';
import { toHttpError } from './errors.js';

const message = (e: TesseraError) => toHttpError(e).body.error.message;

describe('toHttpError', () => {
  it('names the limit an error carries, unless the message already does', () => {
    expect(message(invalidArgument('stop', 'too many stop sequences: 5', 'stop <= 4'))).toBe('too many stop sequences: 5 (limit: stop <= 4)');
    // Named already: the limit itself, or every number in it.
    expect(message(invalidArgument('top_p', 'top_p is 2; allowed: 0 < top_p <= 1', '0 < top_p <= 1'))).toBe('top_p is 2; allowed: 0 < top_p <= 1');
    expect(message(invalidArgument('page_size', 'page_size must be an integer in 1..500, got "5000"', '1 <= page_size <= 500'))).toBe('page_size must be an integer in 1..500, got "5000"');
    // A bound seen only inside another number ("2560" holds "256") is not named.
    expect(message(invalidArgument('messages', 'too many messages: 2560', 'messages <= 256'))).toBe('too many messages: 2560 (limit: messages <= 256)');
    expect(message(invalidArgument('x', 'bad x'))).toBe('bad x');
  });

  it('maps codes to OpenAI statuses and types, with Retry-After where a retry can help, and hides internal messages', () => {
    const quota = toHttpError(resourceExhausted('tokens', 'over the token quota', 'tokens/min <= 1000', 2500));
    expect([quota.status, quota.body.error.type, quota.headers['retry-after']]).toEqual([429, 'rate_limit_error', '3']);
    const big = toHttpError(new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, 'body too large', { field: 'body', payloadTooLarge: true }));
    expect([big.status, big.body.error.type, big.headers['retry-after']]).toEqual([413, 'invalid_request_error', undefined]);
    const internal = toHttpError(new TesseraError(ErrorCode.INTERNAL, 'stack details'));
    expect([internal.status, internal.body.error.message]).toEqual([500, 'internal error']);
  });
});
