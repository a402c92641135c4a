import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ApiError } from '../pipeline/errors.js';
import type { Route } from '../pipeline/pipeline.js';
import type { Responder, Stage } from '../pipeline/stage.js';
import type { Call } from '../pipeline/types.js';
import { globToRegExp } from '../routing/glob.js';
import { type Store, writeTransaction } from '../store/database.js';
import type { UpstreamClient } from '../upstream/client.js';
import { type BatchCollector, insertBatch } from './collector.js';
import type { DeferralConfig } from './config.js';
import type { BatchDb } from './tables.js';

export const DEFER_HEADER = 'x-sluice-defer';
export const CALLBACK_HEADER = 'x-sluice-callback-url';
const DEFERRED_PATH = /^\/sluice\/v1\/deferred\/([A-Za-z0-9_-]{1,64})$/;

export interface DeferralParts {
  store: Store;
  client: UpstreamClient;
  upstreamKey: (environment: string) => string | undefined;
  logger: Logger;
  collector: BatchCollector;
  config: DeferralConfig;
  instanceId: string;
  leaseMs: number;
  clock: () => number;
}

/**
 * Deferral: a Messages request marked `x-sluice-defer: batch` (or from a key the configuration
 * defers) is checked like any other, written to the store, answered 202 with a handle, and sent
 * later in a Message Batch with others (at batch prices). Its result is fetched from
 * `GET /sluice/v1/deferred/{id}` or posted to the request's callback URL.
 */
export class Deferral {
  private readonly db: BatchDb;
  private readonly deferredKeys: RegExp[];

  constructor(private readonly parts: DeferralParts) {
    this.db = parts.store.db as unknown as BatchDb;
    this.deferredKeys = parts.config.keys.map((pattern) => globToRegExp(pattern));
  }

  /** Whether this (authenticated) call is deferred. */
  defers(call: Call): boolean {
    const asked = call.headers[DEFER_HEADER];
    if (asked !== undefined) {
      if (asked !== 'batch') throw new ApiError(400, `${DEFER_HEADER}: the only value is "batch"`);
      return true;
    }
    const name = call.principal?.name;
    return name !== undefined && this.deferredKeys.some((pattern) => pattern.test(name));
  }

  /** The Messages route, with deferral decided after the guard and before admission. */
  wrap(route: Route): Route {
    const admit = route.stages.filter((stage) => stage.name === 'admit');
    return {
      stages: route.stages.filter((stage) => stage.name !== 'admit'),
      forward: async (call, responder) => {
        if (this.defers(call)) return this.enqueue(call, responder);
        for (const stage of admit) await stage.run(call);
        return route.forward(call, responder);
      },
    };
  }

  /** Stored before it is answered: a 202 means the request survives a crash. */
  private async enqueue(call: Call, responder: Responder): Promise<void> {
    if (call.body.stream === true)
      throw new ApiError(400, `stream: a deferred request cannot stream; drop "stream" or ${DEFER_HEADER}`);
    if (call.body.speed !== undefined)
      throw new ApiError(400, 'speed: fast mode cannot run in a Message Batch, so it cannot be deferred');
    if (call.body.max_tokens === 0)
      throw new ApiError(
        400,
        'max_tokens: 0 (a cache pre-warm) cannot run in a Message Batch, so it cannot be deferred',
      );
    const callback = call.headers[CALLBACK_HEADER];
    if (callback !== undefined) checkCallback(callback);
    const body = JSON.stringify(call.body);
    const id = `deferred_${randomBytes(18).toString('base64url')}`;
    const reason = call.route ? [call.route.rule, ...call.route.reasons].filter(Boolean).join('; ') : '';
    await this.db
      .insertInto('deferred_requests')
      .values({
        id,
        key_id: call.principal!.keyId,
        environment: call.principal!.environment,
        created_at: call.startedAtMs,
        body,
        body_bytes: Buffer.byteLength(body),
        requested_model: (call.requestedModel ?? call.body.model).slice(0, 100),
        model: (call.model?.id ?? call.body.model).slice(0, 100),
        route_tier: call.route?.tier ?? null,
        route_reason: reason ? reason.slice(0, 200) : null,
        callback_url: typeof callback === 'string' ? callback : null,
        state: 'queued',
        batch_id: null,
        lease_owner: null,
        lease_until: null,
        result: null,
        delivered_at: null,
      })
      .execute();
    const answer = JSON.stringify({
      id,
      type: 'deferred_message',
      status: 'queued',
      url: `/sluice/v1/deferred/${id}`,
    });
    call.status = 202;
    responder.head(202, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(answer)),
      'x-sluice-request-id': call.id,
      'x-sluice-deferred-id': id,
    });
    responder.end(answer);
  }

  /** `GET /sluice/v1/deferred/{id}`: the request's state, and its result once its batch ended. */
  route(method: string, path: string, authenticate: Stage): Route | undefined {
    const match = DEFERRED_PATH.exec(path);
    if (!path.startsWith('/sluice/v1/deferred/')) return undefined;
    return {
      stages: [
        {
          name: 'body',
          run(call) {
            if (method !== 'GET') throw new ApiError(405, `${method} is not allowed on ${path}; use GET`);
            call.source?.resume();
          },
        },
        authenticate,
      ],
      forward: async (call, responder) => {
        const row = match
          ? await this.db
              .selectFrom('deferred_requests')
              .select(['id', 'state', 'batch_id', 'result', 'created_at'])
              .where('id', '=', match[1]!)
              .where('key_id', '=', call.principal!.keyId)
              .executeTakeFirst()
          : undefined;
        if (!row)
          throw new ApiError(404, `deferred request ${path.split('/').pop()?.slice(0, 64)} not found`);
        const body = JSON.stringify(view(row));
        call.status = 200;
        responder.head(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'x-sluice-request-id': call.id,
        });
        responder.end(body);
      },
    };
  }

  /** Sends the queued requests of each environment in batches, when count, size or age says so. */
  async flush(): Promise<number> {
    const { config, clock } = this.parts;
    let sent = 0;
    const waiting = await this.db
      .selectFrom('deferred_requests')
      .where('state', '=', 'queued')
      .select(['environment'])
      .select((eb) => [
        eb.fn.countAll<number>().as('count'),
        eb.fn.sum<number>('body_bytes').as('bytes'),
        eb.fn.min<number>('created_at').as('oldest'),
      ])
      .groupBy('environment')
      .execute();
    for (const group of waiting) {
      let count = Number(group.count);
      let bytes = Number(group.bytes);
      const old = clock() - Number(group.oldest) >= config.maxAgeMs;
      while (count > 0 && (old || count >= config.maxRequests || bytes >= config.maxBytes)) {
        const batch = await this.submit(group.environment);
        if (batch.requests === 0) break;
        sent += batch.requests;
        count -= batch.requests;
        bytes -= batch.bytes;
      }
    }
    return sent;
  }

  /** Claims up to one batch of queued requests, sends them, and records the batch; how many were sent. */
  private async submit(environment: string): Promise<{ requests: number; bytes: number }> {
    const none = { requests: 0, bytes: 0 };
    const { config, clock, instanceId, leaseMs } = this.parts;
    const now = clock();
    const candidates = await this.db
      .selectFrom('deferred_requests')
      .select(['id', 'body_bytes'])
      .where('state', '=', 'queued')
      .where('environment', '=', environment)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('created_at')
      .orderBy('id')
      .limit(config.maxRequests)
      .execute();
    const picked: string[] = [];
    let size = 0;
    for (const row of candidates) {
      if (picked.length > 0 && size + row.body_bytes > config.maxBytes) break;
      picked.push(row.id);
      size += row.body_bytes;
    }
    if (picked.length === 0) return none;
    await this.db
      .updateTable('deferred_requests')
      .set({ lease_owner: instanceId, lease_until: now + leaseMs })
      .where('id', 'in', picked)
      .where('state', '=', 'queued')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .execute();
    const rows = await this.db
      .selectFrom('deferred_requests')
      .selectAll()
      .where('id', 'in', picked)
      .where('state', '=', 'queued')
      .where('lease_owner', '=', instanceId)
      .execute();
    if (rows.length === 0) return none;
    const key = this.parts.upstreamKey(environment);
    if (!key) throw new Error(`no upstream key for environment "${environment}"`);
    const body = Buffer.from(
      `{"requests":[${rows.map((r) => `{"custom_id":${JSON.stringify(r.id)},"params":${r.body}}`).join(',')}]}`,
    );
    const response = await this.parts.client.send({
      method: 'POST',
      path: '/v1/messages/batches',
      headers: {
        'x-api-key': key,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
        'content-length': String(body.length),
      },
      body,
    });
    const text = (await response.bytes()).toString('utf8');
    if ([400, 404, 413, 422].includes(response.status)) {
      // Refused as it is (not for the moment): each request ends with the refusal as its result,
      // rather than being sent again and again.
      let error: unknown;
      try {
        error = JSON.parse(text);
      } catch {
        error = { type: 'error', error: { type: 'api_error', message: text.slice(0, 500) } };
      }
      await this.db
        .updateTable('deferred_requests')
        .set({
          state: 'done',
          result: JSON.stringify({ type: 'errored', error }),
          lease_owner: null,
          lease_until: null,
        })
        .where('id', 'in', picked)
        .where('lease_owner', '=', instanceId)
        .execute();
      this.parts.logger.error(
        { status: response.status, requests: rows.length, environment },
        `the upstream refused a batch of deferred requests; each ends errored: ${text.slice(0, 300)}`,
      );
      return { requests: rows.length, bytes: rows.reduce((sum, r) => sum + r.body_bytes, 0) };
    }
    if (response.status !== 200) {
      // Left queued (the lease runs out): sent again with the next flush.
      this.parts.logger.error(
        { status: response.status, requests: rows.length, environment },
        `sending deferred requests in a batch failed: ${text.slice(0, 300)}`,
      );
      return none;
    }
    const created = JSON.parse(text) as { id: string };
    await writeTransaction(this.db, async (trx) => {
      await insertBatch(trx, {
        id: created.id,
        keyId: '',
        environment,
        createdAt: Math.min(...rows.map((r) => Number(r.created_at))),
        reservedPico: 0n,
        decisions: rows.map((r) => ({
          custom_id: r.id,
          requested_model: r.requested_model,
          model: r.model,
          route_tier: r.route_tier,
          route_reason: r.route_reason,
          key_id: r.key_id,
        })),
      });
      await trx
        .updateTable('deferred_requests')
        .set({ state: 'submitted', batch_id: created.id, lease_owner: null, lease_until: null })
        .where('id', 'in', picked)
        .where('lease_owner', '=', instanceId)
        .execute();
    });
    this.parts.logger.info(
      { event: 'deferred_flushed', batch: created.id, requests: rows.length, environment },
      'deferred requests sent in a message batch',
    );
    return { requests: rows.length, bytes: rows.reduce((sum, r) => sum + r.body_bytes, 0) };
  }

  /** Posts finished results to their callback URLs, each once (a lease per request). */
  async deliver(): Promise<number> {
    const { clock, instanceId, leaseMs, logger } = this.parts;
    const now = clock();
    const due = await this.db
      .selectFrom('deferred_requests')
      .select(['id'])
      .where('state', '=', 'done')
      .where('callback_url', 'is not', null)
      .where('delivered_at', 'is', null)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .limit(200)
      .execute();
    let delivered = 0;
    for (const { id } of due) {
      const claimed = await this.db
        .updateTable('deferred_requests')
        .set({ lease_owner: instanceId, lease_until: now + leaseMs })
        .where('id', '=', id)
        .where('delivered_at', 'is', null)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) continue;
      const row = await this.db
        .selectFrom('deferred_requests')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      try {
        const response = await fetch(row.callback_url!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-sluice-deferred-id': id },
          body: JSON.stringify(view(row)),
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`callback answered ${response.status}`);
        await this.db
          .updateTable('deferred_requests')
          .set({ delivered_at: clock(), lease_owner: null, lease_until: null })
          .where('id', '=', id)
          .execute();
        delivered++;
      } catch (error) {
        // Tried again once the lease has run out.
        logger.warn({ err: error, deferred: id }, 'posting a deferred result to its callback failed');
      }
    }
    return delivered;
  }
}

function view(row: { id: string; state: string; batch_id: string | null; result: string | null }) {
  return {
    id: row.id,
    type: 'deferred_message',
    status: row.state,
    batch_id: row.batch_id,
    result: row.result === null ? null : JSON.parse(row.result),
  };
}

function checkCallback(value: string | string[]): void {
  const text = Array.isArray(value) ? value[0] : value;
  let url: URL | undefined;
  try {
    url = new URL(text ?? '');
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || (text ?? '').length > 2000)
    throw new ApiError(400, `${CALLBACK_HEADER}: must be an http or https URL of at most 2,000 characters`);
}
