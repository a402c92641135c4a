import { ApiError } from './errors.js';
import { baseHeaders, type Exchange, sendJson } from './http.js';
import { batchMessage } from './messages.js';
import { base62String } from './random.js';
import type { SimulatorState } from './state.js';

/** Reference §5: at most 100,000 requests or 256 MB per batch (413 beyond). */
export const maxBatchRequests = 100_000;
export const maxBatchBytes = 256 * 1024 * 1024;
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const HOUR_MS = 3_600_000;
const EXPIRY_MS = 24 * HOUR_MS;
const RETENTION_MS = 29 * 24 * HOUR_MS;

/** Simulated durations of a batch's life. */
export interface BatchTiming {
  /** From creation until the last request is processed (requests finish evenly across it). */
  processingMs: number;
  /** From a cancel until the requests not yet processed are canceled and the batch ends. */
  cancelMs: number;
}

const defaultTiming: BatchTiming = { processingMs: 10 * 60_000, cancelMs: 30_000 };

type Counts = { processing: number; succeeded: number; errored: number; canceled: number; expired: number };

interface SimBatch {
  id: string;
  createdAt: number;
  expiresAt: number;
  processingMs: number;
  cancelInitiatedAt: number | null;
  endedAt: number | null;
  requests: Array<{ custom_id: string; params: unknown }>;
  /** Requests processed (or settled as canceled/expired) so far, in order. */
  done: number;
  /** One JSONL line per settled request. */
  lines: string[];
  counts: Counts;
  version: string;
  betas: string | string[] | undefined;
  deleted: boolean;
}

/** The Message Batches of one simulated organization; each batch advances on the simulator's clock when read. */
export class BatchStore {
  private readonly batches = new Map<string, SimBatch>();
  timing: BatchTiming;

  constructor(timing: Partial<BatchTiming> = {}) {
    this.timing = { ...defaultTiming, ...timing };
  }

  setTiming(timing: Partial<BatchTiming>): void {
    this.timing = { ...this.timing, ...timing };
  }

  add(batch: SimBatch): void {
    this.batches.set(batch.id, batch);
  }

  get(id: string): SimBatch | undefined {
    const batch = this.batches.get(id);
    return batch && !batch.deleted ? batch : undefined;
  }

  /** Newest first. */
  list(): SimBatch[] {
    return [...this.batches.values()].filter((b) => !b.deleted).reverse();
  }

  clear(): void {
    this.batches.clear();
  }
}

function batchId(): string {
  return `msgbatch_01${base62String(22)}`;
}

/** `POST /v1/messages/batches` */
export function createBatch(exchange: Exchange, body: unknown): void {
  const { state } = exchange;
  const requests = checkBatchBody(body);
  const now = state.clock.now();
  const batch: SimBatch = {
    id: batchId(),
    createdAt: now,
    expiresAt: now + EXPIRY_MS,
    processingMs: state.batches.timing.processingMs,
    cancelInitiatedAt: null,
    endedAt: null,
    requests,
    done: 0,
    lines: [],
    counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    version: String(exchange.req.headers['anthropic-version']),
    betas: exchange.req.headers['anthropic-beta'],
    deleted: false,
  };
  state.batches.add(batch);
  sendJson(exchange, 200, view(exchange, batch));
}

/** The checks made when a batch is created; the rest of each request is checked when it is processed. */
function checkBatchBody(body: unknown): SimBatch['requests'] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, 'body: Input should be a valid dictionary');
  const requests = (body as { requests?: unknown }).requests;
  if (!Array.isArray(requests)) throw new ApiError(400, 'requests: Field required');
  if (requests.length === 0) throw new ApiError(400, 'requests: List should have at least 1 item');
  if (requests.length > maxBatchRequests)
    throw new ApiError(
      413,
      `requests: a batch may hold at most ${maxBatchRequests.toLocaleString('en-US')} requests`,
    );
  const seen = new Set<string>();
  requests.forEach((request, i) => {
    if (typeof request !== 'object' || request === null)
      throw new ApiError(400, `requests.${i}: Input should be a valid dictionary`);
    const { custom_id: customId, params } = request as { custom_id?: unknown; params?: unknown };
    if (typeof customId !== 'string' || !CUSTOM_ID.test(customId))
      throw new ApiError(400, `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    if (seen.has(customId))
      throw new ApiError(400, `requests.${i}.custom_id: Duplicate custom_id "${customId}" in the batch`);
    seen.add(customId);
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw new ApiError(400, `requests.${i}.params: Input should be a valid dictionary`);
    const p = params as Record<string, unknown>;
    if (p.stream !== undefined && p.stream !== false)
      throw new ApiError(400, `requests.${i}.params.stream: streaming is not supported in Message Batches`);
    if (p.speed !== undefined)
      throw new ApiError(400, `requests.${i}.params.speed: fast mode is not supported in Message Batches`);
    if (p.max_tokens === 0)
      throw new ApiError(400, `requests.${i}.params.max_tokens: must be at least 1 in Message Batches`);
  });
  return requests as SimBatch['requests'];
}

/**
 * Brings a batch up to the simulator's clock: requests due by now are processed in order; a
 * cancellation past its delay cancels the rest; the 24-hour expiry expires the rest.
 */
function advance(state: SimulatorState, batch: SimBatch): void {
  if (batch.endedAt !== null) return;
  const now = state.clock.now();
  const total = batch.requests.length;
  const cancelAt =
    batch.cancelInitiatedAt === null ? Infinity : batch.cancelInitiatedAt + state.batches.timing.cancelMs;
  const until = Math.min(now, cancelAt, batch.expiresAt);
  const dueAt = (i: number) => batch.createdAt + Math.ceil((batch.processingMs * (i + 1)) / total);
  while (batch.done < total && dueAt(batch.done) <= until) {
    const request = batch.requests[batch.done]!;
    settle(batch, request.custom_id, processOne(state, batch, request.params));
  }
  if (batch.done === total) {
    batch.endedAt = Math.min(dueAt(total - 1), now);
  } else if (now >= cancelAt || now >= batch.expiresAt) {
    const kind = now >= cancelAt && cancelAt <= batch.expiresAt ? 'canceled' : 'expired';
    while (batch.done < total) settle(batch, batch.requests[batch.done]!.custom_id, { type: kind });
    batch.endedAt = kind === 'canceled' ? cancelAt : batch.expiresAt;
  }
  if (batch.endedAt !== null) batch.requests = [];
}

function processOne(state: SimulatorState, batch: SimBatch, params: unknown): Record<string, unknown> {
  try {
    return { type: 'succeeded', message: batchMessage(state, params, batch.version, batch.betas) };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { type: 'errored', error: { type: 'error', error: { type: error.type, message: error.message } } };
  }
}

function settle(batch: SimBatch, customId: string, result: Record<string, unknown>): void {
  batch.lines.push(JSON.stringify({ custom_id: customId, result }));
  batch.done++;
  batch.counts.processing--;
  batch.counts[result.type as keyof Counts]++;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function view(exchange: Exchange, batch: SimBatch): Record<string, unknown> {
  const ended = batch.endedAt !== null;
  const archived = exchange.state.clock.now() >= batch.createdAt + RETENTION_MS;
  const host = exchange.req.headers.host ?? 'api.anthropic.com';
  return {
    id: batch.id,
    type: 'message_batch',
    processing_status: ended ? 'ended' : batch.cancelInitiatedAt !== null ? 'canceling' : 'in_progress',
    request_counts: { ...batch.counts },
    ended_at: iso(batch.endedAt),
    created_at: iso(batch.createdAt),
    expires_at: iso(batch.expiresAt),
    archived_at: archived ? iso(batch.createdAt + RETENTION_MS) : null,
    cancel_initiated_at: iso(batch.cancelInitiatedAt),
    results_url: ended && !archived ? `http://${host}/v1/messages/batches/${batch.id}/results` : null,
  };
}

function found(exchange: Exchange, id: string): SimBatch {
  const batch = exchange.state.batches.get(id);
  if (!batch) throw new ApiError(404, `message_batch: ${id} not found`);
  advance(exchange.state, batch);
  return batch;
}

/** `GET /v1/messages/batches`: newest first, `before_id` / `after_id` / `limit` (20 by default, 1,000 at most). */
export function listBatches(exchange: Exchange): void {
  const { searchParams } = exchange.url;
  const limitText = searchParams.get('limit');
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ApiError(400, 'limit: Input should be a whole number from 1 to 1000');
  let all = exchange.state.batches.list();
  const afterId = searchParams.get('after_id');
  const beforeId = searchParams.get('before_id');
  if (afterId) {
    const at = all.findIndex((b) => b.id === afterId);
    all = at === -1 ? [] : all.slice(at + 1);
  }
  let page: SimBatch[];
  let hasMore: boolean;
  if (beforeId) {
    const at = all.findIndex((b) => b.id === beforeId);
    const before = at === -1 ? [] : all.slice(0, at);
    page = before.slice(-limit);
    hasMore = before.length > limit;
  } else {
    page = all.slice(0, limit);
    hasMore = all.length > limit;
  }
  for (const batch of page) advance(exchange.state, batch);
  sendJson(exchange, 200, {
    data: page.map((b) => view(exchange, b)),
    has_more: hasMore,
    first_id: page[0]?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
  });
}

export function getBatch(exchange: Exchange, id: string): void {
  sendJson(exchange, 200, view(exchange, found(exchange, id)));
}

/** `POST /{id}/cancel`: in progress → canceling → ended, the unprocessed requests canceled. */
export function cancelBatch(exchange: Exchange, id: string): void {
  const batch = found(exchange, id);
  if (batch.endedAt === null && batch.cancelInitiatedAt === null) {
    batch.cancelInitiatedAt = exchange.state.clock.now();
  }
  sendJson(exchange, 200, view(exchange, batch));
}

/** `DELETE /{id}`: only once the batch has ended (cancel it first). */
export function deleteBatch(exchange: Exchange, id: string): void {
  const batch = found(exchange, id);
  if (batch.endedAt === null)
    throw new ApiError(
      400,
      `message_batch ${id} is still ${batch.cancelInitiatedAt === null ? 'in_progress' : 'canceling'}; cancel it and wait for it to end before deleting it`,
    );
  batch.deleted = true;
  sendJson(exchange, 200, { id, type: 'message_batch_deleted' });
}

/** `GET /{id}/results`: JSONL, written line by line. */
export function batchResults(exchange: Exchange, id: string): void {
  const batch = found(exchange, id);
  if (batch.endedAt === null)
    throw new ApiError(400, `message_batch ${id} has not ended yet; results are available once it has`);
  if (exchange.state.clock.now() >= batch.createdAt + RETENTION_MS)
    throw new ApiError(404, `results of message_batch ${id} are no longer available (kept 29 days)`);
  exchange.state.counters.answered(200);
  const { res } = exchange;
  res.writeHead(200, { ...baseHeaders(exchange), 'content-type': 'application/binary' });
  const lines = batch.lines;
  let at = 0;
  const pump = () => {
    while (at < lines.length) {
      if (res.destroyed) return;
      if (!res.write(`${lines[at++]}\n`)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}
