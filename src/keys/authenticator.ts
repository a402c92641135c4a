import type { Principal } from '../pipeline/types.js';
import { hashVirtualKey, isValidVirtualKey } from './format.js';
import { type KeyRecord, type KeyService, keyStatus, toPrincipal } from './service.js';

export type Authentication =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' | 'exchange_only' };

const MAX_CACHED = 100_000;

interface Cached {
  record: KeyRecord | undefined;
  /** Built once per load: the principal is read, never changed, by the stages. */
  principal?: Principal;
  loadedAt: number;
}

const MISSING: Authentication = { ok: false, reason: 'missing' };
const MALFORMED: Authentication = { ok: false, reason: 'malformed' };
const UNKNOWN: Authentication = { ok: false, reason: 'unknown' };
const EXCHANGE_ONLY: Authentication = { ok: false, reason: 'exchange_only' };

/**
 * Turns a presented virtual key into a principal. Rows are cached, so the request path normally
 * waits on no database. A change to a key (revoked, rotated, new policy or quotas), made from
 * anywhere, reaches `forget` through the change feed and drops the key at once; `ttlMs` is only
 * the safety net should the feed stall.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsed = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout;
  /** Counts forgets, so a read that raced a change is not cached. */
  private generation = 0;

  constructor(
    private readonly keys: KeyService,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.flushTimer = setInterval(() => void this.flushLastUsed(), 10_000);
    this.flushTimer.unref();
  }

  /** Synchronous when the key is cached (the usual case), so a hit costs no microtask either. */
  authenticate(presented: string | undefined): Authentication | Promise<Authentication> {
    if (!presented) return MISSING;
    const now = this.now();
    // Cached by the presented string, so a hit costs neither the checksum nor the hash. Only
    // keys with a valid checksum are cached, so guesses cannot fill the cache.
    const cached = this.cache.get(presented);
    if (cached && now - cached.loadedAt < this.ttlMs) return this.judge(cached, now);
    // The checksum rejects typos and guesses without touching the store.
    if (!isValidVirtualKey(presented)) return MALFORMED;
    const generation = this.generation;
    return this.keys.findRecord(hashVirtualKey(presented)).then(
      (record) => {
        const loaded: Cached = {
          record,
          principal: record ? toPrincipal(record.row, record.parent) : undefined,
          loadedAt: now,
        };
        // A key changed while this row was read: the row may predate the change, so it is not kept.
        if (generation !== this.generation) return this.judge(loaded, now);
        if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(presented, loaded);
        return this.judge(loaded, now);
      },
      (error: unknown) => {
        // The store is away: a key seen before keeps its last known state (expiry still applies)
        // until it can be read again; one never seen cannot be judged.
        if (cached) return this.judge(cached, now);
        throw error;
      },
    );
  }

  private judge(cached: Cached, now: number): Authentication {
    const { record, principal } = cached;
    if (!record || !principal) return UNKNOWN;
    const { row, parent } = record;
    const status = keyStatus(row, now);
    if (status !== 'active') return { ok: false, reason: status };
    if (row.kind === 'exchange') return EXCHANGE_ONLY;
    if (row.parent_id) {
      // A short-lived key ends with its credential.
      if (!parent) return UNKNOWN;
      const credential = keyStatus(parent, now);
      if (credential !== 'active') return { ok: false, reason: credential };
    }
    this.lastUsed.set(row.id, now);
    return { ok: true, principal };
  }

  /** Forgets every cached row. */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Forgets one key (it changed), and the short-lived keys bought with it: their next request reads the store again. */
  forget(keyId: string): void {
    this.generation++;
    for (const [presented, cached] of this.cache) {
      const row = cached.record?.row;
      if (row?.id === keyId || row?.parent_id === keyId) this.cache.delete(presented);
    }
  }

  async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    await this.keys.recordLastUsed(batch).catch(() => {
      for (const [id, at] of batch) if (!this.lastUsed.has(id)) this.lastUsed.set(id, at);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }
}
