import type { Handlers, RpcClient } from '../cluster/rpc.js';
import {
  type Admission,
  appliesTo,
  type BudgetEnforcer,
  type BudgetState,
  budgetRefusal,
  type Payer,
  type Reservation,
} from './budget-enforcer.js';
import type { Budget } from './budget-store.js';
import type { BudgetGate } from './plugin.js';

type ReserveAnswer = { ok: true } | { ok: false; state: BudgetState; requestedPico: bigint };

/**
 * Budgets of `sluice serve --workers N` without Redis: the primary process holds the counters
 * (one `BudgetEnforcer`) and each worker reserves and settles through this gate over IPC, so
 * the check and the reservation stay one step in one process, as with a single gateway.
 * The worker keeps the list of budgets (from the last load) to skip requests no budget covers.
 */
export class IpcBudgetGate implements BudgetGate {
  private budgets: Budget[] = [];
  private nextId = 0;

  constructor(private readonly rpc: RpcClient) {}

  /** Has the primary reload budgets and spend from the store (after this worker flushed its rows). */
  async load(): Promise<void> {
    this.budgets = await this.rpc.call<Budget[]>('budgets.load');
  }

  hasBudgetFor(payer: Payer): boolean {
    for (const budget of this.budgets) if (appliesTo(budget, payer)) return true;
    return false;
  }

  async reserve(payer: Payer, worstCasePico: bigint): Promise<Admission> {
    const id = this.nextId++;
    const answer = await this.rpc.call<ReserveAnswer>('budgets.reserve', id, payer, worstCasePico);
    if (!answer.ok) return { ok: false, refusal: budgetRefusal(answer.state, answer.requestedPico) };
    return { ok: true, reservation: this.reservation(id, worstCasePico) };
  }

  adopt(payer: Payer, worstCasePico: bigint): Reservation {
    const id = this.nextId++;
    this.rpc.notify('budgets.adopt', id, payer, worstCasePico);
    return this.reservation(id, worstCasePico);
  }

  charge(payer: Payer, actualPico: bigint): void {
    this.rpc.notify('budgets.charge', payer, actualPico);
  }

  status(): Promise<BudgetState[]> {
    return this.rpc.call('budgets.status');
  }

  /** What is left of the tightest budget covering the payer, from the primary's counters. */
  headroom(payer: Payer): Promise<bigint | null> {
    if (!this.hasBudgetFor(payer)) return Promise.resolve(null);
    return this.rpc.call('budgets.headroom', payer);
  }

  /** Reloads every `intervalMs` (the primary reloads on its own too; this refreshes the list here). */
  startRefresh(intervalMs = 30_000, onError: (error: unknown) => void = () => {}): () => void {
    const timer = setInterval(() => void this.load().catch(onError), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private reservation(id: number, amountPico: bigint): Reservation {
    let open = true;
    const finish = (actualPico: bigint) => {
      if (!open) return;
      open = false;
      this.rpc.notify('budgets.settle', id, actualPico);
    };
    return { amountPico, settle: finish, release: () => finish(0n) };
  }
}

/**
 * The primary's side of `IpcBudgetGate`: one enforcer for every worker, and each worker's open
 * reservations by the id the worker gave them. `load` is the enforcer's reload, coalesced.
 */
export function budgetHandlers(
  enforcer: BudgetEnforcer,
  load: () => Promise<void>,
): { handlers: Handlers; forgetWorker(from: number): number; open(): number } {
  const open = new Map<number, Map<number, Reservation>>();
  const of = (from: number) => {
    let reservations = open.get(from);
    if (!reservations) {
      reservations = new Map();
      open.set(from, reservations);
    }
    return reservations;
  };
  const handlers: Handlers = {
    'budgets.load': async () => {
      await load();
      return enforcer.status().map((state) => state.budget);
    },
    'budgets.reserve': (from, id: number, payer: Payer, worstCasePico: bigint): ReserveAnswer => {
      const admission = enforcer.reserve(payer, worstCasePico);
      if (admission.ok) {
        of(from).set(id, admission.reservation);
        return { ok: true };
      }
      const { refusal } = admission;
      return {
        ok: false,
        requestedPico: refusal.requestedPico,
        state: {
          budget: refusal.budget,
          spentPico: refusal.spentPico,
          reservedPico: refusal.reservedPico,
          windowStart: 0,
          windowEnd: refusal.resetsAt?.getTime() ?? null,
        },
      };
    },
    'budgets.adopt': (from, id: number, payer: Payer, worstCasePico: bigint) => {
      of(from).set(id, enforcer.adopt(payer, worstCasePico));
    },
    'budgets.settle': (from, id: number, actualPico: bigint) => {
      const reservations = of(from);
      const reservation = reservations.get(id);
      reservations.delete(id);
      reservation?.settle(actualPico);
    },
    'budgets.charge': (_from, payer: Payer, actualPico: bigint) => enforcer.charge(payer, actualPico),
    'budgets.status': () => enforcer.status(),
    'budgets.headroom': (_from, payer: Payer) => enforcer.headroom(payer),
  };
  return {
    handlers,
    /**
     * A worker is gone: its reservations are given back, as Redis drops those of an instance
     * whose heartbeat expired (the rows of its requests in flight were lost with it).
     */
    forgetWorker(from) {
      const reservations = open.get(from);
      open.delete(from);
      for (const reservation of reservations?.values() ?? []) reservation.release();
      return reservations?.size ?? 0;
    },
    open: () => [...open.values()].reduce((sum, r) => sum + r.size, 0),
  };
}
