import type { Insertable } from 'kysely';
import { type LedgerEntry, toLedgerRow } from './entry.js';
import { type AnyDb, type LedgerTable, type MoneyDb, moneyDb } from './tables.js';

export interface LedgerWriterOptions {
  /** Rows per INSERT; a full buffer of this size is flushed at once. */
  batchSize?: number;
  /** Rows wait at most this long before they are written. */
  intervalMs?: number;
  /** When the store is down, rows beyond this many are dropped (and counted) rather than exhausting memory. */
  maxBuffered?: number;
  /** Called when a flush fails; the rows stay buffered and are retried. */
  onError?: (error: unknown, pendingRows: number) => void;
  /** The store's bulk insert (see Store.insertRows); without it rows go through one multi-row INSERT. */
  insertRows?: (
    table: 'ledger',
    rows: Insertable<LedgerTable>[],
    conflictColumn: 'request_id',
  ) => Promise<void>;
}

export interface LedgerWriterStats {
  written: number;
  pending: number;
  dropped: number;
  failedFlushes: number;
}

const COLUMNS_PER_ROW = 23;
// Stay well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters per statement.
const MAX_ROWS_PER_INSERT = Math.floor(30_000 / COLUMNS_PER_ROW);

/**
 * Buffers ledger rows in memory and writes them in batches off the request path: when a batch
 * fills up or every `intervalMs`. `close()` writes everything still buffered; a crash loses at
 * most the rows of one interval.
 */
export class LedgerWriter {
  private readonly db: MoneyDb;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly onError: (error: unknown, pendingRows: number) => void;
  private readonly insertRows: NonNullable<LedgerWriterOptions['insertRows']>;
  private buffer: Insertable<LedgerTable>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters = { written: 0, dropped: 0, failedFlushes: 0 };

  constructor(db: AnyDb, options: LedgerWriterOptions = {}) {
    this.db = moneyDb(db);
    this.batchSize = Math.min(Math.max(1, options.batchSize ?? 500), MAX_ROWS_PER_INSERT);
    this.maxBuffered = options.maxBuffered ?? 200_000;
    this.onError = options.onError ?? (() => {});
    this.insertRows =
      options.insertRows ??
      (async (_table, rows) => {
        await this.db
          .insertInto('ledger')
          .values(rows)
          .onConflict((conflict) => conflict.column('request_id').doNothing())
          .execute();
      });
    const intervalMs = options.intervalMs ?? 250;
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  /** Queues one request's row; never waits for the store. */
  write(entry: LedgerEntry): void {
    this.buffer.push(toLedgerRow(entry));
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.counters.dropped += excess;
    }
    if (this.buffer.length >= this.batchSize) void this.flush().catch(() => {});
  }

  /** Writes every row queued so far. Rejects if the store refused them (they stay queued). */
  flush(): Promise<void> {
    const next = this.chain.then(() => this.drain());
    this.chain = next.catch(() => {});
    return next;
  }

  /** Stops the timer and writes everything, retrying a failing store a few times before giving up. */
  close(options: { attempts?: number; retryDelayMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      const attempts = options.attempts ?? 5;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.flush();
          if (this.buffer.length === 0) return;
        } catch (error) {
          if (attempt >= attempts) throw error;
          await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 200) * attempt));
        }
      }
    })();
    return this.closing;
  }

  stats(): LedgerWriterStats {
    return { ...this.counters, pending: this.buffer.length };
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.insertRows('ledger', batch, 'request_id');
        this.counters.written += batch.length;
      } catch (error) {
        this.buffer.unshift(...batch);
        this.counters.failedFlushes += 1;
        this.onError(error, this.buffer.length);
        throw error;
      }
    }
  }
}
