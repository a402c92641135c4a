import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One ledger row as the store takes it (plain JSON values). */
export type SpooledRow = Record<string, unknown>;

const SEGMENT = /^ledger-[0-9a-f]+-\d+\.jsonl$/;
const CLAIMED = /^(ledger-[0-9a-f]+-\d+\.jsonl)\.replaying-[0-9a-f]+$/;
/** A claim older than this belongs to an instance that stopped while replaying it. */
const STALE_CLAIM_MS = 60_000;

/**
 * Ledger rows the store refused, kept on local disk until it takes them again. Each spooling
 * writes one segment file (JSON lines), made visible whole by a rename, so a reader never sees
 * half a segment. A segment is replayed by the instance that claims it (a rename too: one wins),
 * which lets several instances share a directory, and lets a restarted one replay what a
 * previous run spooled. Replaying twice is harmless: rows are inserted skipping request ids
 * already present.
 */
export class LedgerSpool {
  private readonly instance = randomBytes(6).toString('hex');
  private sequence = 0;
  /** Whether segments may be waiting; starts true so a previous run's segments are looked for. */
  private mayHaveSegments = true;

  constructor(readonly dir: string) {}

  /** Writes the rows as one segment; resolves once it is on disk under its final name. */
  async write(rows: SpooledRow[]): Promise<void> {
    if (rows.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const name = `ledger-${this.instance}-${this.sequence++}.jsonl`;
    const partial = join(this.dir, `${name}.partial`);
    const file = await open(partial, 'w');
    try {
      await file.writeFile(`${rows.map((row) => JSON.stringify(row)).join('\n')}\n`);
      await file.sync(); // on disk before it is visible: a crash leaves no half-written segment
    } finally {
      await file.close();
    }
    await rename(partial, join(this.dir, name));
    this.mayHaveSegments = true;
  }

  /** Whether a replay could find anything (cheap: no disk access once the spool is known empty). */
  get pending(): boolean {
    return this.mayHaveSegments;
  }

  /**
   * Hands each waiting segment's rows to `insert`, oldest first, and deletes the segment once
   * inserted. Stops at the first failure (the store is still away), releasing that segment for a
   * later attempt. Returns the number of rows replayed.
   */
  async replay(insert: (rows: SpooledRow[]) => Promise<void>): Promise<number> {
    if (!this.mayHaveSegments) return 0;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.mayHaveSegments = false;
        return 0;
      }
      throw error;
    }
    await this.releaseStaleClaims(names);
    const segments = names.filter((name) => SEGMENT.test(name)).sort(bySequence);
    let replayed = 0;
    for (const name of segments) {
      const claimed = join(this.dir, `${name}.replaying-${this.instance}`);
      try {
        await rename(join(this.dir, name), claimed);
      } catch {
        continue; // another instance claimed it first
      }
      const rows = parseSegment(await readFile(claimed, 'utf8'));
      try {
        await insert(rows);
      } catch (error) {
        await rename(claimed, join(this.dir, name));
        throw error;
      }
      await unlink(claimed);
      replayed += rows.length;
    }
    this.mayHaveSegments = (await this.count()) > 0;
    return replayed;
  }

  /** Segments waiting, this instance's and others'. */
  async count(): Promise<number> {
    try {
      return (await readdir(this.dir)).filter((name) => SEGMENT.test(name)).length;
    } catch {
      return 0;
    }
  }

  private async releaseStaleClaims(names: string[]): Promise<void> {
    for (const name of names) {
      const match = CLAIMED.exec(name);
      if (!match) continue;
      const path = join(this.dir, name);
      try {
        if (Date.now() - (await stat(path)).mtimeMs > STALE_CLAIM_MS)
          await rename(path, join(this.dir, match[1]!));
      } catch {
        // gone meanwhile: its claimer finished it
      }
    }
  }
}

function parseSegment(text: string): SpooledRow[] {
  const rows: SpooledRow[] = [];
  for (const line of text.split('\n')) if (line) rows.push(JSON.parse(line) as SpooledRow);
  return rows;
}

/** Oldest first within an instance (by sequence number); instances in name order. */
function bySequence(a: string, b: string): number {
  const [, ia, sa] = /^ledger-([0-9a-f]+)-(\d+)/.exec(a)!;
  const [, ib, sb] = /^ledger-([0-9a-f]+)-(\d+)/.exec(b)!;
  return ia === ib ? Number(sa) - Number(sb) : ia! < ib! ? -1 : 1;
}
