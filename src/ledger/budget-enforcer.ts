import { formatUsd } from '../catalog/money.js';
import { ApiError } from '../pipeline/errors.js';
import { type Budget, describeBudget, listBudgets } from './budget-store.js';
import { windowAt } from './budget-window.js';
import { spendTotal } from './queries.js';
import type { AnyDb } from './tables.js';

export type Clock = () => number;

/** Who a request is charged to: its key, the key's environment, and always the global budgets. */
export interface Payer {
  keyId?: string | null;
  environment?: string | null;
}

export interface BudgetState {
  budget: Budget;
  windowStart: number;
  windowEnd: number | null;
  spentPico: bigint;
  reservedPico: bigint;
}

/**
 * An alert-worthy moment: spend crossed `threshold` % of a budget, or (`refused`, threshold 100)
 * the budget is exhausted: spent, or too little left for the next request, which is refused.
 */
export interface ThresholdEvent {
  budget: Budget;
  threshold: number;
  spentPico: bigint;
  /** Held by requests still in flight (worst case), not yet settled. */
  reservedPico: bigint;
  windowStart: number;
  windowEnd: number | null;
  refused: boolean;
}

export interface Reservation {
  readonly amountPico: bigint;
  /**
   * Replaces the reserved worst case with the real cost (0 when nothing was billed). The request's
   * id lets counters kept outside the process count it again should they be lost before its
   * ledger row is stored.
   */
  settle(actualPico: bigint, requestId?: string): void;
  /** The request was not sent: give the reservation back. */
  release(): void;
}

export interface BudgetRefusal {
  budget: Budget;
  spentPico: bigint;
  reservedPico: bigint;
  requestedPico: bigint;
  resetsAt: Date | null;
  message: string;
  /** `400 invalid_request_error`: SDKs do not retry it. */
  error: ApiError;
}

export type Admission = { ok: true; reservation: Reservation } | { ok: false; refusal: BudgetRefusal };

interface Counter extends BudgetState {
  alerted: Set<number>;
}

export interface BudgetEnforcerOptions {
  clock?: Clock;
  /** Called when spend crosses a threshold, once per window and threshold on this instance. */
  onThreshold?: (event: ThresholdEvent) => void;
}

/**
 * Budget counters in memory, seeded from the ledger. Admission reserves the worst-case cost
 * synchronously, so concurrent requests cannot together pass a limit; settlement swaps the
 * reservation for the real cost. Windows roll at UTC day and month boundaries.
 */
export class BudgetEnforcer {
  private readonly clock: Clock;
  private readonly onThreshold: (event: ThresholdEvent) => void;
  private counters = new Map<string, Counter>();

  constructor(
    private readonly db: AnyDb,
    options: BudgetEnforcerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.onThreshold = options.onThreshold ?? (() => {});
  }

  /**
   * Reads the budgets and seeds each one's spend in its current window from the ledger. Called
   * again after budgets change (or periodically when several instances share a ledger): counters
   * are updated in place, never lowered below what this instance has settled itself.
   */
  async load(): Promise<void> {
    const budgets = await listBudgets(this.db);
    const seen = new Set<string>();
    for (const budget of budgets) {
      seen.add(budget.id);
      const { start, end } = windowAt(budget.window, this.clock());
      const spent = await spendTotal(this.db, { from: start, ...filterFor(budget) });
      const counter = this.counters.get(budget.id);
      if (!counter) {
        this.counters.set(budget.id, {
          budget,
          windowStart: start,
          windowEnd: end,
          spentPico: spent,
          reservedPico: 0n,
          alerted: new Set(),
        });
        continue;
      }
      // A new limit starts its alerts afresh (the store forgot those sent, see setBudget).
      if (counter.budget.limitPico !== budget.limitPico) counter.alerted = new Set();
      counter.budget = budget;
      this.roll(counter);
      if (counter.windowStart === start && spent > counter.spentPico) counter.spentPico = spent;
    }
    for (const id of this.counters.keys()) if (!seen.has(id)) this.counters.delete(id);
    // A budget set at or below what is already spent is exhausted now, not at the next request.
    for (const counter of this.counters.values()) this.crossed(counter, false);
  }

  /**
   * Counts the cost of a request that was admitted before a budget covering it existed (set
   * while it was in flight), so the budget sees all the spend.
   */
  charge(payer: Payer, actualPico: bigint): void {
    if (actualPico <= 0n) return;
    for (const counter of this.applicable(payer)) {
      counter.spentPico += actualPico;
      this.crossed(counter, false);
    }
  }

  /**
   * Reloads budgets and re-reads spend from the ledger every `intervalMs`, so changes made from
   * the CLI apply and several instances sharing a store converge. Returns a function that stops it.
   */
  startRefresh(intervalMs = 30_000, onError: (error: unknown) => void = () => {}): () => void {
    const timer = setInterval(() => void this.load().catch(onError), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Reserves `worstCasePico` on every budget that applies, or refuses naming the first that would be passed. */
  reserve(payer: Payer, worstCasePico: bigint): Admission {
    const applicable = this.applicable(payer);
    for (const counter of applicable) {
      const { spentPico, reservedPico, budget } = counter;
      if (spentPico >= budget.limitPico || spentPico + reservedPico + worstCasePico > budget.limitPico) {
        const refusal = this.refusal(counter, worstCasePico);
        this.crossed(counter, true);
        return { ok: false, refusal };
      }
    }
    return { ok: true, reservation: this.hold(applicable, worstCasePico) };
  }

  /**
   * Reserves for a request already under way when a budget covering it appeared: it cannot be
   * refused any more, but the requests admitted after it must see its worst case until it ends.
   */
  adopt(payer: Payer, worstCasePico: bigint): Reservation {
    return this.hold(this.applicable(payer), worstCasePico);
  }

  private hold(applicable: Counter[], worstCasePico: bigint): Reservation {
    const holds = applicable.map((counter) => ({ counter, windowStart: counter.windowStart }));
    for (const { counter } of holds) counter.reservedPico += worstCasePico;
    let open = true;
    const finish = (actualPico: bigint) => {
      if (!open) return;
      open = false;
      for (const { counter, windowStart } of holds) {
        this.roll(counter);
        // A reservation made in a window that has since closed belongs to that window.
        if (counter.windowStart !== windowStart) continue;
        counter.reservedPico -= worstCasePico;
        counter.spentPico += actualPico;
        this.crossed(counter, false);
      }
    };
    return { amountPico: worstCasePico, settle: finish, release: () => finish(0n) };
  }

  /** What is left of the tightest budget covering the payer, reservations in flight deducted. */
  headroom(payer: Payer): bigint | null {
    let least: bigint | null = null;
    for (const { budget, spentPico, reservedPico } of this.applicable(payer)) {
      const left = budget.limitPico - spentPico - reservedPico;
      if (least === null || left < least) least = left;
    }
    return least;
  }

  /** Current state of every budget (window, spend, reservations). */
  status(): BudgetState[] {
    return [...this.counters.values()].map((counter) => {
      this.roll(counter);
      const { alerted: _alerted, ...state } = counter;
      return state;
    });
  }

  /** Whether any budget covers this payer (most requests, on most gateways, have none to check). */
  hasBudgetFor(payer: Payer): boolean {
    for (const counter of this.counters.values()) if (appliesTo(counter.budget, payer)) return true;
    return false;
  }

  private applicable(payer: Payer): Counter[] {
    const result: Counter[] = [];
    for (const counter of this.counters.values()) {
      if (appliesTo(counter.budget, payer)) {
        this.roll(counter);
        result.push(counter);
      }
    }
    return result;
  }

  private roll(counter: Counter): void {
    if (counter.windowEnd === null || this.clock() < counter.windowEnd) return;
    const { start, end } = windowAt(counter.budget.window, this.clock());
    counter.windowStart = start;
    counter.windowEnd = end;
    counter.spentPico = 0n;
    counter.reservedPico = 0n;
    counter.alerted = new Set();
  }

  private crossed(counter: Counter, refused: boolean): void {
    for (const event of newlyCrossed(counter, counter.alerted, refused)) this.onThreshold(event);
  }

  private refusal(counter: Counter, requestedPico: bigint): BudgetRefusal {
    return budgetRefusal(counter, requestedPico, this.clock());
  }
}

export function appliesTo(budget: Budget, payer: Payer): boolean {
  const { scope, subject } = budget;
  return (
    scope === 'global' ||
    (scope === 'key' && payer.keyId != null && subject === payer.keyId) ||
    (scope === 'environment' && payer.environment != null && subject === payer.environment)
  );
}

/**
 * Alerts `state` calls for that `alerted` does not hold yet (they are added to it): thresholds
 * below 100 % that spend reached, and one "exhausted" (threshold 100, whether or not 100 is among
 * the thresholds) once spend reaches the limit or a request is refused. Exhaustion marks the
 * thresholds not yet alerted as sent: it sends one alert, not one per threshold.
 */
export function newlyCrossed(state: BudgetState, alerted: Set<number>, refused: boolean): ThresholdEvent[] {
  const { budget, spentPico, reservedPico } = state;
  const event = (threshold: number, exhausted: boolean): ThresholdEvent => ({
    budget,
    threshold,
    spentPico,
    reservedPico,
    windowStart: state.windowStart,
    windowEnd: state.windowEnd,
    refused: exhausted,
  });
  const exhausted = refused || spentPico >= budget.limitPico;
  const events: ThresholdEvent[] = [];
  for (const threshold of budget.thresholds) {
    if (threshold >= 100 || alerted.has(threshold)) continue;
    if (exhausted) alerted.add(threshold);
    else if (spentPico * 100n >= BigInt(threshold) * budget.limitPico) {
      alerted.add(threshold);
      events.push(event(threshold, false));
    }
  }
  if (exhausted && !alerted.has(100)) {
    alerted.add(100);
    events.push(event(100, true));
  }
  return events;
}

/**
 * The refusal for a request that does not fit a budget: names it and says when it resets. It is
 * a spend stop, not a throttle: 429 `billing_error` with `x-should-retry: false`, which the SDKs
 * and Claude Code show without retrying, and `retry-after` (whole seconds) until the window resets.
 */
export function budgetRefusal(state: BudgetState, requestedPico: bigint, now = Date.now()): BudgetRefusal {
  const { budget, spentPico, reservedPico, windowEnd } = state;
  const resetsAt = windowEnd === null ? null : new Date(windowEnd);
  const when = resetsAt
    ? `it resets at ${resetsAt.toISOString()}`
    : 'it never resets: raise it with `sluice budgets set`';
  const message =
    `${describeBudget(budget)} would be exceeded: $${formatUsd(spentPico, 4)} spent, ` +
    `$${formatUsd(reservedPico, 4)} reserved by requests in flight, this request may cost up to ` +
    `$${formatUsd(requestedPico, 4)}; ${when}`;
  return {
    budget,
    spentPico,
    reservedPico,
    requestedPico,
    resetsAt,
    message,
    // The message names the budget by its key's or environment's name; its id follows here.
    error: new ApiError(
      429,
      message,
      {
        'x-sluice-budget': budget.id,
        'x-should-retry': 'false',
        ...(windowEnd === null
          ? {}
          : { 'retry-after': String(Math.max(1, Math.ceil((windowEnd - now) / 1000))) }),
      },
      'billing_error',
    ),
  };
}

export function filterFor(budget: Budget): { keyId?: string; environment?: string } {
  if (budget.scope === 'key') return { keyId: budget.subject };
  if (budget.scope === 'environment') return { environment: budget.subject };
  return {};
}
