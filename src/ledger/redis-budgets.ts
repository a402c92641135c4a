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
 * One hash per budget window: `spent`, `epoch`, plus one `r:<instance>` field per gateway
 * instance holding what its requests in flight reserved. Updates use HINCRBY (exact 64-bit
 * integers); the limit check compares in Lua doubles, exact to well under a micro-dollar.
 *
 * `epoch` is written when the window is seeded from the ledger and lives in the same hash as the
 * counters, so whatever makes Redis forget the counters (restart without persistence, FLUSHALL,
 * eviction) forgets it too. Each instance remembers the epoch it last synced with: a missing
 * epoch means "seed from the ledger first", a different one means "Redis lost this window since
 * you last looked: put back your reservations and the spend of yours the ledger does not hold yet".
 */
const reserveScript = `
local amount = tonumber(ARGV[1])
local n = #KEYS
for i = 1, n do
  local epoch = redis.call('HGET', KEYS[i], 'epoch')
  if not epoch then return {-1, i} end
  if epoch ~= ARGV[2 + 2 * n + i] then return {-2, i, epoch} end
end
for i = 1, n do
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
for i = 1, n do
  redis.call('HINCRBY', KEYS[i], ARGV[2], ARGV[1])
  local ttl = tonumber(ARGV[2 + n + i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {0}
`;

/**
 * Gives a reservation back and counts the real cost. The reservation is taken off this instance's
 * field only in the epoch it was made in: after a loss the field is re-posted whole (sync).
 * Returns, per window, the spend and the epoch it was counted in ('' for a window not seeded yet).
 */
const settleScript = `
local out = {}
local n = #KEYS
for i = 1, n do
  local epoch = redis.call('HGET', KEYS[i], 'epoch') or ''
  if epoch ~= '' and epoch == ARGV[3 + n + i] then
    local left = redis.call('HINCRBY', KEYS[i], ARGV[3], ARGV[1])
    if left <= 0 then redis.call('HDEL', KEYS[i], ARGV[3]) end
  end
  out[2 * i - 1] = tostring(redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2]))
  out[2 * i] = epoch
  local ttl = tonumber(ARGV[3 + i])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return out
`;

/**
 * Seeds a window Redis does not hold (new, or lost): the ledger's spend is added to whatever was
 * settled into the hash since it was lost, and a new epoch is set. A window another instance
 * seeded meanwhile is left alone. Returns the window's epoch.
 */
const seedScript = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[1])
  redis.call('HSET', KEYS[1], 'epoch', ARGV[2])
  epoch = ARGV[2]
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return epoch
`;

/**
 * An instance meets a window's new epoch: its reservations in flight are posted again, and the
 * spend it settled under an older epoch that the ledger did not hold when the window was seeded
 * is counted again. Applied only if the epoch is still the one the instance saw.
 */
const syncScript = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) else redis.call('HDEL', KEYS[1], ARGV[2]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[1], 'spent', ARGV[4]) end
return 1
`;

/**
 * Raises `spent` to what the ledger holds: rows written by requests admitted before the budget
 * existed, or by instances that flushed after another seeded the counter. Never lowers it: the
 * counter runs ahead of the ledger, whose rows are written in batches. A window not seeded yet
 * is left to seeding (which adds the ledger's spend to what the hash already counts).
 */
const raiseScript = `
if not redis.call('HGET', KEYS[1], 'epoch') then return redis.call('HGET', KEYS[1], 'spent') or '0' end
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

interface BudgetWindow {
  budget: Budget;
  start: number;
  end: number | null;
}

/** Spend settled by this instance, and in which epoch of each window it was counted. */
interface UnstoredSpend {
  amountPico: bigint;
  addedAt: number;
  /** When the ledger row was stored (unset while it waits in memory or in the spool). */
  storedAt?: number;
  /**
   * Window key → epoch; '' = counted while the window was lost (the seed kept it); SETTLING = its
   * settlement is on its way (it counts itself); UNCOUNTED = the settlement failed.
   */
  countedIn: Map<string, string>;
}

const SETTLING = '+';
const UNCOUNTED = '-';
/**
 * Instances' clocks are taken to agree within this much: a row stored this close before a seed
 * read the ledger is counted again (over, never under).
 */
const STORE_CLOCK_MARGIN_MS = 1_000;
/** Stored spend is remembered this long after it was stored (a seed reading the ledger sees it). */
const STORED_KEPT_MS = 60_000;
/** Spend whose row is never reported stored (another instance replayed its spool) is forgotten after a day. */
const UNSTORED_KEPT_MS = 86_400_000;

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
  /** Per window key: the epoch this instance last synced with (see the scripts above). */
  private readonly epochs = new Map<string, string>();
  /** Per window key: what this instance's requests in flight reserved there. */
  private readonly held = new Map<string, bigint>();
  /** Spend this instance settled whose ledger row may not be stored yet, by request id. */
  private readonly unstored = new Map<string, UnstoredSpend>();
  private readonly windowsByKey = new Map<string, BudgetWindow>();
  private readonly resyncs = new Map<string, Promise<void>>();

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
    this.redis.defineCommand('sluiceBudgetSeed', { lua: seedScript, numberOfKeys: 1 });
    this.redis.defineCommand('sluiceBudgetSync', { lua: syncScript, numberOfKeys: 1 });
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
        () =>
          void this.beat()
            .then(() => this.checkEpochs())
            .catch(() => {}),
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
      this.windowsByKey.set(key, { budget, start, end });
      const epoch = await this.redis.hget(key, 'epoch');
      if (epoch === null || epoch !== this.epochs.get(key))
        await this.resync(key, { budget, start, end }, epoch);
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
  charge(payer: Payer, actualPico: bigint, requestId?: string): void {
    const budgets = this.budgets.filter((b) => appliesTo(b, payer));
    if (budgets.length === 0 || actualPico <= 0n) return;
    const windows = budgets.map((budget) => ({ budget, ...windowAt(budget.window, this.clock()) }));
    const keys = windows.map((w) => this.keyOf(w.budget, w.start));
    void this.settle(windows, keys, 0n, actualPico, requestId).catch((error) =>
      this.options.onError?.(error),
    );
  }

  /**
   * The ledger rows of these requests are stored: their spend is in what a seed reads, and no
   * longer needs putting back should Redis lose a window.
   */
  rowsStored(requestIds: Iterable<string>): void {
    const now = Date.now();
    for (const id of requestIds) {
      const spend = this.unstored.get(id);
      if (spend) spend.storedAt ??= now;
    }
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
    windows.forEach((w, i) => {
      this.windowsByKey.set(keys[i]!, w);
    });
    let answer: [number, string?, string?];
    try {
      // A window Redis lost (or never held) is seeded, or re-synced with this instance's share,
      // before any spend is admitted in it; then the reservation is tried again.
      for (let attempt = 1; ; attempt++) {
        answer = (await this.call(
          'sluiceBudgetReserve',
          keys.length,
          ...keys,
          worstCasePico.toString(),
          this.field,
          ...budgets.map((b) => b.limitPico.toString()),
          ...budgets.map((b) => this.ttlOf(b)),
          ...keys.map((key) => this.epochs.get(key) ?? ''),
        )) as [number, string?, string?];
        if (answer[0] >= 0) break;
        if (attempt >= 5) throw new Error('budget window kept changing while it was being seeded');
        const i = Number(answer[1]) - 1;
        await this.resync(keys[i]!, windows[i]!, answer[0] === -1 ? null : answer[2]!);
      }
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
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0n) + worstCasePico);
    let open = true;
    const finish = (actualPico: bigint, requestId?: string) => {
      if (!open) return;
      open = false;
      void this.settle(windows, keys, worstCasePico, actualPico, requestId).catch((error) =>
        this.options.onError?.(error),
      );
    };
    return {
      ok: true,
      reservation: { amountPico: worstCasePico, settle: finish, release: () => finish(0n) },
    };
  }

  /** What is left of the tightest budget covering the payer (null: none, or Redis unreachable). */
  async headroom(payer: Payer): Promise<bigint | null> {
    let least: bigint | null = null;
    try {
      for (const budget of this.budgets.filter((b) => appliesTo(b, payer))) {
        const { start } = windowAt(budget.window, this.clock());
        const values = await this.redis.hgetall(this.keyOf(budget, start));
        let left = budget.limitPico - BigInt(values.spent ?? '0');
        for (const [field, value] of Object.entries(values))
          if (field.startsWith('r:')) left -= BigInt(value);
        if (least === null || left < least) least = left;
      }
    } catch {
      return null;
    }
    return least;
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
    windows: BudgetWindow[],
    keys: string[],
    reserved: bigint,
    actual: bigint,
    requestId?: string,
  ): Promise<void> {
    // Commands on the one connection run in the order sent: the held amounts and epochs given
    // here are those every later sync will see.
    for (const key of keys) {
      const left = (this.held.get(key) ?? 0n) - reserved;
      if (left > 0n) this.held.set(key, left);
      else this.held.delete(key);
    }
    const spend: UnstoredSpend | undefined =
      requestId && actual > 0n
        ? { amountPico: actual, addedAt: Date.now(), countedIn: new Map(keys.map((key) => [key, SETTLING])) }
        : undefined;
    if (spend && requestId) this.unstored.set(requestId, spend);
    let answer: string[];
    try {
      answer = (await this.call(
        'sluiceBudgetSettle',
        keys.length,
        ...keys,
        (-reserved).toString(),
        actual.toString(),
        this.field,
        ...windows.map((w) => this.ttlOf(w.budget)),
        ...keys.map((key) => this.epochs.get(key) ?? ''),
      )) as string[];
    } catch (error) {
      // Counted at the next heartbeat that reaches Redis (a resync), or should the window be lost.
      for (const key of keys) spend?.countedIn.set(key, UNCOUNTED);
      throw error;
    }
    windows.forEach((w, i) => {
      const epoch = answer[2 * i + 1]!;
      spend?.countedIn.set(keys[i]!, epoch);
      // Settled into a window this instance has not synced with: it syncs now, not at its next request.
      if (epoch !== '' && epoch !== this.epochs.get(keys[i]!))
        void this.resync(keys[i]!, w, epoch).catch((error) => this.options.onError?.(error));
      const state: BudgetState = {
        budget: w.budget,
        windowStart: w.start,
        windowEnd: w.end,
        spentPico: BigInt(answer[2 * i]!),
        reservedPico: 0n,
      };
      this.emit(newlyCrossed(state, this.alertedFor(state), false));
    });
  }

  /**
   * Brings a window in line with Redis: seeds it from the ledger if Redis does not hold it
   * (`observedEpoch` null), then, if its epoch is not the one this instance last synced with,
   * posts this instance's reservations again and counts again the spend it settled under an
   * earlier epoch whose ledger rows were not stored when the window was seeded. One at a time per window.
   */
  private resync(key: string, window: BudgetWindow, observedEpoch: string | null): Promise<void> {
    const running = this.resyncs.get(key);
    if (running) return running;
    const work = (async () => {
      let epoch = observedEpoch;
      if (epoch === null) {
        const seededAt = Date.now();
        const ledger = await spendTotal(this.db, { from: window.start, ...filterFor(window.budget) });
        epoch = (await this.call(
          'sluiceBudgetSeed',
          key,
          ledger.toString(),
          `${seededAt}.${randomBytes(4).toString('hex')}`,
          this.ttlOf(window.budget),
        )) as string;
      }
      if (this.epochs.get(key) === epoch && !this.hasUncounted(key)) return;
      const seededAt = Number(epoch.split('.')[0]) || 0;
      let recount = 0n;
      for (const spend of this.unstored.values()) {
        const countedIn = spend.countedIn.get(key);
        if (countedIn === undefined || countedIn === epoch || countedIn === SETTLING) continue;
        // '' : settled while the window was lost, before the window was seeded, which kept it.
        if (
          countedIn !== '' &&
          (spend.storedAt === undefined || spend.storedAt >= seededAt - STORE_CLOCK_MARGIN_MS)
        )
          recount += spend.amountPico;
        spend.countedIn.set(key, epoch);
      }
      this.epochs.set(key, epoch);
      await this.call(
        'sluiceBudgetSync',
        key,
        epoch,
        this.field,
        (this.held.get(key) ?? 0n).toString(),
        recount.toString(),
      );
    })();
    this.resyncs.set(key, work);
    return work.finally(() => this.resyncs.delete(key));
  }

  /**
   * On every heartbeat: windows where this instance holds reservations or unstored spend are
   * checked for a lost or new epoch, so an instance that is not admitting anything right now
   * still puts its share back within a heartbeat. Forgets spend stored long enough ago.
   */
  private async checkEpochs(): Promise<void> {
    const now = Date.now();
    const watched = new Set(this.held.keys());
    for (const [id, spend] of this.unstored) {
      if (
        (spend.storedAt !== undefined && now - spend.storedAt > STORED_KEPT_MS) ||
        now - spend.addedAt > UNSTORED_KEPT_MS
      ) {
        this.unstored.delete(id);
        continue;
      }
      for (const key of spend.countedIn.keys()) watched.add(key);
    }
    for (const key of this.epochs.keys()) if (!watched.has(key)) this.epochs.delete(key);
    for (const key of this.windowsByKey.keys())
      if (!watched.has(key) && !this.isCurrent(key)) this.windowsByKey.delete(key);
    for (const key of watched) {
      const window = this.windowsByKey.get(key);
      if (!window) continue;
      const epoch = (await this.redis.hget(key, 'epoch')) ?? null;
      // A settlement Redis did not take (it was unreachable) is counted now, in the same epoch.
      if (epoch === null || epoch !== this.epochs.get(key) || this.hasUncounted(key))
        await this.resync(key, window, epoch);
    }
  }

  private hasUncounted(key: string): boolean {
    for (const spend of this.unstored.values()) if (spend.countedIn.get(key) === UNCOUNTED) return true;
    return false;
  }

  private isCurrent(key: string): boolean {
    const window = this.windowsByKey.get(key);
    return window !== undefined && (window.end === null || window.end > this.clock());
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
