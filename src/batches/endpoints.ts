import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { requestedCacheWrite, worstCaseCost } from '../catalog/cost.js';
import type { Reservation } from '../ledger/budget-enforcer.js';
import type { BudgetGate } from '../ledger/plugin.js';
import { ApiError } from '../pipeline/errors.js';
import { responseHeaders, upstreamRequestHeaders } from '../pipeline/forward.js';
import { checkMessagesBody } from '../pipeline/guard.js';
import type { Route } from '../pipeline/pipeline.js';
import type { Responder, Stage } from '../pipeline/stage.js';
import type { Call, Principal } from '../pipeline/types.js';
import { parseJsonBody, readBody } from '../server/http-io.js';
import type { Store } from '../store/database.js';
import type { UpstreamClient, UpstreamResponse } from '../upstream/client.js';
import { BatchCollector, type CollectorOptions } from './collector.js';
import type { DeferralConfig } from './config.js';
import { Deferral } from './deferral.js';
import type { BatchDb, MessageBatchRequestsTable } from './tables.js';

/** Reference §5: a batch holds at most 256 MB; the upstream answers 413 beyond, so does Sluice. */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const BATCH_ID = /^[A-Za-z0-9_-]{1,100}$/;
const BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;

/** What the gateway lends the batch endpoints: its stages, its upstream client and credentials. */
export interface BatchGatewayParts {
  catalog: Catalog;
  store: Store;
  logger: Logger;
  authenticate: Stage;
  route: Stage;
  guard: Stage;
  client: UpstreamClient;
  /** The upstream key of an environment. */
  upstreamKey: (environment: string) => string | undefined;
}

/** What the money and limits parts lend: budgets and the input-token estimate. */
export interface BatchMoneyParts {
  enforcer?: BudgetGate;
  estimateInputTokens?: (call: Call) => number;
  /** Takes a batch's requests and tokens from the key's quotas; throws the refusal. */
  takeQuotas?: (principal: Principal, requests: number, tokens: number) => Promise<void>;
  collector?: Partial<CollectorOptions>;
  defer?: DeferralConfig;
}

/** The Message Batches endpoints of the gateway, and the collector that records their results. */
export interface BatchEndpoints {
  /** The route serving a method and path, if it is a batch or deferral endpoint. */
  route(method: string, path: string): Route | undefined;
  /** The Messages route with deferral (`x-sluice-defer: batch`) decided before admission. */
  deferrable(messages: Route): Route;
  collector: BatchCollector;
  deferral: Deferral;
  close(): Promise<void>;
}

interface CheckedBatch {
  body: { requests: Array<{ custom_id: string; params: Call['body'] }>; [field: string]: unknown };
  changed: boolean;
  decisions: Omit<MessageBatchRequestsTable, 'batch_id'>[];
  worstPico: bigint;
  /** Estimated input plus `max_tokens` of every request, for the key's token quotas. */
  quotaTokens: number;
  reservation?: Reservation;
}

export function batchEndpoints(parts: BatchGatewayParts, money: BatchMoneyParts = {}): BatchEndpoints {
  const db = parts.store.db as unknown as BatchDb;
  const { catalog } = parts;
  const checked = new WeakMap<Call, CheckedBatch>();
  const collector = new BatchCollector({
    store: parts.store,
    catalog,
    client: parts.client,
    upstreamKey: parts.upstreamKey,
    logger: parts.logger,
    ...money.collector,
  });

  const deferral = new Deferral({
    store: parts.store,
    client: parts.client,
    upstreamKey: parts.upstreamKey,
    logger: parts.logger,
    collector,
    config: money.defer ?? { maxRequests: 1000, maxBytes: 50 * 1024 * 1024, maxAgeMs: 60_000, keys: [] },
    instanceId: collector.instanceId,
    leaseMs: collector.leaseMs,
    clock: Date.now,
  });
  collector.beforePass(() => deferral.flush());
  collector.afterPass(() => deferral.deliver());

  const send = (call: Call, method: 'GET' | 'POST' | 'DELETE', path: string, body?: Buffer) => {
    const environment = call.principal!.environment;
    const key = parts.upstreamKey(environment);
    if (!key) throw new ApiError(500, `no upstream key is configured for environment "${environment}"`);
    return parts.client.send({
      method,
      path,
      headers: upstreamRequestHeaders(call, key, body?.length ?? 0),
      body,
      signal: call.signal,
    });
  };

  /** The batch, if this call's key created it and has not deleted it; otherwise 404 as if absent. */
  const owned = async (call: Call, id: string) => {
    const row = BATCH_ID.test(id)
      ? await db
          .selectFrom('message_batches')
          .select(['id', 'deleted'])
          .where('id', '=', id)
          .where('key_id', '=', call.principal!.keyId)
          .executeTakeFirst()
      : undefined;
    if (!row || row.deleted) throw new ApiError(404, `message_batch: ${id.slice(0, 100)} not found`);
  };

  // ---- stages
  const readBatchBody: Stage = {
    name: 'body',
    run(call) {
      checkVersion(call.headers);
      return readBody(call.source!, MAX_BATCH_BYTES).then((raw) => {
        call.rawBody = raw;
        const parsed = parseJsonBody(raw);
        if (!isObject(parsed) || !Array.isArray(parsed.requests) || parsed.requests.length === 0)
          throw new ApiError(400, 'requests: a non-empty list of {custom_id, params} is required');
        checked.set(call, {
          body: parsed as CheckedBatch['body'],
          changed: false,
          decisions: [],
          worstPico: 0n,
          quotaTokens: 0,
        });
      });
    },
  };
  const drainBody: Stage = {
    name: 'body',
    run(call) {
      checkVersion(call.headers);
      call.source?.resume();
    },
  };
  /** Every request of the batch gets what a Messages request of its key gets: route and guard. */
  const checkRequests: Stage = {
    name: 'guard',
    async run(call) {
      const batch = checked.get(call)!;
      const seen = new Set<string>();
      for (const [i, request] of batch.body.requests.entries()) {
        if (!isObject(request)) throw new ApiError(400, `requests.${i}: must be {custom_id, params}`);
        const customId = request.custom_id;
        if (typeof customId !== 'string' || !CUSTOM_ID.test(customId))
          throw new ApiError(400, `requests.${i}.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$`);
        if (seen.has(customId))
          throw new ApiError(400, `requests.${i}.custom_id: "${customId}" appears twice in the batch`);
        seen.add(customId);
        const sub: Call = {
          ...call,
          body: request.params as Call['body'],
          bodyChanged: false,
          holds: [],
          route: undefined,
          model: undefined,
          requestedModel: undefined,
          estimatedInputTokens: undefined,
        };
        try {
          checkMessagesBody(sub.body);
          await parts.route.run(sub);
          await parts.guard.run(sub);
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          throw new ApiError(
            error.status,
            `requests.${i} (custom_id "${customId}"): ${error.message}`,
            error.headers,
            error.type,
          );
        }
        if (sub.bodyChanged) {
          request.params = sub.body;
          batch.changed = true;
        }
        const reason = sub.route ? [sub.route.rule, ...sub.route.reasons].filter(Boolean).join('; ') : '';
        batch.decisions.push({
          custom_id: customId,
          requested_model: (sub.requestedModel ?? sub.body.model).slice(0, 100),
          model: (sub.model?.id ?? sub.body.model).slice(0, 100),
          route_tier: sub.route?.tier ?? null,
          route_reason: reason ? reason.slice(0, 200) : null,
        });
        const inputTokens = money.estimateInputTokens?.(sub) ?? 0;
        batch.quotaTokens += inputTokens + (sub.body.max_tokens ?? 0);
        if (money.enforcer) {
          batch.worstPico += worstCaseCost(
            sub.model?.id ?? sub.body.model,
            new Date(call.startedAtMs),
            {
              inputTokens,
              maxTokens: sub.body.max_tokens ?? sub.model?.maxOutputTokens ?? 0,
              cacheWrite: requestedCacheWrite(sub.body),
            },
            { catalog, batch: true },
          ).pico;
        }
      }
    },
  };
  /** The batch's worst case at batch prices, reserved against the key's budgets. */
  const reserveBudget: Stage = {
    name: 'admit',
    async run(call) {
      const batch = checked.get(call)!;
      const payer = { keyId: call.principal!.keyId, environment: call.principal!.environment };
      if (!money.enforcer?.hasBudgetFor(payer)) return;
      const admission = await money.enforcer.reserve(payer, batch.worstPico);
      if (!admission.ok) throw admission.refusal.error;
      batch.reservation = admission.reservation;
    },
  };

  /** Every request of the batch against the key's and environment's quotas, as if sent one by one. */
  const takeQuotas: Stage = {
    name: 'admit',
    async run(call) {
      if (!money.takeQuotas) return;
      const batch = checked.get(call)!;
      try {
        await money.takeQuotas(call.principal!, batch.body.requests.length, batch.quotaTokens);
      } catch (error) {
        batch.reservation?.settle(0n);
        throw error;
      }
    },
  };

  // ---- forwarders
  const create = async (call: Call, responder: Responder) => {
    const batch = checked.get(call)!;
    try {
      const body = batch.changed ? Buffer.from(JSON.stringify(batch.body)) : call.rawBody;
      const response = await send(call, 'POST', '/v1/messages/batches', body);
      const text = await response.bytes();
      call.upstream = {
        status: response.status,
        requestId: str(response.headers['request-id']),
        attempts: 1,
      };
      if (response.status !== 200) {
        batch.reservation?.settle(0n);
        return answer(call, responder, response, text);
      }
      const created = JSON.parse(text.toString('utf8')) as { id: string };
      // Owned before the client hears of it: no window where the batch belongs to nobody.
      await collector.adopt({
        id: created.id,
        keyId: call.principal!.keyId,
        environment: call.principal!.environment,
        createdAt: call.startedAtMs,
        reservedPico: batch.worstPico,
        decisions: batch.decisions,
        reservation: batch.reservation,
      });
      answer(call, responder, response, rewrite(call, created));
    } catch (error) {
      batch.reservation?.settle(0n);
      throw error;
    }
  };

  const list = async (call: Call, responder: Responder) => {
    const query = new URLSearchParams(call.query ?? '');
    const limit = query.has('limit') ? Number(query.get('limit')) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ApiError(400, 'limit: must be a whole number from 1 to 1000');
    const ids = (
      await db
        .selectFrom('message_batches')
        .select('id')
        .where('key_id', '=', call.principal!.keyId)
        .where('deleted', '=', 0)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute()
    ).map((row) => row.id);
    let from = 0;
    let to = ids.length;
    const after = query.get('after_id');
    const before = query.get('before_id');
    if (after) from = ids.indexOf(after) + 1 || ids.length;
    if (before) to = Math.max(0, ids.indexOf(before));
    const window = ids.slice(from, to);
    const page = before && !after ? window.slice(-limit) : window.slice(0, limit);
    const data: unknown[] = [];
    let last: UpstreamResponse | undefined;
    for (const id of page) {
      const response = await send(call, 'GET', `/v1/messages/batches/${id}`);
      const text = await response.bytes();
      last = response;
      if (response.status === 404) continue; // gone upstream (deleted elsewhere, or aged out)
      if (response.status !== 200) return answer(call, responder, response, text);
      data.push(rewrite(call, JSON.parse(text.toString('utf8'))));
    }
    call.status = 200;
    const body = JSON.stringify({
      data,
      has_more: window.length > page.length,
      first_id: page[0] ?? null,
      last_id: page.at(-1) ?? null,
    });
    responder.head(200, {
      ...(last ? responseHeaders(call, last.headers) : { 'x-sluice-request-id': call.id }),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    responder.end(body);
  };

  const one =
    (action: 'retrieve' | 'cancel' | 'delete' | 'results') => async (call: Call, responder: Responder) => {
      const id = decodeId(BATCH_PATH.exec(call.path)![1]!);
      await owned(call, id);
      const path = `/v1/messages/batches/${id}`;
      if (action === 'results') {
        const response = await send(call, 'GET', `${path}/results`);
        call.upstream = {
          status: response.status,
          requestId: str(response.headers['request-id']),
          attempts: 1,
        };
        if (response.status !== 200) return answer(call, responder, response, await response.bytes());
        // Streamed through as it comes, never held: a results file can be hundreds of megabytes.
        call.status = 200;
        responder.head(200, responseHeaders(call, response.headers));
        await response.relay((chunk) => {
          const more = responder.write(chunk);
          if (!more) void responder.drained().then(() => response.resume());
          return more;
        });
        responder.end();
        return;
      }
      // Its results are recorded before the upstream forgets them.
      if (action === 'delete' && (await collector.collect(id)) === 'busy')
        throw new ApiError(409, `Sluice is recording the results of ${id}; try again in a moment`);
      const method = action === 'delete' ? 'DELETE' : action === 'cancel' ? 'POST' : 'GET';
      const response = await send(call, method, action === 'cancel' ? `${path}/cancel` : path);
      const text = await response.bytes();
      call.upstream = {
        status: response.status,
        requestId: str(response.headers['request-id']),
        attempts: 1,
      };
      if (response.status === 200 && action === 'delete')
        await db.updateTable('message_batches').set({ deleted: 1 }).where('id', '=', id).execute();
      if (response.status !== 200 || action === 'delete') return answer(call, responder, response, text);
      answer(call, responder, response, rewrite(call, JSON.parse(text.toString('utf8'))));
    };

  const routes = {
    create: {
      stages: [readBatchBody, parts.authenticate, checkRequests, reserveBudget, takeQuotas],
      forward: create,
    },
    list: { stages: [drainBody, parts.authenticate], forward: list },
    retrieve: { stages: [drainBody, parts.authenticate], forward: one('retrieve') },
    cancel: { stages: [drainBody, parts.authenticate], forward: one('cancel') },
    delete: { stages: [drainBody, parts.authenticate], forward: one('delete') },
    results: { stages: [drainBody, parts.authenticate], forward: one('results') },
  } satisfies Record<string, Route>;
  const notAllowed = (allowed: string): Route => ({
    stages: [
      {
        name: 'body',
        run(call) {
          throw new ApiError(405, `${call.source?.method} is not allowed on ${call.path}; use ${allowed}`);
        },
      },
    ],
    forward: async () => undefined,
  });

  collector.start();
  return {
    collector,
    deferral,
    deferrable: (messages) => deferral.wrap(messages),
    route(method, path) {
      if (path.startsWith('/sluice/v1/deferred/')) return deferral.route(method, path, parts.authenticate);
      if (path === '/v1/messages/batches') {
        if (method === 'POST') return routes.create;
        if (method === 'GET') return routes.list;
        return notAllowed('GET or POST');
      }
      const match = BATCH_PATH.exec(path);
      if (!match) return undefined;
      if (match[2] === '/cancel') return method === 'POST' ? routes.cancel : notAllowed('POST');
      if (match[2] === '/results') return method === 'GET' ? routes.results : notAllowed('GET');
      if (method === 'GET') return routes.retrieve;
      if (method === 'DELETE') return routes.delete;
      return notAllowed('GET or DELETE');
    },
    close: () => collector.close(),
  };
}

function checkVersion(headers: IncomingHttpHeaders): void {
  const version = headers['anthropic-version'];
  if (typeof version !== 'string' || version.trim() === '')
    throw new ApiError(400, 'anthropic-version: header is required, e.g. anthropic-version: 2023-06-01');
}

function decodeId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `message batch id "${segment.slice(0, 100)}" is not valid percent-encoding`);
  }
}

/** A batch object with its `results_url` on this gateway, so clients fetch results through Sluice. */
function rewrite(call: Call, batch: Record<string, unknown> & { id?: string }): Record<string, unknown> {
  if (typeof batch.results_url !== 'string') return batch;
  const proto = str(call.headers['x-forwarded-proto']) ?? 'http';
  const host = str(call.headers['x-forwarded-host']) ?? str(call.headers.host) ?? 'localhost';
  return { ...batch, results_url: `${proto}://${host}/v1/messages/batches/${batch.id}/results` };
}

function answer(
  call: Call,
  responder: Responder,
  response: UpstreamResponse,
  body: Buffer | Record<string, unknown>,
): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  call.status = response.status;
  if (response.status >= 400) call.errorType = 'upstream_error';
  responder.head(response.status, {
    ...responseHeaders(call, response.headers),
    'content-length': String(bytes.length),
  });
  responder.end(bytes);
}

const str = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
