import type { Catalog } from '../catalog/catalog.js';
import type { PriceEntry } from '../catalog/schema.js';
import type { Clock } from './clock.js';
import type { Usage } from './types.js';

/**
 * Spend this calendar month (UTC) at catalog prices, against an optional monthly cap. Models
 * without a published price add nothing.
 */
export class SpendTracker {
  private spent = 0;
  private month: string;

  constructor(
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private cap: number | undefined,
  ) {
    this.month = this.currentMonth();
  }

  setCap(usd: number | undefined): void {
    this.cap = usd;
  }

  get spentUsd(): number {
    this.rollOver();
    return this.spent;
  }

  /** True when a cap is set and this month's spend has reached it. */
  exceeded(): boolean {
    return this.cap !== undefined && this.spentUsd >= this.cap;
  }

  /** When access returns: the first moment of next month, UTC. */
  nextMonthStart(): Date {
    const now = new Date(this.clock.now());
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  }

  add(model: string, usage: Usage): void {
    this.rollOver();
    const price = this.priceToday(model);
    if (!price) return;
    const perToken = (rate: string): number => Number(rate) / 1_000_000;
    this.spent +=
      usage.input_tokens * perToken(price.input) +
      usage.cache_creation.ephemeral_5m_input_tokens * perToken(price.cacheWrite5m) +
      usage.cache_creation.ephemeral_1h_input_tokens * perToken(price.cacheWrite1h) +
      usage.cache_read_input_tokens * perToken(price.cacheRead) +
      usage.output_tokens * perToken(price.output);
  }

  private readonly prices = new Map<string, PriceEntry | undefined>();
  private pricesDay = { start: 0, end: 0 };

  /** The catalog price in force today, looked up once a day per model (no date formatting per request). */
  private priceToday(model: string): PriceEntry | undefined {
    const now = this.clock.now();
    if (now < this.pricesDay.start || now >= this.pricesDay.end) {
      const start = now - (now % 86_400_000);
      this.pricesDay = { start, end: start + 86_400_000 };
      this.prices.clear();
    }
    if (this.prices.has(model)) return this.prices.get(model);
    const price = this.catalog.priceAt(model, new Date(now));
    this.prices.set(model, price);
    return price;
  }

  reset(): void {
    this.spent = 0;
    this.month = this.currentMonth();
    this.monthEnd = 0;
  }

  private monthEnd = 0;

  private rollOver(): void {
    const now = this.clock.now();
    if (now < this.monthEnd) return;
    const month = this.currentMonth();
    const date = new Date(now);
    this.monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    if (month !== this.month) {
      this.month = month;
      this.spent = 0;
    }
  }

  private currentMonth(): string {
    return new Date(this.clock.now()).toISOString().slice(0, 7);
  }
}
