import type { Catalog } from '../catalog/catalog.js';
import { costOf } from '../catalog/cost.js';
import { formatUsdExact, usdToPico } from '../catalog/money.js';
import type { Clock } from './clock.js';
import type { Usage } from './types.js';

/**
 * Spend this calendar month (UTC), priced by the project's own `costOf` from what usage reports
 * (speed, geo, service tier, web searches), in exact pico-dollars, against an optional cap.
 * A model without a price is counted the way the catalog's policy says (its family's dearest
 * rates by default).
 */
export class SpendTracker {
  private spent = 0n;
  private capPico: bigint | undefined;
  private month: string;
  private monthEnd = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    capUsd: number | undefined,
  ) {
    this.setCap(capUsd);
    this.month = this.currentMonth();
  }

  setCap(usd: number | undefined): void {
    // Twelve decimals: every pico-dollar of the number as written, no exponent notation.
    this.capPico = usd === undefined ? undefined : usdToPico(usd.toFixed(12));
  }

  get spentPico(): bigint {
    this.rollOver();
    return this.spent;
  }

  /** This month's spend as exact decimal text ("0.0017552", never a float artefact). */
  get spentUsd(): string {
    return formatUsdExact(this.spentPico);
  }

  /** True when a cap is set and this month's spend has reached it. */
  exceeded(): boolean {
    return this.capPico !== undefined && this.spentPico >= this.capPico;
  }

  /** When access returns: the first moment of next month, UTC. */
  nextMonthStart(): Date {
    const now = new Date(this.clock.now());
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  }

  add(model: string, usage: Usage): void {
    this.rollOver();
    this.spent += costOf(usage, model, new Date(this.clock.now()), {
      catalog: this.catalog,
      track: false,
    }).pico;
  }

  reset(): void {
    this.spent = 0n;
    this.month = this.currentMonth();
    this.monthEnd = 0;
  }

  private rollOver(): void {
    const now = this.clock.now();
    if (now < this.monthEnd) return;
    const month = this.currentMonth();
    const date = new Date(now);
    this.monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    if (month !== this.month) {
      this.month = month;
      this.spent = 0n;
    }
  }

  private currentMonth(): string {
    return new Date(this.clock.now()).toISOString().slice(0, 7);
  }
}
