import type { Kysely } from 'kysely';

/** A Message Batch created through Sluice (migration 008). */
export interface MessageBatchesTable {
  id: string;
  key_id: string;
  environment: string;
  /** When Sluice created it, epoch ms: the price in force then applies to its results. */
  created_at: number;
  request_count: number;
  /** The worst case reserved against budgets at batch prices, pico-dollars. */
  reserved_pico: number | bigint;
  /** `in_progress` until its results are recorded in the ledger, then `recorded`. */
  state: 'in_progress' | 'recorded';
  /** Deleted by its key: gone for the client, kept for accounting. */
  deleted: number;
  /** The instance collecting it, and until when; another takes over once the lease has run out. */
  lease_owner: string | null;
  lease_until: number | null;
  recorded_at: number | null;
  succeeded: number | null;
  errored: number | null;
  canceled: number | null;
  expired: number | null;
  /** What its succeeded requests cost at batch prices, and would have cost live. */
  cost_pico: number | bigint | null;
  live_cost_pico: number | bigint | null;
}

/** What the route and guard stages made of one request of a batch. */
export interface MessageBatchRequestsTable {
  batch_id: string;
  custom_id: string;
  requested_model: string;
  model: string;
  route_tier: string | null;
  route_reason: string | null;
  /** The key of a deferred request (a batch of deferred requests serves many keys). */
  key_id?: string | null;
}

/** A Messages request deferred into a batch (`x-sluice-defer: batch`). */
export interface DeferredRequestsTable {
  /** The handle answered with 202, and the request's custom_id in its batch. */
  id: string;
  key_id: string;
  environment: string;
  created_at: number;
  /** The request as the route and guard stages left it (JSON). */
  body: string;
  body_bytes: number;
  requested_model: string;
  model: string;
  route_tier: string | null;
  route_reason: string | null;
  callback_url: string | null;
  state: 'queued' | 'submitted' | 'done';
  batch_id: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  /** The batch result line's `result` (JSON), once the batch ended. */
  result: string | null;
  /** When the result was posted to the callback URL. */
  delivered_at: number | null;
}

export interface BatchTables {
  message_batches: MessageBatchesTable;
  message_batch_requests: MessageBatchRequestsTable;
  deferred_requests: DeferredRequestsTable;
}

export type BatchDb = Kysely<BatchTables>;
