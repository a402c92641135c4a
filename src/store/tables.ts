/**
 * Every table of the store, shared by SQLite and PostgreSQL. Times are epoch milliseconds,
 * lists are JSON text, booleans are 0/1 integers, so both engines read the same values.
 */
export interface VirtualKeysTable {
  id: string;
  name: string;
  environment: string;
  key_hash: string;
  hint: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  models: string | null;
  max_tokens: number | null;
  rpm: number | null;
  tpm: number | null;
  tpd: number | null;
  priority: string | null;
  max_tier: string | null;
  allow_auto: number;
  rotated_from: string | null;
  /** Who the key belongs to (migration 010); spend can be grouped by it. */
  developer?: string | null;
  /** `standard`, `exchange` (buys short-lived keys only) or `short_lived` (migration 010). */
  kind?: string;
  /** The exchange credential a short-lived key was bought with. */
  parent_id?: string | null;
  /** The key's own runaway-guard settings, JSON (docs/limits.md). */
  guards?: string | null;
}

export interface KeyEventsTable {
  key_id: string;
  event: string;
  at: number;
  detail: string | null;
}

/** Files, skills and other objects created upstream through Sluice, and the key that created each. */
export interface UpstreamObjectsTable {
  id: string;
  kind: string;
  key_id: string;
  environment: string;
  created_at: number;
  deleted_at: number | null;
}

// biome-ignore lint/suspicious/noExplicitAny: tables added by later migrations extend this map.
export interface Tables extends Record<string, any> {
  virtual_keys: VirtualKeysTable;
  key_events: KeyEventsTable;
  upstream_objects: UpstreamObjectsTable;
}
