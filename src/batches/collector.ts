import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { costOf, tokenCounts } from '../catalog/cost.js';
import { picoToSafeNumber } from '../catalog/money.js';
import type { Reservation } from '../ledger/budget-enforcer.js';
import { toLedgerRow } from '../ledger/entry.js';
import type { Usage } from '../pipeline/types.js';
import { type Store, writeTransaction } from '../store/database.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { BatchDb, MessageBatchRequestsTable } from './tables.js';

export interface CollectorOptions {
  store: Store;
  catalog: Catalog;
  client: UpstreamClient;
  upstreamKey: (environment: string) => string | undefined;
  logger: Logger;
  /** How often batches in progress are looked at (`batches.poll_ms`). */
  pollMs: number;
  /** How long one instance keeps a batch to itself while it reads and records the results. */
  leaseMs: number;
  /** This instance's name in leases. */
  instanceId: string;
  /** The `anthropic-version` the collector sends. */
  apiVersion: string;
  clock: () => number;
}

export interface AdoptedBatch {
  id: string;
  keyId: string;
  environment: string;
  createdAt: number;
  reservedPico: bigint;
  decisions: Omit<MessageBatchRequestsTable, 'batch_id'>[];
  reservation?: Reservation;
}

/** The rows of a batch created through Sluice; `keyId` '' for a batch of deferred requests. */
export async function insertBatch(trx: BatchDb, batch: AdoptedBatch): Promise<void> {
  await trx
    .insertInto('message_batches')
    .values({
      id: batch.id,
      key_id: batch.keyId,
      environment: batch.environment,
      created_at: batch.createdAt,
      request_count: batch.decisions.length,
      reserved_pico: picoToSafeNumber(batch.reservedPico),
      state: 'in_progress',
      deleted: 0,
      lease_owner: null,
      lease_until: null,
      recorded_at: null,
      succeeded: null,
      errored: null,
      canceled: null,
      expired: null,
      cost_pico: null,
      live_cost_pico: null,
    })
    .execute();
  for (let at = 0; at < batch.decisions.length; at += ROWS_PER_INSERT) {
    await trx
      .insertInto('message_batch_requests')
      .values(batch.decisions.slice(at, at + ROWS_PER_INSERT).map((d) => ({ ...d, batch_id: batch.id })))
      .execute();
  }
}

export type CollectOutcome = 'recorded' | 'not_ended' | 'busy';

const ROWS_PER_INSERT = 500;

/** The ledger row id of one batch request: the same batch and custom_id always give the same id. */
export function batchRequestId(batchId: string, customId: string): string {
  return `batch_${createHash('sha256').update(`${batchId}\n${customId}`).digest('base64url').slice(0, 43)}`;
}

/**
 * Reads the results of the batches created through Sluice once they end — whether or not the
 * client ever fetches them — and records each succeeded request in the ledger at batch prices.
 * Several instances may run it on one store: a lease in the batch's row gives each batch to one
 * of them at a time, and the ledger rows, the batch's outcome and the lease check are written in
 * one transaction, with ids derived from batch id and custom_id, so each result counts once.
 */
export class BatchCollector {
  private readonly options: CollectorOptions;
  private readonly db: BatchDb;
  private readonly reservations = new Map<string, Reservation>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private readonly before: Array<() => Promise<unknown>> = [];
  private readonly after: Array<() => Promise<unknown>> = [];

  constructor(
    options: Partial<CollectorOptions> &
      Omit<CollectorOptions, 'pollMs' | 'leaseMs' | 'instanceId' | 'apiVersion' | 'clock'>,
  ) {
    this.options = {
      pollMs: 10_000,
      leaseMs: 120_000,
      instanceId: randomUUID(),
      apiVersion: '2023-06-01',
      clock: Date.now,
      ...options,
    };
    this.db = options.store.db as unknown as BatchDb;
  }

  /** Remembers a batch just created: its owner, its requests' decisions, its budget reservation. */
  async adopt(batch: AdoptedBatch): Promise<void> {
    await writeTransaction(this.db, (trx) => insertBatch(trx, batch));
    if (batch.reservation) this.reservations.set(batch.id, batch.reservation);
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** Work run at the start of every pass (sending deferred requests), and at its end (delivering results). */
  beforePass(work: () => Promise<unknown>): void {
    this.before.push(work);
  }

  afterPass(work: () => Promise<unknown>): void {
    this.after.push(work);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  /** One pass: settles reservations of batches recorded anywhere, then collects the ended ones. */
  poll(): Promise<void> {
    this.polling ??= this.pass()
      .catch((error) => this.options.logger.error({ err: error }, 'batch collector pass failed'))
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  private async pass(): Promise<void> {
    for (const work of this.before)
      await work().catch((error) => this.options.logger.error({ err: error }, 'batch collector pass failed'));
    await this.settleRecorded();
    const now = this.options.clock();
    const due = await this.db
      .selectFrom('message_batches')
      .select('id')
      .where('state', '=', 'in_progress')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('created_at')
      .limit(100)
      .execute();
    for (const { id } of due) {
      if (this.closed) return;
      await this.collect(id).catch((error) =>
        this.options.logger.error({ err: error, batch: id }, 'collecting a message batch failed'),
      );
    }
    for (const work of this.after)
      await work().catch((error) => this.options.logger.error({ err: error }, 'batch collector pass failed'));
  }

  /** Reservations this instance holds for batches recorded (here or on another instance). */
  private async settleRecorded(): Promise<void> {
    if (this.reservations.size === 0) return;
    const rows = await this.db
      .selectFrom('message_batches')
      .select(['id', 'cost_pico'])
      .where('id', 'in', [...this.reservations.keys()])
      .where('state', '=', 'recorded')
      .execute();
    for (const row of rows) {
      this.reservations.get(row.id)?.settle(BigInt(row.cost_pico ?? 0));
      this.reservations.delete(row.id);
    }
  }

  /** Takes the batch's lease, and records its results if it has ended. */
  async collect(id: string): Promise<CollectOutcome> {
    const { leaseMs, instanceId, clock } = this.options;
    const now = clock();
    const claimed = await this.db
      .updateTable('message_batches')
      .set({ lease_owner: instanceId, lease_until: now + leaseMs })
      .where('id', '=', id)
      .where('state', '=', 'in_progress')
      .where((eb) =>
        eb.or([
          eb('lease_until', 'is', null),
          eb('lease_until', '<', now),
          eb('lease_owner', '=', instanceId),
        ]),
      )
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) {
      const row = await this.db
        .selectFrom('message_batches')
        .select('state')
        .where('id', '=', id)
        .executeTakeFirst();
      return row?.state === 'recorded' ? 'recorded' : 'busy';
    }
    try {
      const outcome = await this.record(id);
      if (outcome === 'recorded') await this.settleRecorded();
      return outcome;
    } finally {
      // Released for the next pass (a no-op once recorded: the row no longer needs a lease).
      await this.db
        .updateTable('message_batches')
        .set({ lease_owner: null, lease_until: null })
        .where('id', '=', id)
        .where('lease_owner', '=', instanceId)
        .execute();
    }
  }

  private async record(id: string): Promise<CollectOutcome> {
    const { catalog, instanceId, logger } = this.options;
    const batch = await this.db
      .selectFrom('message_batches')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const key = this.options.upstreamKey(batch.environment);
    if (!key) throw new Error(`no upstream key for environment "${batch.environment}"`);
    const headers = { 'x-api-key': key, 'anthropic-version': this.options.apiVersion };
    const head = await this.options.client.send({
      method: 'GET',
      path: `/v1/messages/batches/${id}`,
      headers,
    });
    const status = JSON.parse((await head.bytes()).toString('utf8')) as {
      processing_status?: string;
      ended_at?: string | null;
    };
    if (head.status !== 200) throw new Error(`upstream answered ${head.status} for batch ${id}`);
    if (status.processing_status !== 'ended') return 'not_ended';

    const decisions = new Map(
      (
        await this.db.selectFrom('message_batch_requests').selectAll().where('batch_id', '=', id).execute()
      ).map((d) => [d.custom_id, d]),
    );
    const results = await this.options.client.send({
      method: 'GET',
      path: `/v1/messages/batches/${id}/results`,
      headers,
    });
    if (results.status !== 200)
      throw new Error(`upstream answered ${results.status} for the results of ${id}`);
    const at = new Date(Number(batch.created_at));
    const endedAt = status.ended_at ? Date.parse(status.ended_at) : this.options.clock();
    const counts = { succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    let cost = 0n;
    let live = 0n;
    const rows: ReturnType<typeof toLedgerRow>[] = [];
    // A batch of deferred requests keeps each result for its request's owner to fetch.
    const deferred: Array<[string, string]> = [];
    let partial = '';
    const line = (text: string) => {
      if (text.trim() === '') return;
      const entry = JSON.parse(text) as {
        custom_id: string;
        result: { type: keyof typeof counts; message?: { model: string; usage: Usage } };
      };
      const type = entry.result.type;
      if (type in counts) counts[type]++;
      if (batch.key_id === '') deferred.push([entry.custom_id, JSON.stringify(entry.result)]);
      if (type !== 'succeeded' || !entry.result.message) return;
      const { model, usage } = entry.result.message;
      const priced = costOf(usage, model, at, { catalog, batch: true });
      const liveCost = costOf({ ...usage, service_tier: 'standard' }, model, at, { catalog });
      cost += priced.pico;
      live += liveCost.pico;
      const decision = decisions.get(entry.custom_id);
      rows.push(
        toLedgerRow({
          at: Number(batch.created_at),
          requestId: batchRequestId(id, entry.custom_id),
          upstreamRequestId: id,
          keyId: decision?.key_id ?? batch.key_id,
          environment: batch.environment,
          requestedModel: decision?.requested_model ?? model,
          model,
          routeTier: decision?.route_tier ?? null,
          routeReason: decision?.route_reason ?? null,
          status: 200,
          upstreamStatus: 200,
          retries: 0,
          latencyMs: Math.max(0, Math.min(2_000_000_000, endedAt - Number(batch.created_at))),
          ttftMs: null,
          tokens: tokenCounts(usage),
          cost: priced,
          batch: true,
          geo: usage.inference_geo ?? null,
          speed: usage.speed ?? null,
        }),
      );
    };
    // Read as it comes, line by line: the results file is never held whole.
    await results.relay((chunk) => {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const each of lines) line(each);
      return true;
    });
    line(partial);

    const recorded = await writeTransaction(this.db, async (trx) => {
      const done = await trx
        .updateTable('message_batches')
        .set({
          state: 'recorded',
          recorded_at: this.options.clock(),
          ...counts,
          cost_pico: picoToSafeNumber(cost),
          live_cost_pico: picoToSafeNumber(live),
          lease_owner: null,
          lease_until: null,
        })
        .where('id', '=', id)
        .where('state', '=', 'in_progress')
        .where('lease_owner', '=', instanceId)
        .executeTakeFirst();
      // The lease ran out and another instance took the batch: it records it, not this one.
      if (Number(done.numUpdatedRows) === 0) return false;
      // biome-ignore lint/suspicious/noExplicitAny: the ledger table is the money module's.
      const ledger = trx as unknown as import('kysely').Kysely<any>;
      for (let from = 0; from < rows.length; from += ROWS_PER_INSERT) {
        await ledger
          .insertInto('ledger')
          .values(rows.slice(from, from + ROWS_PER_INSERT))
          .onConflict((conflict) => conflict.column('request_id').doNothing())
          .execute();
      }
      for (const [customId, result] of deferred) {
        await trx
          .updateTable('deferred_requests')
          .set({ state: 'done', result })
          .where('id', '=', customId)
          .where('batch_id', '=', id)
          .execute();
      }
      return true;
    });
    if (recorded)
      logger.info(
        {
          event: 'batch_recorded',
          batch: id,
          ...counts,
          cost_pico: cost.toString(),
          live_cost_pico: live.toString(),
        },
        'message batch results recorded',
      );
    return recorded ? 'recorded' : 'busy';
  }
}
