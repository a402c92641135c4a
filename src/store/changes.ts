/**
 * The change feed: what an operator changes (a key created, updated, revoked or rotated; a budget
 * set or deleted) is appended to the `changes` table in the same transaction as the change, from
 * whichever process made it (the CLI, an instance's admin API, another instance). Every gateway
 * instance follows the feed and applies each change to its caches, so the request path keeps
 * reading memory and a change is in force everywhere within a second.
 *
 * Following is one indexed query, `seq > last`, run every `pollMs` (50 ms); on PostgreSQL a
 * dedicated LISTEN connection also wakes the poll as soon as a change commits. The caches'
 * periodic full reload stays as the safety net (docs/change-feed.md).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type pg from 'pg';
import type { Store } from './database.js';

export type ChangeKind = 'key' | 'budget' | 'catalog';

export interface Change {
  seq: number;
  kind: ChangeKind;
  /** The key's id, the budget's id, or the catalog's version. */
  subject: string;
  /** When the change was stored, epoch ms. */
  at: number;
}

/** What a change's maker can promise: in force on every running instance this long after it is stored. */
export const CHANGE_BOUND_MS = 1000;

/** The PostgreSQL channel a change is announced on (the payload is only a wake-up). */
export const CHANGES_CHANNEL = 'sluice_changes';

// Any value, the same for every instance: serialises the writers of changes (see recordChange).
const WRITERS_LOCK = 0x5_1c_e0_18;

// biome-ignore lint/suspicious/noExplicitAny: the feed reads and writes only its own table.
type AnyDb = Kysely<any>;

const isPostgres = (db: AnyDb) => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Appends a change. Call it inside the transaction that makes the change, so the feed never
 * announces what did not commit and never misses what did.
 */
export async function recordChange(
  trx: AnyDb,
  kind: ChangeKind,
  subject: string,
  at = Date.now(),
): Promise<Change> {
  const postgres = isPostgres(trx);
  // On PostgreSQL a sequence number is taken before commit, so two writers could commit out of
  // order and a follower that saw 6 would skip 5; the lock, held to commit, keeps them in order.
  if (postgres) await sql`select pg_advisory_xact_lock(${WRITERS_LOCK})`.execute(trx);
  const row = await trx
    .insertInto('changes')
    .values({ kind, subject, at })
    .returning('seq')
    .executeTakeFirstOrThrow();
  // Delivered when the transaction commits, not before.
  if (postgres) await sql`select pg_notify(${CHANGES_CHANNEL}, ${kind})`.execute(trx);
  return { seq: Number(row.seq), kind, subject, at };
}

/** The newest change's number (0 when there is none). */
export async function latestChange(db: AnyDb): Promise<number> {
  const row = await db
    .selectFrom('changes')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

export interface ChangeFeedOptions {
  /** How often the table is read for changes, ms. */
  pollMs?: number;
  /** PostgreSQL only: the URL of the store, for the LISTEN connection. */
  listenUrl?: string;
  /** How long to wait before reconnecting a lost LISTEN connection, ms. */
  reconnectMs?: number;
  onError?: (error: unknown, where: 'poll' | 'listen' | 'handler') => void;
  /** Changes older than this are deleted now and then; followers never need them. */
  keepMs?: number;
}

type Handler = (change: Change) => void | Promise<void>;

/** Follows the `changes` table and hands each new change to the handlers of its kind. */
export class ChangeFeed {
  private readonly handlers = new Map<ChangeKind, Set<Handler>>();
  private readonly pollMs: number;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failing = false;
  private listener: pg.Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private closed = false;
  /** Changes handed to handlers so far (for tests and /metrics). */
  delivered = 0;

  constructor(
    private readonly db: AnyDb,
    private readonly options: ChangeFeedOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 200;
  }

  /** Calls `handler` for every change of `kind` made after start(); returns a function that stops it. */
  on(kind: ChangeKind, handler: Handler): () => void {
    let set = this.handlers.get(kind);
    if (!set) {
      set = new Set();
      this.handlers.set(kind, set);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Starts following from the newest change: what happened before, the caches loaded at start. */
  async start(): Promise<void> {
    this.last = await latestChange(this.db);
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
    const keepMs = this.options.keepMs ?? 86_400_000;
    this.pruneTimer = setInterval(
      () =>
        void this.db
          .deleteFrom('changes')
          .where('at', '<', Date.now() - keepMs)
          .execute()
          .catch(() => {}),
      3_600_000,
    );
    this.pruneTimer.unref();
    if (this.options.listenUrl) await this.listen(this.options.listenUrl);
  }

  /** Reads and delivers the changes after the last one seen; one read at a time, repeated if asked meanwhile. */
  poll(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.readOnce().then(
          () => {
            this.failing = false;
          },
          (error) => {
            // Reported once per outage, not five times a second.
            if (!this.failing) this.options.onError?.(error, 'poll');
            this.failing = true;
          },
        );
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Whether the PostgreSQL wake-up connection is up. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    clearTimeout(this.reconnect);
    await this.running;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
  }

  private async readOnce(): Promise<void> {
    const rows = await this.db
      .selectFrom('changes')
      .select(['seq', 'kind', 'subject', 'at'])
      .where('seq', '>', this.last)
      .orderBy('seq')
      .limit(1000)
      .execute();
    for (const row of rows) {
      const change: Change = {
        seq: Number(row.seq),
        kind: row.kind as ChangeKind,
        subject: row.subject,
        at: Number(row.at),
      };
      this.last = change.seq;
      await this.deliver(change);
    }
    if (rows.length === 1000) this.again = true;
  }

  private async deliver(change: Change): Promise<void> {
    this.delivered++;
    for (const handler of this.handlers.get(change.kind) ?? []) {
      try {
        await handler(change);
      } catch (error) {
        this.options.onError?.(error, 'handler');
      }
    }
  }

  /** A dedicated connection (a pooled one could be handed to a query mid-LISTEN), reconnected when lost. */
  private async listen(url: string): Promise<void> {
    if (this.closed) return;
    const { default: postgres } = await import('pg');
    if (this.closed) return;
    const client = new postgres.Client({ connectionString: url });
    const lost = (error?: unknown) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      if (error) this.options.onError?.(error, 'listen');
      client.end().catch(() => {});
      if (this.closed) return;
      this.reconnect = setTimeout(() => void this.listen(url), this.options.reconnectMs ?? 1000);
      this.reconnect.unref();
    };
    client.on('notification', () => void this.poll());
    client.on('error', (error) => lost(error));
    client.on('end', () => lost());
    try {
      this.listener = client;
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      // Changes committed while the connection was down: the poll finds them.
      void this.poll();
    } catch (error) {
      lost(error);
    }
  }
}

/** The feed of a store: polled, and on PostgreSQL woken by LISTEN on its own connection. */
export function changeFeedFor(store: Store, options: Omit<ChangeFeedOptions, 'listenUrl'> = {}): ChangeFeed {
  return new ChangeFeed(store.db, {
    ...options,
    listenUrl: store.kind === 'postgres' ? store.url : undefined,
  });
}

/**
 * Wraps an async job so that calls while it runs collapse into one more run after it: a burst of
 * changes costs at most two reloads, and the last change is always seen by one.
 */
export function coalesce(job: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const run = (): Promise<void> => {
    running = job().finally(() => {
      running = undefined;
    });
    return running;
  };
  return () => {
    if (!running) return run();
    queued ??= running
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return run();
      });
    return queued;
  };
}
