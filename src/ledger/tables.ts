import type { ColumnType, Kysely } from 'kysely';

/** Pico-dollars: written as bigint or number, read back as a number (one row) or text (sums). */
type Pico = ColumnType<number, bigint | number | string, bigint | number | string>;

/** One row per request. Prices are not copied: the row plus the catalog reproduce the cost. */
export interface LedgerTable {
  request_id: string;
  at: number;
  upstream_request_id: string | null;
  key_id: string | null;
  environment: string;
  requested_model: string;
  model: string;
  route_tier: string | null;
  route_reason: string | null;
  status: number;
  upstream_status: number | null;
  retries: number;
  latency_ms: number;
  ttft_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  cost_pico: Pico;
  priced: number;
  batch: number;
  geo: string | null;
  speed: string | null;
  web_search_requests: number;
  web_fetch_requests: number;
  code_execution_requests: number;
  /** Why a row is unpriced (`priced` 0); its cost_pico is then what budgets counted. */
  unpriced_reason: string | null;
  /** The client's session and agent ids and its name, version and entrypoint (migration 009). */
  session_id: string | null;
  agent_id: string | null;
  client: string | null;
  client_version: string | null;
  client_entrypoint: string | null;
}

/** Totals per UTC day, key and model for rows that were pruned; `key_id` is '' for keyless rows. */
export interface LedgerDailyTable {
  day: string;
  key_id: string;
  environment: string;
  model: string;
  requests: number;
  unpriced_requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  cost_pico: Pico;
  cache_savings_pico: Pico;
}

export type BudgetScope = 'key' | 'environment' | 'global';
export type BudgetWindow = 'daily' | 'monthly' | 'total';

export interface BudgetsTable {
  id: string;
  scope: BudgetScope;
  subject: string;
  window: BudgetWindow;
  limit_pico: Pico;
  thresholds: string;
  source: string;
  created_at: number;
  updated_at: number;
}

/** Alerts already sent: one per budget, window and threshold, whichever instance sends it. */
export interface BudgetAlertsTable {
  budget_id: string;
  window_start: number;
  threshold: number;
  sent_at: number;
}

export interface MoneyTables {
  ledger: LedgerTable;
  ledger_daily: LedgerDailyTable;
  budgets: BudgetsTable;
  budget_alerts: BudgetAlertsTable;
}

export type MoneyDb = Kysely<MoneyTables>;

/** Any store database; the money tables are added to it by migrations 002 and 003. */
// biome-ignore lint/suspicious/noExplicitAny: the store's table map is open; these tables are ours.
export type AnyDb = Kysely<any>;

/** The store's database seen through the money tables. */
export function moneyDb(db: AnyDb): MoneyDb {
  return db as unknown as MoneyDb;
}
