/**
 * Admission control: the pipeline's `admit` stage calls this module and nothing else.
 *
 * Contract for the caller (one request):
 *
 *   const estimatedInputTokens = limiter.estimateInputTokens(body, model.tokenizer);
 *   const result = await limiter.admit({ credentialId, pool, speed, tokenizer, keyId, environment,
 *     quotas, priority, estimatedInputTokens, maxTokens, signal });
 *   if (!result.admitted) → answer result.status with {type:'error', error:{type: result.errorType,
 *     message: result.message}} and result.headers (retry-after, anthropic-ratelimit-*).
 *   else, for the upstream call:
 *     - as soon as upstream response headers arrive (any status): result.observeResponse(headers, status)
 *     - when the usage is known (end of the JSON body or of the SSE stream): result.settle(usage)
 *     - when upstream charged nothing (connection failed, nothing sent): result.release()
 *     - upstream answered an error without usage: settle() with zero usage (the request counted).
 *   Exactly one of settle/release; later calls are ignored. Each never throws, and returns a
 *   promise (that never rejects) only when the store answers later; with the in-memory store
 *   they are done when they return.
 *
 * `admit` never rejects either: a client abort while waiting resolves a refusal with reason
 * 'client_aborted' (status 499, nobody to answer), a fail-closed store outage one with 503
 * overloaded_error. Estimated and reserved amounts are settled against the actual usage, which
 * also calibrates the estimator.
 *
 * Buckets are kept per (credential, catalog pool, speed): fast mode has its own limits upstream.
 * A set whose limits were not configured in full admits one request first and opens when that
 * request's response headers arrive (they carry the real limits), never waiting for its end.
 */
import type { Registry } from 'prom-client';
import { type Catalog, defaultCatalog } from '../catalog/catalog.js';
import type { AbortSignalLike } from '../pipeline/signal.js';
import type { MessagesRequestBody, Priority, Quotas, Usage } from '../pipeline/types.js';
import {
  type QuotaCharge,
  quotaCharges,
  quotaState,
  totalInputTokens,
  type UpstreamRefs,
  upstreamCharge,
  upstreamInputTokens,
  upstreamRefs,
  withAmount,
} from './charges.js';
import { type Clock, systemClock } from './clock.js';
import { checkLimitsConfig, initialUpstreamLimits, type LimitsConfig, limitsConfigSchema } from './config.js';
import { InputTokenEstimator } from './estimate.js';
import {
  type HeaderSource,
  type LimitReading,
  parseRateLimitHeaders,
  quotaHeaders,
  type Speed,
} from './headers.js';
import { defaultLimitsLogger, type LimitsLogger } from './logger.js';
import { MemoryBucketStore } from './memory-store.js';
import { type Headroom, LimitsMetrics } from './metrics.js';
import { PriorityQueue } from './queue.js';
import {
  type BucketCharge,
  type BucketRef,
  type BucketStore,
  type BucketView,
  LimitsUnavailableError,
  type TakeResult,
} from './store.js';

const NO_QUOTA: QuotaCharge[] = [];

interface AdmissionPort {
  refund(refunds: BucketCharge[]): Promise<void> | void;
  afterRefund(set: BucketSet, probe: boolean, answered: boolean): void;
  /** The probe's response headers have been learned from: the set opens. */
  probeAnswered(set: BucketSet): void;
  learn(set: BucketSet, headers: HeaderSource, status: number, admittedAt: number): Promise<void> | undefined;
  observeEstimate(tokenizer: string, estimated: number, actual: number): void;
  warn(what: string, error: unknown): void;
}

/** An admitted request's reservation: one object per request, its behaviour shared. */
class HeldAdmission implements Admission {
  readonly admitted = true;
  readonly reserved: { inputTokens: number; outputTokens: number };
  private done = false;

  constructor(
    private readonly port: AdmissionPort,
    private readonly set: BucketSet,
    private readonly input: AdmitInput,
    private readonly charges: BucketCharge[],
    readonly waitedMs: number,
    private readonly admittedAt: number,
    /** The first request of an unlearned set: the set stays closed until it is answered. */
    private probe: boolean,
  ) {
    this.reserved = { inputTokens: charges[1]!.amount, outputTokens: charges[2]!.amount };
  }

  observeResponse(headers: HeaderSource, status: number): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    try {
      pending = this.port
        .learn(this.set, headers, status, this.admittedAt)
        ?.catch((error) => this.port.warn('could not learn from rate-limit headers', error));
    } catch (error) {
      this.port.warn('could not learn from rate-limit headers', error);
    }
    if (!this.probe) return pending;
    // Headers come with the first byte: the set opens now, whatever the request's length.
    this.probe = false;
    if (pending) return pending.then(() => this.port.probeAnswered(this.set));
    this.port.probeAnswered(this.set);
  }

  settle(usage: Usage): Promise<void> | undefined {
    if (this.done) return;
    const [, itpm, otpm] = this.charges as [BucketCharge, BucketCharge, BucketCharge];
    const total = totalInputTokens(usage);
    this.port.observeEstimate(this.input.tokenizer, itpm.amount, total);
    const refunds = [
      withAmount(itpm, itpm.amount - upstreamInputTokens(usage)),
      withAmount(otpm, otpm.amount - usage.output_tokens),
    ];
    const used = total + usage.output_tokens;
    for (let i = 3; i < this.charges.length; i++) {
      const c = this.charges[i] as QuotaCharge;
      if (c.quota !== 'rpm') refunds.push(withAmount(c, c.amount - used));
    }
    return this.finish(refunds, true);
  }

  release(): Promise<void> | undefined {
    return this.finish(this.charges, false);
  }

  private finish(refunds: BucketCharge[], answered: boolean): Promise<void> | undefined {
    if (this.done) return;
    this.done = true;
    // A probe that ends without its headers having been observed still ends the wait.
    const probe = this.probe;
    this.probe = false;
    let pending: Promise<void> | undefined;
    try {
      pending = this.port.refund(refunds) ?? undefined;
    } catch (error) {
      this.port.warn('could not settle rate-limit reservation', error);
    }
    if (pending)
      return pending
        .catch((error) => this.port.warn('could not settle rate-limit reservation', error))
        .then(() => this.port.afterRefund(this.set, probe, answered));
    this.port.afterRefund(this.set, probe, answered);
  }
}

export interface AdmitInput {
  /** Upstream credential (organization key) the request will be sent with. */
  credentialId: string;
  /** The model's catalog rate-limit pool. */
  pool: string;
  /** `fast` for a fast-mode request (admitted against the pool's fast-mode buckets); default standard. */
  speed?: Speed;
  /** Tokenizer family of the model (catalog `tokenizer`), for estimator calibration. */
  tokenizer: string;
  keyId: string;
  environment: string;
  quotas?: Quotas;
  /** The environment's quotas; default: `limits.environments[environment]` from the configuration. */
  environmentQuotas?: Quotas;
  priority: Priority;
  estimatedInputTokens: number;
  /** The request's `max_tokens`: reserved from the output bucket until settled. */
  maxTokens: number;
  /** Longest wait in the queue for this request; default: the configured value for its priority. */
  maxWaitMs?: number;
  signal?: AbortSignalLike;
}

export type RefusalReason =
  | 'key_quota'
  | 'environment_quota'
  | 'wait_too_long'
  | 'queue_timeout'
  | 'queue_full'
  | 'limits_unavailable'
  | 'client_aborted';

export interface Refusal {
  admitted: false;
  reason: RefusalReason;
  status: 429 | 499 | 503;
  errorType: 'rate_limit_error' | 'overloaded_error';
  message: string;
  retryAfterSeconds?: number;
  /** retry-after, retry-after-ms and, for quotas, anthropic-ratelimit-* describing the key's quota. */
  headers: Record<string, string>;
}

export interface Admission {
  admitted: true;
  /** Time spent in the queue. */
  waitedMs: number;
  reserved: { inputTokens: number; outputTokens: number };
  observeResponse(headers: HeaderSource, status: number): Promise<void> | undefined;
  settle(usage: Usage): Promise<void> | undefined;
  release(): Promise<void> | undefined;
}

export interface LimiterOptions {
  /** The `limits:` configuration (parsed by limitsConfigSchema); defaults apply to missing fields. */
  config?: Partial<LimitsConfig>;
  store?: BucketStore;
  catalog?: Catalog;
  clock?: Clock;
  /** Metrics are registered here (a private registry when absent; never the global one). */
  registry?: Registry;
  logger?: LimitsLogger;
  estimator?: InputTokenEstimator;
  /**
   * Token `remaining` headers are rounded to the nearest thousand: the level is corrected to
   * `remaining - slack` so rounding up never lets us overshoot.
   */
  remainingSlack?: number;
  /**
   * Until a (credential, pool, speed) whose limits are not configured in full has answered once,
   * admit one request and hold the rest until its response headers arrive, so that the real
   * limits, not a tier guess, size the first burst.
   */
  probeUnlearned?: boolean;
}

interface Waiter {
  priority: Priority;
  seq: number;
  input: AdmitInput;
  charges: BucketCharge[];
  quota: QuotaCharge[];
  enqueuedAt: number;
  finish(result: Admission | Refusal): void;
}

/**
 * Whether a set still needs its first answer: `needed` (the next admission is the probe),
 * `in-flight` (the probe is out: others wait for its headers), `done`.
 */
type ProbeState = 'needed' | 'in-flight' | 'done';

/** One (credential, pool, speed): its buckets and its own queue, so pools never block each other. */
interface BucketSet {
  credentialId: string;
  pool: string;
  speed: Speed;
  refs: UpstreamRefs;
  queue: PriorityQueue<Waiter>;
  timer?: NodeJS.Timeout;
  pumping: boolean;
  pumpAgain: boolean;
  /** Upstream headers have set its limits at least once. */
  learned: boolean;
  probe: ProbeState;
}

export interface BucketSetSnapshot {
  credentialId: string;
  pool: string;
  speed: Speed;
  learned: boolean;
  probe: ProbeState;
  queue: { depth: number; interactive: number; batch: number; oldestWaitMs: number };
  buckets: { rpm: BucketView; itpm: BucketView; otpm: BucketView };
}

export interface LimitsSnapshot {
  store: { backend: string; degraded: boolean };
  estimator: Record<string, number>;
  sets: BucketSetSnapshot[];
}

export class Limiter {
  readonly config: LimitsConfig;
  readonly metrics: LimitsMetrics;
  readonly estimator: InputTokenEstimator;
  private readonly store: BucketStore;
  private readonly catalog: Catalog;
  private readonly clock: Clock;
  private readonly logger: LimitsLogger;
  private readonly remainingSlack: number;
  private readonly probeUnlearned: boolean;
  private readonly sets = new Map<string, BucketSet>();
  private readonly setsBySpeed: Record<Speed, Map<string, Map<string, BucketSet>>> = {
    standard: new Map(),
    fast: new Map(),
  };
  private readonly environmentQuotas: Map<string, Quotas>;
  private seq = 0;

  constructor(options: LimiterOptions = {}) {
    this.config = limitsConfigSchema.parse(options.config ?? {});
    this.environmentQuotas = new Map(Object.entries(this.config.environments));
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemoryBucketStore(this.clock);
    this.catalog = options.catalog ?? defaultCatalog();
    checkLimitsConfig(this.config, this.catalog);
    this.logger = options.logger ?? defaultLimitsLogger();
    this.remainingSlack = options.remainingSlack ?? 500;
    this.probeUnlearned = options.probeUnlearned ?? true;
    this.metrics = new LimitsMetrics(
      options.registry,
      () => this.storeDegraded(),
      () => this.headroom(),
    );
    this.estimator =
      options.estimator ?? new InputTokenEstimator({ errorHistogram: this.metrics.estimateRatio });
  }

  /** Input tokens of a request body, calibrated by what upstream reported for earlier requests. */
  estimateInputTokens(body: MessagesRequestBody, tokenizer: string): number {
    return this.estimator.estimate(body, tokenizer);
  }

  /**
   * Admits, queues or refuses a request. With a store held in this process and nobody queued,
   * the answer is immediate (no promise): the usual case costs the request path no await.
   */
  admit(input: AdmitInput): Admission | Refusal | Promise<Admission | Refusal> {
    if (input.signal?.aborted) return this.refuse(input, 'client_aborted', 0);
    const set = this.setFor(input.credentialId, input.pool, input.speed ?? 'standard');
    const { charges, quota } = this.chargesFor(input, set);
    const open = set.queue.length === 0 && set.probe !== 'in-flight';
    if (open && this.store.tryTakeNow) {
      let taken: TakeResult;
      try {
        taken = this.store.tryTakeNow(charges);
      } catch (error) {
        return this.unavailable(input, error);
      }
      if (taken.ok) return this.admitted(set, input, charges, 0);
      return this.wait(set, input, charges, quota, taken);
    }
    return this.admitLater(set, input, charges, quota, open);
  }

  /** Admission through a store that answers later: a take when nobody queues, else wait in turn. */
  private async admitLater(
    set: BucketSet,
    input: AdmitInput,
    charges: BucketCharge[],
    quota: QuotaCharge[],
    open: boolean,
  ): Promise<Admission | Refusal> {
    let taken: TakeResult | undefined;
    try {
      taken = open ? await this.store.tryTake(charges) : undefined;
    } catch (error) {
      return this.unavailable(input, error);
    }
    if (taken?.ok) return this.admitted(set, input, charges, 0);
    return this.wait(set, input, charges, quota, taken);
  }

  /**
   * A request that cannot go now: refused at once when its own quota is what is short, queued
   * otherwise. `taken` is the refused take, or undefined when none was tried (someone queues).
   */
  private async wait(
    set: BucketSet,
    input: AdmitInput,
    charges: BucketCharge[],
    quota: QuotaCharge[],
    taken: TakeResult | undefined,
  ): Promise<Admission | Refusal> {
    try {
      if (quota.length > 0) {
        const waits = taken ? taken.waits.slice(3) : await this.store.timeUntilAvailable(quota);
        const quotaWait = maxWait(quota, waits);
        if (quotaWait > 0) return await this.quotaRefusal(input, quota, waits, quotaWait);
      }
      return await this.enqueue(set, input, charges, quota);
    } catch (error) {
      return this.unavailable(input, error);
    }
  }

  /** Queues, buckets and learned limits, for the admin API. */
  async snapshot(): Promise<LimitsSnapshot> {
    const now = this.clock();
    const sets: BucketSetSnapshot[] = [];
    for (const set of this.sets.values()) {
      const [rpm, itpm, otpm] = await this.store.inspect([set.refs.rpm, set.refs.itpm, set.refs.otpm]);
      const oldest = set.queue.all().reduce((min, w) => Math.min(min, w.enqueuedAt), now);
      sets.push({
        credentialId: set.credentialId,
        pool: set.pool,
        speed: set.speed,
        learned: set.learned,
        probe: set.probe,
        queue: {
          depth: set.queue.length,
          interactive: set.queue.count('interactive'),
          batch: set.queue.count('batch'),
          oldestWaitMs: now - oldest,
        },
        buckets: { rpm: rpm!, itpm: itpm!, otpm: otpm! },
      });
    }
    return {
      store: { backend: this.store.backend, degraded: this.storeDegraded() },
      estimator: this.estimator.learnedFactors(),
      sets,
    };
  }

  /**
   * Takes a Message Batch from the key's and the environment's quotas, without the upstream's
   * buckets (batches have their own limits upstream): every request of the batch counts against
   * `rpm`, and their tokens (estimated input plus `max_tokens`) against `tpm` and `tpd`, as they
   * would sent one by one. A batch larger than a quota itself is refused outright.
   */
  async takeQuotas(input: {
    keyId: string;
    environment: string;
    quotas?: Quotas;
    requests: number;
    tokens: number;
  }): Promise<Refusal | undefined> {
    const environmentQuotas = this.environmentQuotas.get(input.environment);
    const quota = [
      ...quotaCharges('key', input.keyId, input.quotas, input.tokens, this.config.windowMs),
      ...quotaCharges(
        'environment',
        input.environment,
        environmentQuotas,
        input.tokens,
        this.config.windowMs,
      ),
    ].map((charge) => (charge.quota === 'rpm' ? { ...charge, amount: input.requests } : charge));
    if (quota.length === 0) return undefined;
    const over = quota.find((charge) => charge.amount > charge.limit);
    if (over) {
      this.metrics.refusals.inc({ reason: `${over.scope === 'key' ? 'key' : 'environment'}_quota` });
      const owner = over.scope === 'key' ? 'this key' : `environment "${input.environment}"`;
      return {
        admitted: false,
        reason: over.scope === 'key' ? 'key_quota' : 'environment_quota',
        status: 429,
        errorType: 'rate_limit_error',
        message: `This batch needs ${over.amount} of the ${over.quota} quota of ${owner}, which allows ${over.limit}: split it into smaller batches.`,
        headers: { 'x-should-retry': 'false' },
      };
    }
    const taken = await this.store.tryTake(quota);
    if (taken.ok) return undefined;
    const admitInput = { keyId: input.keyId, environment: input.environment } as AdmitInput;
    return this.quotaRefusal(admitInput, quota, taken.waits, maxWait(quota, taken.waits));
  }

  /** Each known bucket's free share, for the headroom gauge (only sets whose limits are known). */
  private async headroom(): Promise<Headroom[]> {
    const snapshot = await this.snapshot();
    const out: Headroom[] = [];
    for (const set of snapshot.sets) {
      const kinds = [
        ['requests', set.buckets.rpm],
        ['input_tokens', set.buckets.itpm],
        ['output_tokens', set.buckets.otpm],
      ] as const;
      for (const [limit, view] of kinds) {
        if (!(view.limit > 0) || !Number.isFinite(view.limit)) continue;
        const ratio = Math.min(1, Math.max(0, view.remaining / view.limit));
        out.push({ credential: set.credentialId, pool: set.pool, speed: set.speed, limit, ratio });
      }
    }
    return out;
  }

  /** Refuses everything still waiting and stops the timers; the store is closed by its owner. */
  close(): void {
    for (const set of this.sets.values()) {
      if (set.timer) clearTimeout(set.timer);
      for (const waiter of [...set.queue.all()]) {
        set.queue.remove(waiter);
        waiter.finish(this.refuse(waiter.input, 'limits_unavailable', 1000));
      }
    }
  }

  private storeDegraded(): boolean {
    const store = this.store as BucketStore & { isDegraded?: () => boolean };
    return store.isDegraded?.() ?? false;
  }

  private setFor(credentialId: string, pool: string, speed: Speed): BucketSet {
    // Looked up by the names as they are, without building a key string per request.
    const bySpeed = this.setsBySpeed[speed];
    let byPool = bySpeed.get(credentialId);
    if (!byPool) {
      byPool = new Map();
      bySpeed.set(credentialId, byPool);
    }
    const found = byPool.get(pool);
    if (found) return found;
    const id = `${credentialId}\u0000${pool}\u0000${speed}`;
    let set = this.sets.get(id);
    if (!set) {
      const initial = initialUpstreamLimits(this.config, this.catalog, credentialId, pool, speed);
      set = {
        credentialId,
        pool,
        speed,
        refs: upstreamRefs(credentialId, pool, speed, initial.limits, this.config.windowMs),
        queue: new PriorityQueue<Waiter>(),
        pumping: false,
        pumpAgain: false,
        learned: false,
        // Configured limits are the operator's word: used at once, corrected by headers later.
        probe: this.probeUnlearned && !initial.explicit ? 'needed' : 'done',
      };
      this.sets.set(id, set);
    }
    byPool.set(pool, set);
    return set;
  }

  private chargesFor(input: AdmitInput, set: BucketSet): { charges: BucketCharge[]; quota: QuotaCharge[] } {
    const inputTokens = Math.max(0, Math.ceil(input.estimatedInputTokens));
    const outputTokens = Math.max(0, Math.ceil(input.maxTokens));
    const tokens = inputTokens + outputTokens;
    const environmentQuotas = input.environmentQuotas ?? this.environmentQuotas.get(input.environment);
    const charges: BucketCharge[] = [
      upstreamCharge(set.refs.rpm, 1),
      upstreamCharge(set.refs.itpm, inputTokens),
      upstreamCharge(set.refs.otpm, outputTokens),
    ];
    // Most keys have no quotas of their own: no quota charges to build then.
    if (!input.quotas && !environmentQuotas) return { charges, quota: NO_QUOTA };
    const quota = [
      ...quotaCharges('key', input.keyId, input.quotas, tokens, this.config.windowMs),
      ...quotaCharges('environment', input.environment, environmentQuotas, tokens, this.config.windowMs),
    ];
    charges.push(...quota);
    return { charges, quota };
  }

  private maxWaitFor(input: AdmitInput): number {
    return input.maxWaitMs ?? this.config.maxWaitMs[input.priority];
  }

  /**
   * How long a request would wait behind `ahead` if nothing reserved were given back: each
   * upstream bucket must refill what the earlier waiters take plus this request's own need.
   */
  private async predictWait(ahead: Waiter[], own: BucketCharge[]): Promise<number> {
    const upstream = own.slice(0, 3);
    const views = await this.store.inspect(upstream);
    const now = this.clock();
    return upstream.reduce((max, charge, i) => {
      const view = views[i]!;
      const need = ahead.reduce((sum, w) => sum + w.charges[i]!.amount, Math.min(charge.amount, view.limit));
      const refillMs = ((need - view.remaining) * charge.windowMs) / view.limit;
      return Math.max(max, refillMs, view.pausedUntil - now);
    }, 0);
  }

  private async enqueue(
    set: BucketSet,
    input: AdmitInput,
    charges: BucketCharge[],
    quota: QuotaCharge[],
  ): Promise<Admission | Refusal> {
    const predicted = await this.predictWait(set.queue.ahead(input.priority), charges);
    if (set.queue.length >= this.config.maxQueueLength) return this.refuse(input, 'queue_full', predicted);
    if (predicted > this.maxWaitFor(input)) return this.refuse(input, 'wait_too_long', predicted);

    return new Promise((resolve) => {
      const waiter: Waiter = {
        priority: input.priority,
        seq: ++this.seq,
        input,
        charges,
        quota,
        enqueuedAt: this.clock(),
        finish: (result) => {
          clearTimeout(deadline);
          input.signal?.removeEventListener('abort', onAbort);
          this.updateDepth(set);
          const outcome = result.admitted
            ? 'admitted'
            : result.reason === 'client_aborted'
              ? 'aborted'
              : 'refused';
          this.metrics.queueWait.observe(
            { pool: set.pool, speed: set.speed, priority: input.priority, outcome },
            (this.clock() - waiter.enqueuedAt) / 1000,
          );
          resolve(result);
        },
      };
      const leave = async (reason: RefusalReason) => {
        if (!set.queue.remove(waiter)) return;
        let retryMs = 0;
        if (reason === 'queue_timeout') {
          retryMs = await this.predictWait(set.queue.ahead(input.priority), charges).catch(() => 1000);
        }
        waiter.finish(this.refuse(input, reason, retryMs));
        void this.pump(set);
      };
      const onAbort = () => void leave('client_aborted');
      const deadline = setTimeout(() => void leave('queue_timeout'), this.maxWaitFor(input));
      deadline.unref();
      input.signal?.addEventListener('abort', onAbort, { once: true });
      set.queue.insert(waiter);
      this.updateDepth(set);
      void this.pump(set);
    });
  }

  private updateDepth(set: BucketSet): void {
    this.metrics.queueDepth.set(
      { credential: set.credentialId, pool: set.pool, speed: set.speed },
      set.queue.length,
    );
  }

  /**
   * Admits waiters from the head while they fit; otherwise sleeps until the head's buckets have
   * refilled enough (one timer, no polling). Capacity given back wakes it early.
   */
  private async pump(set: BucketSet): Promise<void> {
    if (set.pumping) {
      set.pumpAgain = true;
      return;
    }
    set.pumping = true;
    try {
      do {
        set.pumpAgain = false;
        if (set.timer) clearTimeout(set.timer);
        set.timer = undefined;
        await this.admitFromHead(set);
      } while (set.pumpAgain);
    } finally {
      set.pumping = false;
    }
  }

  private async admitFromHead(set: BucketSet): Promise<void> {
    for (let head = set.queue.peek(); head && set.probe !== 'in-flight'; head = set.queue.peek()) {
      let taken: Awaited<ReturnType<BucketStore['tryTake']>>;
      try {
        taken = await this.store.tryTake(head.charges);
      } catch (error) {
        for (const waiter of [...set.queue.all()]) {
          set.queue.remove(waiter);
          waiter.finish(this.unavailable(waiter.input, error));
        }
        return;
      }
      if (!set.queue.remove(head)) {
        // Aborted or timed out while the take was in flight.
        if (taken.ok) await Promise.resolve(this.store.refund(head.charges)).catch(() => undefined);
        continue;
      }
      if (taken.ok) {
        head.finish(this.admitted(set, head.input, head.charges, this.clock() - head.enqueuedAt));
        continue;
      }
      const quotaWaits = taken.waits.slice(3);
      const quotaWait = maxWait(head.quota, quotaWaits);
      if (quotaWait > 0) {
        head.finish(
          await this.quotaRefusal(head.input, head.quota, quotaWaits, quotaWait).catch((e) =>
            this.unavailable(head.input, e),
          ),
        );
        continue;
      }
      set.queue.insert(head);
      const wait = Math.max(...taken.waits.slice(0, 3));
      set.timer = setTimeout(() => void this.pump(set), Math.ceil(wait) + 1);
      set.timer.unref();
      return;
    }
  }

  private admitted(set: BucketSet, input: AdmitInput, charges: BucketCharge[], waitedMs: number): Admission {
    const probe = set.probe === 'needed';
    if (probe) set.probe = 'in-flight';
    return new HeldAdmission(this.admissionPort, set, input, charges, waitedMs, this.clock(), probe);
  }

  /** What an admission needs of its limiter, once for all of them. */
  private readonly admissionPort: AdmissionPort = {
    refund: (refunds) => this.store.refund(refunds),
    afterRefund: (set, probe, answered) => {
      // A probe that never reached the upstream taught nothing: the next admission probes again.
      if (probe) set.probe = answered ? 'done' : 'needed';
      // Capacity came back: someone may be waiting for it.
      if (set.queue.length > 0) void this.pump(set);
    },
    probeAnswered: (set) => {
      set.probe = 'done';
      if (set.queue.length > 0) void this.pump(set);
    },
    learn: (set, headers, status, admittedAt) => this.learn(set, headers, status, admittedAt),
    observeEstimate: (tokenizer, estimated, actual) => this.estimator.observe(tokenizer, estimated, actual),
    warn: (what, error) => this.logger.warn({ error: String(error) }, what),
  };

  /**
   * Corrects the upstream buckets from a response's headers; a 429 pauses them until retry-after.
   * Returns a promise only when the store answers later.
   */
  private learn(
    set: BucketSet,
    headers: HeaderSource,
    status: number,
    admittedAt: number,
  ): Promise<void> | undefined {
    const now = this.clock();
    // A fast-mode response reports its own buckets (`anthropic-fast-*`); the standard headers
    // on it describe buckets this request did not draw from.
    const reading = parseRateLimitHeaders(headers, now, set.speed);
    let heard = false;
    const pending: Array<Promise<void>> = [];
    const correct = (ref: BucketRef, limit: LimitReading, slack: number) => {
      if (limit.limit === undefined && limit.remaining === undefined) return;
      heard = true;
      const update = this.store.correct(ref, {
        limit: limit.limit,
        remaining:
          limit.remaining === undefined
            ? undefined
            : Math.max(0, limit.remaining - roundingSlack(limit.remaining, slack)),
        observedAt: observedAt(limit, ref, admittedAt, now),
      });
      if (update) pending.push(update);
    };
    correct(set.refs.rpm, reading.requests, 0);
    correct(set.refs.itpm, reading.inputTokens, this.remainingSlack);
    correct(set.refs.otpm, reading.outputTokens, this.remainingSlack);
    if (status === 429) {
      this.metrics.upstreamRateLimited.inc({
        credential: set.credentialId,
        pool: set.pool,
        speed: set.speed,
      });
      // No retry-after on a 429 means a spend cap, which waiting does not cure: nothing to pause.
      if (reading.retryAfterMs !== undefined) {
        const paused = this.store.pause(
          [set.refs.rpm, set.refs.itpm, set.refs.otpm],
          now + reading.retryAfterMs,
        );
        if (paused) pending.push(paused);
      }
    }
    const learned = () => {
      if (heard) set.learned = true;
    };
    if (pending.length > 0) return Promise.all(pending).then(learned);
    learned();
  }

  private async quotaRefusal(
    input: AdmitInput,
    quota: QuotaCharge[],
    waits: number[],
    waitMs: number,
  ): Promise<Refusal> {
    const blocking = quota.filter((_, i) => waits[i]! > 0);
    const scope = blocking.some((c) => c.scope === 'key') ? 'key' : 'environment';
    const described = quota.filter((c) => c.scope === scope);
    const views = await this.store.inspect(described);
    const headers = quotaHeaders(
      described.map((c, i) => quotaState(c, views[i]!)),
      waitMs,
    );
    const which = blocking
      .filter((c) => c.scope === scope)
      .map((c) => c.quota)
      .join(', ');
    const owner = scope === 'key' ? 'this key' : `environment "${input.environment}"`;
    this.metrics.refusals.inc({ reason: `${scope === 'key' ? 'key' : 'environment'}_quota` });
    return {
      admitted: false,
      reason: scope === 'key' ? 'key_quota' : 'environment_quota',
      status: 429,
      errorType: 'rate_limit_error',
      message: `Rate limit of ${owner} exceeded (${which}); retry after ${headers['retry-after']} s.`,
      retryAfterSeconds: Number(headers['retry-after']),
      headers,
    };
  }

  private refuse(input: AdmitInput, reason: RefusalReason, retryAfterMs: number): Refusal {
    this.metrics.refusals.inc({ reason });
    if (reason === 'client_aborted') {
      return {
        admitted: false,
        reason,
        status: 499,
        errorType: 'rate_limit_error',
        message: 'Client closed the request while it waited.',
        headers: {},
      };
    }
    const headers = quotaHeaders([], retryAfterMs);
    const retryAfterSeconds = Number(headers['retry-after']);
    if (reason === 'limits_unavailable') {
      return {
        admitted: false,
        reason,
        status: 503,
        errorType: 'overloaded_error',
        message: 'Rate-limit state is unavailable; try again shortly.',
        retryAfterSeconds,
        headers,
      };
    }
    const pool = `${input.pool} pool${input.speed === 'fast' ? ' (fast mode)' : ''}`;
    const messages: Record<string, string> = {
      wait_too_long: `Upstream rate limit of the ${pool} is saturated; capacity expected in ${retryAfterSeconds} s, longer than this request may wait.`,
      queue_timeout: `Waited the longest allowed for capacity in the ${pool}; retry after ${retryAfterSeconds} s.`,
      queue_full: `Too many requests are waiting for capacity in the ${pool}; retry after ${retryAfterSeconds} s.`,
    };
    return {
      admitted: false,
      reason,
      status: 429,
      errorType: 'rate_limit_error',
      message: messages[reason]!,
      retryAfterSeconds,
      headers,
    };
  }

  private unavailable(input: AdmitInput, error: unknown): Refusal {
    if (!(error instanceof LimitsUnavailableError)) {
      this.logger.warn({ error: String(error) }, 'rate-limit store error');
    }
    return this.refuse(input, 'limits_unavailable', 1000);
  }
}

/**
 * When the upstream's `remaining` was true. The request was counted upstream some time between
 * its admission here and its answer; taking the admission time would credit the refill of that
 * delay twice over a burst and send a request before the upstream has its token. The reset time
 * dates the figure: the bucket is full `(limit - remaining)` of refill after it was read. Reset is
 * rounded up to the second, which errs late, and the result is kept within admission..answer (a
 * simulator on its own clock may report times that are not ours).
 */
function observedAt(reading: LimitReading, ref: BucketRef, admittedAt: number, now: number): number {
  if (reading.resetAt === undefined || reading.remaining === undefined) return admittedAt;
  const limit = reading.limit ?? ref.limit;
  if (!(limit > 0)) return admittedAt;
  const read = reading.resetAt - ((limit - Math.min(limit, reading.remaining)) * ref.windowMs) / limit;
  return Math.min(now, Math.max(admittedAt, read));
}

/** Only a round thousand can have been rounded; an exact figure needs no slack. */
function roundingSlack(remaining: number, slack: number): number {
  return remaining % 1000 === 0 ? slack : 0;
}

function maxWait(charges: BucketCharge[], waits: number[]): number {
  return charges.reduce((max, _, i) => Math.max(max, waits[i] ?? 0), 0);
}
