import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ApiError } from '../pipeline/errors.js';
import {
  type Admission,
  appliesTo,
  type BudgetState,
  budgetRefusal,
  type Clock,
  filterFor,
  newlyCrossed,
  type Payer,
  type Reservation,
  type ThresholdEvent,
} from './budget-enforcer.js';
import { type Budget, listBudgets } from './budget-store.js';
import { windowAt } from './budget-window.js';
import { spendTotal } from './queries.js';
import type { AnyDb } from './tables.js';

/*
 * One hash per budget window: `spent` plus one `r:<instance>` field per gateway instance holding
 * what its requests in flight reserved. Updates use HINCRBY (exact 64-bit integers); the limit
 * check compares in Lua doubles, exact to well under a micro-dollar.
 */
const reserveScript = `
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 + i])
  local values = redis.call('HGETALL', KEYS[i])
  local spent, spentText, reserved = 0, '0', 0
  for j = 1, #values, 2 do
    if values[j] == 'spent' then
      spent = tonumber(values[j + 1]); spentText = values[j + 1]
    elseif string.sub(values[j], 1, 2) == 'r:' then
      reserved = reserved + tonumber(values[j + 1])
    end
  end
  if spent >= limit or spent + reserved + amount > limit then
    return {i, spentText, string.format('%.0f', reserved)}
  end
end
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], ARGV[2], ARGV[1])
  local ttl = tonumber(ARGV[2 + #KEYS + i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {0}
`;

const settleScript = `
local spent = {}
for i = 1, #KEYS do
  local left = redis.call('HINCRBY', KEYS[i], ARGV[3], ARGV[1])
  if left <= 0 then redis.call('HDEL', KEYS[i], ARGV[3]) end
  spent[i] = tostring(redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2]))
  local ttl = tonumber(ARGV[3 + i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return spent
`;

/**
 * Raises `spent` to what the ledger holds: rows written by requests admitted before the budget
 * existed, or by instances that flushed after another seeded the counter. Never lowers it: the
 * counter runs ahead of the ledger, whose rows are written in batches.
 */
const raiseScript = `
local current = redis.call('HGET', KEYS[1], 'spent')
if (not current) or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1])
  current = ARGV[1]
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return current
`;

/** Drops the reservations of instances whose heartbeat expired (they crashed with requests in flight). */
const sweepScript = `
local removed = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 'r:' and redis.call('EXISTS', ARGV[1] .. string.sub(field, 3)) == 0 then
    redis.call('HDEL', KEYS[1], field)
    removed = removed + 1
  end
end
return removed
`;

export interface RedisBudgetOptions {
  url: string;
  prefix?: string;
  clock?: Clock;
  onThreshold?: (event: ThresholdEvent) => void;
  /** Redis unreachable: true admits requests unbudgeted (and reports it), false refuses them. */
  failOpen?: boolean;
  onError?: (error: unknown) => void;
  /** How long an instance's reservations outlive its last heartbeat. */
  heartbeatTtlMs?: number;
}

/**
 * Budget counters in Redis, shared by every gateway instance: the check and the reservation are
 * one script, so instances together cannot pass a limit. Same contract as `BudgetEnforcer`.
 */
export class RedisBudgetEnforcer {
  readonly redis: Redis;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly instance = randomBytes(6).toString('hex');
  private readonly field: string;
  private readonly alerted = new Map<string, Set<number>>();
  private readonly heartbeatTtlMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private budgets: Budget[] = [];

  constructor(
    private readonly db: AnyDb,
    private readonly options: RedisBudgetOptions,
  ) {
    this.prefix = options.prefix ?? 'sluice:budgets:';
    this.clock = options.clock ?? Date.now;
    this.field = `r:${this.instance}`;
    this.heartbeatTtlMs = options.heartbeatTtlMs ?? 30_000;
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    this.redis.on('error', () => {});
    this.redis.defineCommand('sluiceBudgetReserve', { lua: reserveScript });
    this.redis.defineCommand('sluiceBudgetSettle', { lua: settleScript });
    this.redis.defineCommand('sluiceBudgetSweep', { lua: sweepScript, numberOfKeys: 1 });
    this.redis.defineCommand('sluiceBudgetRaise', { lua: raiseScript, numberOfKeys: 1 });
  }

  /**
   * Connects, starts the heartbeat, reads budgets, brings each window's spend up to the ledger's,
   * sweeps dead reservations, and alerts for a budget already passed (set below its spend).
   * Redis unreachable: with `failOpen` the budgets are still read and the gateway starts
   * (requests pass unbudgeted, reported through `onError`, while ioredis keeps reconnecting);
   * without it, start-up stops with an error naming Redis and where it was sought.
   */
  async load(): Promise<void> {
    if (!this.heartbeat) {
      this.heartbeat = setInterval(
        () => void this.beat().catch(() => {}),
        Math.max(1000, this.heartbeatTtlMs / 3),
      );
      this.heartbeat.unref();
    }
    try {
      if (this.redis.status === 'wait') await this.redis.connect();
      await this.beat();
    } catch (error) {
      const named = new Error(
        `budget counters: Redis at ${redactedUrl(this.options.url)} is unreachable (${(error as Error).message})`,
        { cause: error },
      );
      if (this.options.failOpen === false) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
        throw named;
      }
      this.options.onError?.(named);
      this.budgets = await listBudgets(this.db);
      return;
    }
    this.budgets = await listBudgets(this.db);
    for (const budget of this.budgets) {
      const { start, end } = windowAt(budget.window, this.clock());
      const key = this.keyOf(budget, start);
      const ledger = await spendTotal(this.db, { from: start, ...filterFor(budget) });
      const spent = (await this.call(
        'sluiceBudgetRaise',
        key,
        ledger.toString(),
        this.ttlOf(budget),
      )) as string;
      await this.call('sluiceBudgetSweep', key, `${this.prefix}instance:`);
      const state: BudgetState = {
        budget,
        windowStart: start,
        windowEnd: end,
        spentPico: BigInt(spent),
        reservedPico: 0n,
      };
      this.emit(newlyCrossed(state, this.alertedFor(state), false));
    }
  }

  /** Counts the cost of a request admitted before a budget covering it existed. */
  charge(payer: Payer, actualPico: bigint): void {
    const budgets = this.budgets.filter((b) => appliesTo(b, payer));
    if (budgets.length === 0 || actualPico <= 0n) return;
    const windows = budgets.map((budget) => ({ budget, ...windowAt(budget.window, this.clock()) }));
    const keys = windows.map((w) => this.keyOf(w.budget, w.start));
    void this.settle(windows, keys, 0n, actualPico).catch((error) => this.options.onError?.(error));
  }

  startRefresh(intervalMs = 30_000, onError: (error: unknown) => void = () => {}): () => void {
    const timer = setInterval(() => void this.load().catch(onError), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * A request already under way when a budget covering it appeared: counted at once at its worst
   * case (the shared counters keep no reservation for it), so requests admitted after it cannot
   * pass the budget; its real cost is not counted again when it ends.
   */
  adopt(payer: Payer, worstCasePico: bigint): Reservation {
    this.charge(payer, worstCasePico);
    return { amountPico: worstCasePico, settle: () => {}, release: () => {} };
  }

  /** Whether any budget covers this payer. */
  hasBudgetFor(payer: Payer): boolean {
    return this.budgets.some((budget) => appliesTo(budget, payer));
  }

  async reserve(payer: Payer, worstCasePico: bigint): Promise<Admission> {
    const budgets = this.budgets.filter((b) => appliesTo(b, payer));
    if (budgets.length === 0)
      return { ok: true, reservation: { amountPico: worstCasePico, settle: () => {}, release: () => {} } };
    const windows = budgets.map((budget) => ({ budget, ...windowAt(budget.window, this.clock()) }));
    const keys = windows.map((w) => this.keyOf(w.budget, w.start));
    let answer: [number, string?, string?];
    try {
      answer = (await this.call(
        'sluiceBudgetReserve',
        keys.length,
        ...keys,
        worstCasePico.toString(),
        this.field,
        ...budgets.map((b) => b.limitPico.toString()),
        ...budgets.map((b) => this.ttlOf(b)),
      )) as [number, string?, string?];
    } catch (error) {
      this.options.onError?.(error);
      if (this.options.failOpen === false)
        throw new ApiError(503, 'budget counters are unavailable; try again shortly');
      return { ok: true, reservation: { amountPico: 0n, settle: () => {}, release: () => {} } };
    }
    if (answer[0] > 0) {
      const w = windows[answer[0] - 1]!;
      const state: BudgetState = {
        budget: w.budget,
        windowStart: w.start,
        windowEnd: w.end,
        spentPico: BigInt(answer[1] ?? '0'),
        reservedPico: BigInt(answer[2] ?? '0'),
      };
      this.emit(newlyCrossed(state, this.alertedFor(state), true));
      return { ok: false, refusal: budgetRefusal(state, worstCasePico) };
    }
    let open = true;
    const finish = (actualPico: bigint) => {
      if (!open) return;
      open = false;
      void this.settle(windows, keys, worstCasePico, actualPico).catch((error) =>
        this.options.onError?.(error),
      );
    };
    return {
      ok: true,
      reservation: { amountPico: worstCasePico, settle: finish, release: () => finish(0n) },
    };
  }

  async status(): Promise<BudgetState[]> {
    const states: BudgetState[] = [];
    for (const budget of this.budgets) {
      const { start, end } = windowAt(budget.window, this.clock());
      const values = await this.redis.hgetall(this.keyOf(budget, start));
      let reserved = 0n;
      for (const [field, value] of Object.entries(values))
        if (field.startsWith('r:')) reserved += BigInt(value);
      states.push({
        budget,
        windowStart: start,
        windowEnd: end,
        spentPico: BigInt(values.spent ?? '0'),
        reservedPico: reserved,
      });
    }
    return states;
  }

  /** Stops the heartbeat and disconnects (reservations of this instance are then swept by the others). */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.redis.del(`${this.prefix}instance:${this.instance}`).catch(() => {});
    this.redis.disconnect();
  }

  private async settle(
    windows: Array<{ budget: Budget; start: number; end: number | null }>,
    keys: string[],
    reserved: bigint,
    actual: bigint,
  ): Promise<void> {
    const spent = (await this.call(
      'sluiceBudgetSettle',
      keys.length,
      ...keys,
      (-reserved).toString(),
      actual.toString(),
      this.field,
      ...windows.map((w) => this.ttlOf(w.budget)),
    )) as string[];
    windows.forEach((w, i) => {
      const state: BudgetState = {
        budget: w.budget,
        windowStart: w.start,
        windowEnd: w.end,
        spentPico: BigInt(spent[i]!),
        reservedPico: 0n,
      };
      this.emit(newlyCrossed(state, this.alertedFor(state), false));
    });
  }

  private emit(events: ThresholdEvent[]): void {
    for (const event of events) this.options.onThreshold?.(event);
  }

  private alertedFor(state: BudgetState): Set<number> {
    // A new limit starts its alerts afresh (the store forgot those sent, see setBudget).
    const id = `${state.budget.id}@${state.windowStart}@${state.budget.limitPico}`;
    let set = this.alerted.get(id);
    if (!set) {
      set = new Set();
      this.alerted.set(id, set);
    }
    return set;
  }

  private keyOf(budget: Budget, windowStart: number): string {
    return `${this.prefix}${budget.id}:${windowStart}`;
  }

  /** Windowed counters outlive their window by two days, then Redis forgets them. */
  private ttlOf(budget: Budget): number {
    const { end } = windowAt(budget.window, this.clock());
    return end === null ? 0 : Math.max(1, end - this.clock() + 2 * 86_400_000);
  }

  private beat(): Promise<unknown> {
    return this.redis.set(`${this.prefix}instance:${this.instance}`, '1', 'PX', this.heartbeatTtlMs);
  }

  private call(command: string, ...args: Array<string | number>): Promise<unknown> {
    return (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[
      command
    ]!(...args);
  }
}

/** A Redis URL fit for a log line or an error: credentials removed. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(an invalid URL)';
  }
}
