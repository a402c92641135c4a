import type { Insertable } from 'kysely';
import { type LedgerEntry, toLedgerRow } from './entry.js';
import type { LedgerSpool, SpooledRow } from './spool.js';
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
  /**
   * Where rows go when the store refuses them (it is away): on disk until it is back, then
   * replayed. Without a spool they wait in memory, up to `maxBuffered`.
   */
  spool?: LedgerSpool;
  /** Rows written to the spool, and rows replayed from it into the store. */
  onSpooled?: (rows: number) => void;
  onReplayed?: (rows: number) => void;
  /** The request ids of rows now in the store (written, or replayed from the spool). */
  onStored?: (requestIds: string[]) => void;
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
  spooled: number;
  replayed: number;
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
  private readonly counters = { written: 0, dropped: 0, failedFlushes: 0, spooled: 0, replayed: 0 };
  private readonly spool: LedgerSpool | undefined;
  private readonly onSpooled: (rows: number) => void;
  private readonly onReplayed: (rows: number) => void;
  private readonly onStored: (requestIds: string[]) => void;

  constructor(db: AnyDb, options: LedgerWriterOptions = {}) {
    this.db = moneyDb(db);
    this.batchSize = Math.min(Math.max(1, options.batchSize ?? 500), MAX_ROWS_PER_INSERT);
    this.maxBuffered = options.maxBuffered ?? 200_000;
    this.onError = options.onError ?? (() => {});
    this.spool = options.spool;
    this.onSpooled = options.onSpooled ?? (() => {});
    this.onReplayed = options.onReplayed ?? (() => {});
    this.onStored = options.onStored ?? (() => {});
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
    if (this.spool?.pending) await this.replaySpool(this.spool);
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.insertRows('ledger', batch, 'request_id');
        this.counters.written += batch.length;
        this.onStored(batch.map((row) => row.request_id));
      } catch (error) {
        this.counters.failedFlushes += 1;
        if (this.spool && (await this.spoolRows(this.spool, batch, error))) return;
        this.buffer.unshift(...batch);
        this.onError(error, this.buffer.length);
        throw error;
      }
    }
  }

  /** The store refused a batch: it and all that is buffered go to disk. False if the disk refused too. */
  private async spoolRows(
    spool: LedgerSpool,
    batch: Insertable<LedgerTable>[],
    error: unknown,
  ): Promise<boolean> {
    const rows = [...batch, ...this.buffer];
    try {
      await spool.write(rows as SpooledRow[]);
    } catch (spoolError) {
      this.onError(spoolError, rows.length);
      return false;
    }
    // Rows buffered while the segment was written stay buffered, for the next flush.
    this.buffer.splice(0, rows.length - batch.length);
    this.counters.spooled += rows.length;
    this.onSpooled(rows.length);
    this.onError(error, this.buffer.length);
    return true;
  }

  private async replaySpool(spool: LedgerSpool): Promise<void> {
    try {
      const replayed = await spool.replay(async (rows) => {
        for (let at = 0; at < rows.length; at += this.batchSize) {
          const batch = rows.slice(at, at + this.batchSize) as Insertable<LedgerTable>[];
          await this.insertRows('ledger', batch, 'request_id');
          this.onStored(batch.map((row) => row.request_id));
        }
      });
      if (replayed > 0) {
        this.counters.replayed += replayed;
        this.counters.written += replayed;
        this.onReplayed(replayed);
      }
    } catch (error) {
      // Still away: the segments wait on disk for the next flush.
      this.onError(error, this.buffer.length);
    }
  }
}
