import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders, quotaHeaders } from '../../src/limits/headers.js';

describe('rate-limit headers', () => {
  it('reads Anthropic rate-limit headers from a plain object or a fetch Headers', () => {
    const values = {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:01Z',
      'anthropic-ratelimit-input-tokens-limit': '30000',
      'anthropic-ratelimit-input-tokens-remaining': '29000',
      'anthropic-ratelimit-output-tokens-remaining': 'garbage',
      'retry-after': '12',
    };
    for (const source of [values, new Headers(values)]) {
      const reading = parseRateLimitHeaders(source);
      expect(reading.requests).toEqual({
        limit: 50,
        remaining: 49,
        resetAt: Date.parse('2026-01-01T00:00:01Z'),
      });
      expect(reading.inputTokens).toMatchObject({ limit: 30000, remaining: 29000 });
      expect(reading.outputTokens).toEqual({ limit: undefined, remaining: undefined });
      expect(reading.retryAfterMs).toBe(12_000);
    }
  });

  it("reads fast mode's own headers for a fast request, and only those", () => {
    const values = {
      'anthropic-ratelimit-input-tokens-limit': '2000000',
      'anthropic-ratelimit-input-tokens-remaining': '1999000',
      'anthropic-fast-input-tokens-limit': '500000',
      'anthropic-fast-input-tokens-remaining': '499000',
      'anthropic-fast-output-tokens-limit': '100000',
      'anthropic-fast-output-tokens-remaining': '99000',
      'retry-after': '3',
    };
    const fast = parseRateLimitHeaders(values, Date.now(), 'fast');
    expect(fast.inputTokens).toEqual({ limit: 500_000, remaining: 499_000 });
    expect(fast.outputTokens).toEqual({ limit: 100_000, remaining: 99_000 });
    expect(fast.requests).toEqual({ limit: undefined, remaining: undefined });
    expect(fast.retryAfterMs).toBe(3000);
    expect(parseRateLimitHeaders(values).inputTokens).toEqual({ limit: 2_000_000, remaining: 1_999_000 });
    expect(parseRateLimitHeaders(values).outputTokens).toEqual({ limit: undefined, remaining: undefined });
  });

  it('prefers retry-after-ms and understands an HTTP date', () => {
    expect(parseRateLimitHeaders({ 'retry-after-ms': '1500', 'retry-after': '9' }).retryAfterMs).toBe(1500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRateLimitHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, now).retryAfterMs).toBe(
      30_000,
    );
  });

  it('describes quotas in the same style, retry-after rounded up', () => {
    const resetAt = Date.parse('2026-01-01T00:00:10.200Z');
    expect(quotaHeaders([{ kind: 'tokens', limit: 1000, remaining: 12.7, resetAt }], 2300)).toEqual({
      'retry-after': '3',
      'retry-after-ms': '2300',
      'anthropic-ratelimit-tokens-limit': '1000',
      'anthropic-ratelimit-tokens-remaining': '12',
      'anthropic-ratelimit-tokens-reset': '2026-01-01T00:00:11Z',
    });
  });
});
