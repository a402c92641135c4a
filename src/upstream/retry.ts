import type { IncomingHttpHeaders } from 'node:http';
import type { AbortSignalLike } from '../pipeline/signal.js';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  deadlineMs: number;
  maxRetryAfterMs: number;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504, 529]);

/** Whether a failed upstream answer may be tried again. A spend-cap 429 never is: waiting will not help. */
export function isRetryableStatus(status: number, body: string): boolean {
  if (!RETRYABLE_STATUS.has(status)) return false;
  return !(status === 429 && body.includes('enforced_spend_limit_reached'));
}

/** The wait the upstream asked for, from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export function requestedWaitMs(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers['retry-after'];
  if (typeof value !== 'string' || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Delay before attempt number `attempt + 1` (attempt counts from 1): exponential with full
 * jitter in its upper half, never shorter than what the upstream asked for.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  requestedMs: number | undefined,
  random = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return requestedMs === undefined ? jittered : Math.max(requestedMs, jittered * 0.25);
}

/** Network failures worth another attempt (the request never produced a response). */
export function isRetryableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError') return false;
  const code = (error as { code?: string }).code ?? '';
  return (
    (code.startsWith('UND_ERR_') &&
      code !== 'UND_ERR_ABORTED' &&
      code !== 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH'].includes(
      code,
    )
  );
}

/** Sleeps, or stops early when the client goes away. */
export function sleep(ms: number, signal: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
