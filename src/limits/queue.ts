import type { Priority } from '../pipeline/types.js';

const rank: Record<Priority, number> = { interactive: 0, batch: 1 };

export interface QueueEntry {
  priority: Priority;
  seq: number;
}

/** Waiters in admission order: interactive before batch, then arrival. */
export class PriorityQueue<T extends QueueEntry> {
  private readonly items: T[] = [];

  get length(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** The entries a newcomer of this priority would wait behind. */
  ahead(priority: Priority): T[] {
    return this.items.filter((item) => rank[item.priority] <= rank[priority]);
  }

  /** The entries in front of one already queued. */
  before(entry: T): T[] {
    const index = this.items.indexOf(entry);
    return index < 0 ? [] : this.items.slice(0, index);
  }

  insert(entry: T): void {
    const index = this.items.findIndex(
      (item) =>
        rank[item.priority] > rank[entry.priority] ||
        (rank[item.priority] === rank[entry.priority] && item.seq > entry.seq),
    );
    if (index < 0) this.items.push(entry);
    else this.items.splice(index, 0, entry);
  }

  remove(entry: T): boolean {
    const index = this.items.indexOf(entry);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  count(priority: Priority): number {
    return this.items.filter((item) => item.priority === priority).length;
  }

  all(): readonly T[] {
    return this.items;
  }
}
