/** Header values as Node, undici or fetch give them. */
export type HeaderSource =
  | { get(name: string): string | null }
  | Record<string, string | string[] | number | undefined>;

export interface LimitReading {
  limit?: number;
  remaining?: number;
  /** When the bucket will be full (ms since the epoch): it dates `remaining` (see the limiter). */
  resetAt?: number;
}

/**
 * Standard requests are counted in the `anthropic-ratelimit-*` buckets; fast-mode requests
 * (`speed: "fast"`) in separate ones, reported as `anthropic-fast-{input|output}-tokens-*`.
 */
export type Speed = 'standard' | 'fast';

/**
 * What one upstream response says about the organization's limits: what the buckets are
 * corrected with. (The combined `tokens` headers add nothing to the separate input and output
 * buckets, and this runs for every response, so they are not read.)
 */
export interface RateLimitReading {
  requests: LimitReading;
  inputTokens: LimitReading;
  outputTokens: LimitReading;
  /** From `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
  retryAfterMs?: number;
}

const kinds = {
  requests: 'requests',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens',
} as const;

/** The header names of each speed's buckets, built once (this runs for every response). */
type Names = { limit: string; remaining: string; reset: string };
const names: Record<Speed, Record<keyof typeof kinds, Names>> = {
  standard: namesFor('anthropic-ratelimit-'),
  // Fast mode publishes token headers only; its requests header would be read should it appear.
  fast: namesFor('anthropic-fast-'),
};

function namesFor(prefix: string): Record<keyof typeof kinds, Names> {
  const entry = (kind: string) => ({
    limit: `${prefix}${kind}-limit`,
    remaining: `${prefix}${kind}-remaining`,
    reset: `${prefix}${kind}-reset`,
  });
  return {
    requests: entry(kinds.requests),
    inputTokens: entry(kinds.inputTokens),
    outputTokens: entry(kinds.outputTokens),
  };
}

function header(source: HeaderSource, name: string): string | undefined {
  if (typeof (source as { get?: unknown }).get === 'function') {
    return (source as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const value = (source as Record<string, string | string[] | number | undefined>)[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}

function number(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function time(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The limits of one speed's buckets (standard: `anthropic-ratelimit-*`, fast: `anthropic-fast-*`). */
export function parseRateLimitHeaders(
  source: HeaderSource,
  now = Date.now(),
  speed: Speed = 'standard',
): RateLimitReading {
  const reading = {} as RateLimitReading;
  const named = names[speed];
  for (const field of Object.keys(kinds) as Array<keyof typeof kinds>) {
    reading[field] = {
      limit: number(header(source, named[field].limit)),
      remaining: number(header(source, named[field].remaining)),
      resetAt: time(header(source, named[field].reset)),
    };
  }
  const retryAfterMs = number(header(source, 'retry-after-ms'));
  const retryAfter = header(source, 'retry-after');
  if (retryAfterMs !== undefined) reading.retryAfterMs = retryAfterMs;
  else if (retryAfter !== undefined) {
    const seconds = number(retryAfter);
    const date = seconds === undefined ? time(retryAfter) : undefined;
    if (seconds !== undefined) reading.retryAfterMs = seconds * 1000;
    else if (date !== undefined) reading.retryAfterMs = Math.max(0, date - now);
  }
  return reading;
}

/** One of a key's quotas, for the headers of a refusal. */
export interface QuotaState {
  kind: 'requests' | 'tokens' | 'daily-tokens';
  limit: number;
  remaining: number;
  resetAt: number;
}

/**
 * Headers in Anthropic's style describing a key's own quotas, plus `retry-after` (whole
 * seconds, rounded up) and `retry-after-ms` (which the official SDKs prefer).
 */
export function quotaHeaders(quotas: QuotaState[], retryAfterMs: number): Record<string, string> {
  const headers: Record<string, string> = {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    'retry-after-ms': String(Math.max(1, Math.ceil(retryAfterMs))),
  };
  for (const quota of quotas) {
    headers[`anthropic-ratelimit-${quota.kind}-limit`] = String(quota.limit);
    headers[`anthropic-ratelimit-${quota.kind}-remaining`] = String(Math.max(0, Math.floor(quota.remaining)));
    headers[`anthropic-ratelimit-${quota.kind}-reset`] = new Date(Math.ceil(quota.resetAt / 1000) * 1000)
      .toISOString()
      .replace('.000Z', 'Z');
  }
  return headers;
}
