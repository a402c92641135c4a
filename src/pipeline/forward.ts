import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Cost } from '../catalog/cost.js';
import { formatUsdExact } from '../catalog/money.js';
import type { UpstreamClient, UpstreamResponse } from '../upstream/client.js';
import type { RetryPolicy } from '../upstream/retry.js';
import {
  backoffDelayMs,
  isRetryableError,
  isRetryableStatus,
  requestedWaitMs,
  sleep,
} from '../upstream/retry.js';
import { sseEvent } from '../upstream/sse-usage.js';
import { messagesUsage } from '../upstream/usage-readers.js';
import { patchedBody } from './body-bytes.js';
import { ApiError } from './errors.js';
import type { Responder } from './stage.js';
import type { Call } from './types.js';

export interface ForwardOptions {
  client: UpstreamClient;
  retry: RetryPolicy;
  /** Upstream key for the call (by its key's environment). */
  upstreamKey: (call: Call) => string;
  /** On 529 the next attempt may use the next model of this chain. */
  fallback: Record<string, string[]>;
  /** Prices the call once its usage is known (sets call.cost). */
  price?: (call: Call) => void;
  /**
   * Sees every upstream answer, retried ones included (rate-limit learning). Successful answers
   * are seen once their first bytes are on the way to the client: learning is not on the path.
   */
  observe?: (call: Call, status: number, headers: IncomingHttpHeaders) => void;
  random?: () => number;
}

// Client headers that are Sluice's or the connection's, never forwarded.
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'x-api-key',
  'authorization',
  'accept-encoding',
  'expect',
]);
// Upstream headers that describe the upstream connection, not the answer.
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'trailer',
  'proxy-authenticate',
]);

export function upstreamRequestHeaders(
  call: Call,
  upstreamKey: string,
  bodyLength: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const incoming = call.headers;
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('x-sluice-')) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['x-api-key'] = upstreamKey;
  headers['accept-encoding'] = 'identity';
  if (bodyLength > 0) headers['content-length'] = String(bodyLength);
  return headers;
}

export function responseHeaders(
  call: Call,
  upstream: IncomingHttpHeaders,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) headers[name] = value;
  }
  headers['x-sluice-request-id'] = call.id;
  if (call.route?.header) headers['x-sluice-route'] = call.route.header;
  if (call.upstream?.fallbackFrom)
    headers['x-sluice-fallback'] = `${call.upstream.fallbackFrom} -> ${call.body.model}`;
  return headers;
}

/**
 * Sends the call upstream, retrying what may be retried before anything reached the client,
 * then passes the answer through: streams chunk by chunk as they arrive (the usage tap reads a
 * copy), JSON bodies whole (they are small, and the cost header must precede them).
 */
export async function forward(call: Call, responder: Responder, options: ForwardOptions): Promise<void> {
  const upstreamKey = options.upstreamKey(call);
  // The chain of the model asked for, followed on 529 even after the first fallback.
  const fallbacks = options.fallback[call.body.model];
  let nextFallback = 0;
  const method = methodOf(call);
  let attempt = 0;
  for (;;) {
    attempt++;
    // The client's bytes; when a stage changed the body, only the values it changed are re-written.
    const body =
      method !== 'POST'
        ? undefined
        : (call.bodyStream ?? (call.bodyChanged ? patchedBody(call.rawBody, call.body) : call.rawBody));
    let response: UpstreamResponse;
    const logged = { startedAt: performance.now(), answeredAt: undefined as number | undefined, status: 0 };
    call.attemptLog ??= [];
    call.attemptLog.push(logged);
    try {
      response = await options.client.send({
        method,
        path: call.path + (call.query ?? ''),
        headers: upstreamRequestHeaders(call, upstreamKey, bodyLength(call, body)),
        body,
        signal: call.signal,
      });
    } catch (error) {
      logged.answeredAt = performance.now();
      // No answer (status 0), but the attempt counts: the log line and the ledger show the retries.
      call.upstream = { ...call.upstream, status: 0, attempts: attempt };
      if (call.signal.aborted) throw error;
      // An upload refused while it streamed (too large) is the client's: its own error, no retry.
      if (error instanceof ApiError) throw error;
      const waitMs = backoffDelayMs(options.retry, attempt, undefined, options.random);
      if (isRetryableError(error) && canRetry(call, options.retry, attempt, waitMs)) {
        await sleep(waitMs, call.signal);
        continue;
      }
      throw new ApiError(
        isTimeout(error) ? 504 : 502,
        isTimeout(error)
          ? 'upstream timed out'
          : `upstream unreachable (${(error as { code?: string }).code ?? (error as Error).message})`,
      );
    }
    logged.answeredAt = performance.now();
    logged.status = response.status;
    call.upstream = {
      ...call.upstream,
      status: response.status,
      requestId: str(response.headers['request-id']),
      attempts: attempt,
    };
    if (response.status >= 400) {
      // Before deciding on a retry: a 429 pauses the buckets the retry will wait on.
      options.observe?.(call, response.status, response.headers);
      const text = (await response.bytes()).toString('utf8');
      const requested = requestedWaitMs(response.headers);
      const waitMs = backoffDelayMs(options.retry, attempt, requested, options.random);
      const retryable =
        isRetryableStatus(response.status, text) && (requested ?? 0) <= options.retry.maxRetryAfterMs;
      if (retryable && canRetry(call, options.retry, attempt, waitMs)) {
        if (response.status === 529 && fallbacks && nextFallback < fallbacks.length) {
          call.upstream.fallbackFrom ??= call.body.model;
          call.body.model = fallbacks[nextFallback++]!;
          call.bodyChanged = true;
        }
        await sleep(waitMs, call.signal);
        continue;
      }
      // Retries are over: the client gets the upstream's own answer and its retry-after.
      call.status = response.status;
      call.errorType = errorTypeOf(text);
      responder.head(response.status, {
        ...responseHeaders(call, response.headers),
        'content-length': String(Buffer.byteLength(text)),
      });
      responder.end(text);
      return;
    }

    call.status = response.status;
    const contentType = str(response.headers['content-type']) ?? '';
    if (contentType.includes('text/event-stream')) await relayStream(call, response, responder, options);
    else if (call.usageReader || call.rewriteAnswer) await relayJson(call, response, responder, options);
    else await relayAsItComes(call, response, responder, options);
    return;
  }
}

function methodOf(call: Call): 'GET' | 'POST' | 'DELETE' {
  if (call.method === 'GET' || call.method === 'DELETE' || call.method === 'POST') return call.method;
  return call.path === '/v1/models' || call.path.startsWith('/v1/models/') ? 'GET' : 'POST';
}

/** The length of a buffered body; a streamed one keeps the length the client declared, if any. */
function bodyLength(call: Call, body: Buffer | Readable | undefined): number {
  if (body === undefined) return 0;
  if (Buffer.isBuffer(body)) return body.length;
  const declared = Number(call.headers['content-length']);
  return Number.isFinite(declared) ? declared : 0;
}

async function relayJson(
  call: Call,
  response: UpstreamResponse,
  responder: Responder,
  options: ForwardOptions,
): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await response.bytes();
  } catch (error) {
    options.observe?.(call, response.status, response.headers);
    throw error;
  }
  call.firstByteAt = performance.now();
  if (call.usageReader) {
    call.usage = call.usageReader.json(bytes);
    options.price?.(call);
  }
  if (call.rewriteAnswer) bytes = await call.rewriteAnswer(response.status, bytes);
  const headers = responseHeaders(call, response.headers);
  headers['content-length'] = String(bytes.length);
  if (call.cost) costHeaders(call.cost, headers);
  responder.head(response.status, headers);
  responder.end(bytes);
  options.observe?.(call, response.status, response.headers);
}

/**
 * Passes the stream on chunk by chunk as it arrives, pausing the upstream while the client's
 * buffer is full. The usage tap reads each chunk on the way.
 */
async function relayStream(
  call: Call,
  response: UpstreamResponse,
  responder: Responder,
  options: ForwardOptions,
): Promise<void> {
  const tap = (call.usageReader ?? messagesUsage).stream();
  const wantsCost = call.headers['x-sluice-include-cost'] === 'true' && call.usageReader?.costEvent === true;
  responder.head(response.status, responseHeaders(call, response.headers));
  const resume = () => {
    if (!call.signal.aborted) response.resume();
  };
  const observe = () => options.observe?.(call, response.status, response.headers);
  try {
    await response.relay((chunk) => {
      if (call.firstByteAt === undefined) {
        call.firstByteAt = performance.now();
        // Queued after the write's own flush, so the first bytes leave before learning runs.
        process.nextTick(observe);
      }
      let open: boolean;
      if (!wantsCost) {
        tap.push(chunk);
        open = responder.write(chunk);
      } else {
        // Event-aligned only when the client asked for the cost event, which must precede message_stop.
        open = true;
        for (const event of tap.push(chunk, true)) {
          if (event.startsWith('event: message_stop')) {
            call.usage = tap.usage;
            options.price?.(call);
            open = responder.write(sseEvent('sluice_cost', costEventData(call))) && open;
          }
          open = responder.write(event) && open;
        }
      }
      if (!open) void responder.drained().then(resume);
      return open;
    });
  } finally {
    if (call.firstByteAt === undefined) observe();
    // Also when the stream was cut (client gone, shutdown, upstream failure): what was
    // generated so far is charged upstream, so it is accounted for.
    if (tap.sawMessageStart) call.usage = tap.usage;
  }
  const rest = tap.flush();
  if (wantsCost && rest) responder.write(rest);
  if (tap.sawMessageStart) call.usage = tap.usage;
  if (tap.error) call.errorType = tap.error.type;
  if (!tap.sawMessageStop && !tap.error) call.errorType = 'incomplete_stream';
  responder.end();
}

/**
 * Passes an answer through chunk by chunk, whatever its size (a file download), pausing the
 * upstream while the client's buffer is full. Nothing is read from it.
 */
async function relayAsItComes(
  call: Call,
  response: UpstreamResponse,
  responder: Responder,
  options: ForwardOptions,
): Promise<void> {
  const headers = responseHeaders(call, response.headers);
  const length = str(response.headers['content-length']);
  if (length !== undefined) headers['content-length'] = length;
  responder.head(response.status, headers);
  const resume = () => {
    if (!call.signal.aborted) response.resume();
  };
  try {
    await response.relay((chunk) => {
      if (call.firstByteAt === undefined) call.firstByteAt = performance.now();
      const open = responder.write(chunk);
      if (!open) void responder.drained().then(resume);
      return open;
    });
  } finally {
    options.observe?.(call, response.status, response.headers);
  }
  responder.end();
}

function costEventData(call: Call) {
  const cost = call.cost;
  return {
    type: 'sluice_cost',
    cost_usd: cost ? formatUsdExact(cost.pico) : null,
    priced: cost?.priced === true,
    ...(cost && !cost.priced ? { unpriced_reason: cost.reason } : {}),
    usage: call.usage,
  };
}

/**
 * `x-sluice-cost-usd`: what the request cost, or for a model without a price what it was
 * counted at, with `x-sluice-cost-unpriced` saying why.
 */
function costHeaders(cost: Cost, headers: Record<string, string | string[]>): void {
  headers['x-sluice-cost-usd'] = formatUsdExact(cost.pico);
  if (!cost.priced) headers['x-sluice-cost-unpriced'] = cost.reason;
}

function canRetry(call: Call, policy: RetryPolicy, attempt: number, waitMs: number): boolean {
  // A streamed upload was consumed by the attempt: there is nothing left to send again.
  if (attempt >= policy.maxAttempts || call.bodyStream) return false;
  return performance.now() - call.receivedAt + waitMs < policy.deadlineMs;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}

function errorTypeOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: { type?: string } }).error?.type;
  } catch {
    return undefined;
  }
}

const str = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
