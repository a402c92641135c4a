import { Counter, Gauge, type Registry } from 'prom-client';
import { batchStates } from '../batches/report.js';
import type { Catalog } from '../catalog/catalog.js';
import { requestedCacheWrite, worstCaseCost } from '../catalog/cost.js';
import { inputTokenBound } from '../limits/estimate.js';
import type { Reserve } from '../pipeline/admit.js';
import type { Call, Hold } from '../pipeline/types.js';
import type { AdminRoute } from '../server/admin.js';
import { type ChangeFeed, coalesce } from '../store/changes.js';
import { moneyAdmin } from './admin.js';
import { Alerter, type AlertLogger } from './alerts.js';
import { applyBudgetsConfig, parseBudgetsConfig, webhookUrlOf } from './budget-config.js';
import {
  type Admission,
  BudgetEnforcer,
  type BudgetState,
  type Clock,
  type Payer,
  type Reservation,
} from './budget-enforcer.js';
import { parseLedgerConfig } from './config.js';
import { upstreamTokenCounter } from './count-tokens.js';
import { entryFromCall } from './entry.js';
import { pruneLedger } from './rollup.js';
import { LedgerSpool } from './spool.js';
import type { AnyDb } from './tables.js';
import { LedgerWriter, type LedgerWriterOptions } from './writer.js';

export interface MoneyPluginOptions {
  db: AnyDb;
  catalog: Catalog;
  /** sluice.yaml's `budgets:` and `ledger:` sections, unparsed. */
  budgets?: unknown;
  ledger?: unknown;
  logger: AlertLogger;
  /** For routing savings and the tier report. */
  criticalModel?: string;
  tier?: string;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Budget changes made anywhere (CLI, admin API, other instances); each reloads the budgets. */
  changes?: ChangeFeed;
  /** How often budgets are reloaded in full anyway: the safety net should the feed stall. */
  refreshMs?: number;
  /** The store's bulk insert, for ledger rows. */
  insertRows?: LedgerWriterOptions['insertRows'];
  /**
   * At most how many input tokens a request can be billed, before it is sent: the input part of
   * the worst case a budget reserves. Default: its UTF-8 bytes plus framing (`inputTokenBound`).
   */
  inputTokenBound?: (call: Call) => number;
  /** Where `budgets.countTokens` asks count_tokens: the upstream and its key per environment. */
  upstream?: { url: string; upstreamKey: (environment: string | undefined) => string | undefined };
  /** Where the ledger's spool counters are registered. */
  registry?: Registry;
  /**
   * In-memory budget counters held by another process (the primary of `sluice serve --workers`),
   * used instead of this process's own when budgets are not kept in Redis.
   */
  memoryBudgets?: BudgetGate;
}

/** The gateway's money parts: the budget reservation, the ledger recorder, admin routes, a graceful close. */
export interface MoneyPlugin {
  reserve: Reserve;
  record: (call: Call) => void;
  adminRoutes: AdminRoute[];
  writer: LedgerWriter;
  enforcer: BudgetGate;
  alerter: Alerter;
  /** Writes every buffered row and waits for alerts in flight; call after in-flight requests ended. */
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** Budget counters in memory (`BudgetEnforcer`) or shared through Redis (`RedisBudgetEnforcer`). */
export interface BudgetGate {
  load(): Promise<void>;
  hasBudgetFor(payer: Payer): boolean;
  reserve(payer: Payer, worstCasePico: bigint): Admission | Promise<Admission>;
  status(): BudgetState[] | Promise<BudgetState[]>;
  startRefresh(intervalMs?: number, onError?: (error: unknown) => void): () => void;
  /** Counts the cost of a request admitted before a budget covering it existed. */
  charge(payer: Payer, actualPico: bigint, requestId?: string): void;
  /** What is left of the tightest budget covering the payer (null: none, or unknown). */
  headroom(payer: Payer): bigint | null | Promise<bigint | null>;
  /** These requests' ledger rows are stored (counters in Redis need not keep their spend aside). */
  rowsStored?(requestIds: Iterable<string>): void;
  /** Reserves, without refusing, for a request under way when a budget covering it appeared. */
  adopt(payer: Payer, worstCasePico: bigint): Reservation;
}

export async function createMoneyPlugin(options: MoneyPluginOptions): Promise<MoneyPlugin> {
  const budgetsConfig = parseBudgetsConfig(options.budgets);
  const ledgerConfig = parseLedgerConfig(options.ledger);
  const clock = options.clock ?? Date.now;
  const { db, catalog, logger } = options;

  const applied = await applyBudgetsConfig(db, budgetsConfig);
  for (const warning of applied.warnings) logger.warn({}, warning);

  const alerter = new Alerter({
    db,
    webhookUrl: webhookUrlOf(budgetsConfig, options.env),
    webhook: { attempts: budgetsConfig.webhook.attempts },
    logger,
    clock,
    anomaly: budgetsConfig.anomaly,
  });
  const storeConfig = budgetsConfig.store;
  if (storeConfig.backend === 'redis' && !storeConfig.url)
    throw new Error('budgets.store.url is required for the redis backend');
  // ioredis is loaded only when the counters are kept in Redis.
  const redisEnforcer =
    storeConfig.backend === 'redis'
      ? new (await import('./redis-budgets.js')).RedisBudgetEnforcer(db, {
          url: storeConfig.url!,
          prefix: storeConfig.prefix,
          failOpen: storeConfig.failOpen,
          clock,
          onThreshold: alerter.budgetThreshold,
          onError: (error) => logger.error({ err: error }, 'budget counters in Redis unavailable'),
        })
      : undefined;
  const enforcer: BudgetGate =
    redisEnforcer ??
    options.memoryBudgets ??
    new BudgetEnforcer(db, { clock, onThreshold: alerter.budgetThreshold });
  await enforcer.load();
  const spooled = new Counter({
    name: 'sluice_ledger_spooled_rows_total',
    help: 'Ledger rows written to the local spool while the store was unavailable',
    registers: options.registry ? [options.registry] : [],
  });
  const replayed = new Counter({
    name: 'sluice_ledger_replayed_rows_total',
    help: 'Ledger rows replayed from the local spool into the store',
    registers: options.registry ? [options.registry] : [],
  });
  const spool = new LedgerSpool(ledgerConfig.spoolDir);
  const writer = new LedgerWriter(db, {
    spool,
    onSpooled: (rows) => {
      spooled.inc(rows);
      logger.warn({ rows, spoolDir: spool.dir }, 'ledger store unavailable; rows spooled to disk');
    },
    onReplayed: (rows) => {
      replayed.inc(rows);
      logger.warn({ rows, spoolDir: spool.dir }, 'ledger rows replayed from the spool');
    },
    insertRows: options.insertRows,
    onStored: (requestIds) => enforcer.rowsStored?.(requestIds),
    batchSize: ledgerConfig.batchSize,
    intervalMs: ledgerConfig.flushIntervalMs,
    onError: (error, pending) =>
      logger.error({ err: error, pending }, 'ledger write failed; rows kept for the next attempt'),
  });

  const stops: Array<() => void> = [
    enforcer.startRefresh(options.refreshMs ?? 30_000, (error) =>
      logger.error({ err: error }, 'budget reload failed'),
    ),
  ];
  if (options.changes) {
    // This instance's rows are written first, so a new budget's spend includes them. The second
    // pass counts a request that ended during the first, after the flush but before its budget
    // was in memory (spend is only ever raised to the ledger's, so nothing counts twice).
    const reload = coalesce(async () => {
      for (let pass = 0; pass < 2; pass++) {
        await writer.flush().catch(() => {});
        await enforcer.load();
      }
      adoptInFlight();
    });
    stops.push(options.changes.on('budget', () => reload()));
  }
  if (budgetsConfig.anomaly.enabled)
    stops.push(alerter.startAnomalyChecks(budgetsConfig.anomaly.checkEveryMs));
  if (ledgerConfig.retainDays > 0) {
    const prune = () =>
      void pruneLedger(db, { before: new Date(clock() - ledgerConfig.retainDays * DAY_MS), catalog }).catch(
        (error) => logger.error({ err: error }, 'ledger prune failed'),
      );
    const timer = setInterval(prune, 6 * 3_600_000);
    timer.unref();
    stops.push(() => clearInterval(timer));
  }

  const tokenCounter =
    budgetsConfig.countTokens.enabled && options.upstream
      ? upstreamTokenCounter({ ...options.upstream, timeoutMs: budgetsConfig.countTokens.timeoutMs })
      : undefined;
  const noHold: Hold = { settle: () => undefined };
  const payerOf = (call: Call) => ({
    keyId: call.principal!.keyId,
    environment: call.principal!.environment,
  });
  // A bound, not the rate limiter's calibrated estimate (call.estimatedInputTokens): an estimate
  // that learned from English undercounts CJK, emoji or punctuation several times over, and a
  // budget reserved from it is passed; the limiter's admission keeps its closer estimate.
  const inputBound = options.inputTokenBound ?? ((call: Call) => inputTokenBound(call.body));
  const worstCaseOf = (call: Call, inputTokens = inputBound(call)) => {
    return worstCaseCost(
      call.model?.id ?? call.body.model,
      new Date(call.startedAtMs),
      {
        inputTokens,
        maxTokens: call.body.max_tokens ?? call.model?.maxOutputTokens ?? 0,
        cacheWrite: requestedCacheWrite(call.body),
      },
      {
        catalog,
        inferenceGeo: textField(call.body['inference_geo']),
        speed: textField(call.body['speed']),
      },
    );
  };
  // Requests admitted while no budget covered them. Should one be set while they are in flight,
  // each is reserved at once at its worst case (a client's next request can be admitted before
  // this one settles, so counting it only when it ends could let spend pass the new budget), and
  // settled with its cost when it ends. One that ends while no budget covers it is forgotten.
  const inFlightUnbudgeted = new Set<Call>();
  const adopted = new WeakMap<Call, Reservation>();
  const adoptInFlight = () => {
    for (const call of inFlightUnbudgeted) {
      const payer = payerOf(call);
      if (!enforcer.hasBudgetFor(payer)) continue;
      inFlightUnbudgeted.delete(call);
      adopted.set(call, enforcer.adopt(payer, worstCaseOf(call).pico));
    }
  };
  const unbudgeted: Hold = {
    settle: (call) => {
      inFlightUnbudgeted.delete(call);
      const reservation = adopted.get(call);
      if (reservation) {
        adopted.delete(call);
        reservation.settle(call.cost?.pico ?? 0n, call.id);
        return;
      }
      const cost = call.cost?.pico ?? 0n;
      if (cost === 0n) return;
      const payer = payerOf(call);
      // A budget that appeared after the last adoption pass: counted at its cost.
      if (enforcer.hasBudgetFor(payer)) enforcer.charge(payer, cost, call.id);
    },
  };
  const reserve: Reserve = (call) => {
    if (!call.principal) return noHold;
    const payer = payerOf(call);
    // No budget to check: skip estimating and pricing the worst case.
    if (!enforcer.hasBudgetFor(payer)) {
      inFlightUnbudgeted.add(call);
      return unbudgeted;
    }
    const worst = worstCaseOf(call);
    // An unpriced model is reserved and settled at its worst case (nothing under the `allow` policy).
    const hold = (admission: Admission): Hold => {
      if (!admission.ok) throw admission.refusal.error;
      const { reservation } = admission;
      return { settle: (ended) => reservation.settle(ended.cost?.pico ?? 0n, ended.id) };
    };
    if (tokenCounter && inputBound(call) >= budgetsConfig.countTokens.minInputTokens)
      return reserveCounted(call, payer, worst.pico).then(hold);
    const admission = enforcer.reserve(payer, worst.pico);
    return admission instanceof Promise ? admission.then(hold) : hold(admission);
  };
  // A large request the byte bound would not fit: its exact input count may.
  const reserveCounted = async (call: Call, payer: Payer, boundPico: bigint): Promise<Admission> => {
    let pico = boundPico;
    const room = await enforcer.headroom(payer);
    if (room !== null && boundPico > room) {
      try {
        const counted = worstCaseOf(call, await tokenCounter!.count(call));
        if (counted.pico < pico) pico = counted.pico;
      } catch (error) {
        logger.warn({ err: error }, 'count_tokens failed; the budget reserves the byte bound');
      }
    }
    return enforcer.reserve(payer, pico);
  };

  const admin = moneyAdmin({
    db,
    catalog,
    enforcer,
    tier: options.tier,
    criticalModel: options.criticalModel,
    clock,
  });
  // Read from the ledger at scrape time, like `sluice budgets list`: the same figures everywhere.
  const budgetGauge = (name: string, help: string, field: 'spent' | 'limit' | 'ratio') =>
    new Gauge({
      name,
      help,
      labelNames: ['budget', 'scope', 'subject', 'window'],
      registers: options.registry ? [options.registry] : [],
      async collect() {
        this.reset();
        let budgets: Awaited<ReturnType<typeof admin.listBudgets>>['data'];
        try {
          budgets = (await admin.listBudgets()).data;
        } catch {
          return; // the store is away; the scrape still answers
        }
        for (const b of budgets) {
          const spent = Number(b.spent_usd ?? 0);
          const limit = Number(b.limit_usd);
          const value = field === 'spent' ? spent : field === 'limit' ? limit : limit > 0 ? spent / limit : 0;
          this.set(
            { budget: b.id, scope: b.scope, subject: b.subject_name ?? b.subject, window: b.window },
            value,
          );
        }
      },
    });
  // Message Batches and deferred requests by state, from the store at scrape time.
  new Gauge({
    name: 'sluice_batches',
    help: 'Message Batches created through Sluice, by state (in_progress until their results are recorded, then recorded), and deferred requests by state',
    labelNames: ['kind', 'state'],
    registers: options.registry ? [options.registry] : [],
    async collect() {
      this.reset();
      try {
        const states = await batchStates(db);
        for (const [state, n] of Object.entries(states.batches)) this.set({ kind: 'batch', state }, n);
        for (const [state, n] of Object.entries(states.deferred)) this.set({ kind: 'deferred', state }, n);
      } catch {
        // the store is away; the scrape still answers
      }
    },
  });
  budgetGauge('sluice_budget_spend_usd', 'Spend in the current window of each budget, US dollars', 'spent');
  budgetGauge('sluice_budget_limit_usd', 'Limit of each budget, US dollars', 'limit');
  budgetGauge(
    'sluice_budget_used_ratio',
    'Spend divided by limit in the current window of each budget',
    'ratio',
  );
  const ok = (body: unknown) => ({ status: 200, body });
  const adminRoutes: AdminRoute[] = [
    { method: 'GET', pattern: /^\/admin\/budgets$/, handle: async () => ok(await admin.listBudgets()) },
    {
      method: 'PUT',
      pattern: /^\/admin\/budgets$/,
      handle: async (_p, body) => ok(await admin.setBudget(body)),
    },
    {
      method: 'POST',
      pattern: /^\/admin\/budgets$/,
      handle: async (_p, body) => ok(await admin.setBudget(body)),
    },
    {
      method: 'DELETE',
      pattern: /^\/admin\/budgets\/(?<id>[^/]+)$/,
      handle: async (params) => ok(await admin.deleteBudget(params.id!)),
    },
    {
      method: 'GET',
      pattern: /^\/admin\/spend$/,
      handle: async (_p, _b, query) => ok(await admin.spend(Object.fromEntries(query))),
    },
    {
      method: 'GET',
      pattern: /^\/admin\/spend\/routing$/,
      handle: async (_p, _b, query) => ok(await admin.routing(Object.fromEntries(query))),
    },
    { method: 'GET', pattern: /^\/admin\/tier$/, handle: async () => ok(await admin.tier()) },
    {
      method: 'GET',
      pattern: /^\/admin\/budgets\/status$/,
      handle: async () =>
        ok({
          data: (await enforcer.status()).map((s) => ({
            id: s.budget.id,
            window_start: new Date(s.windowStart).toISOString(),
            resets_at: s.windowEnd === null ? null : new Date(s.windowEnd).toISOString(),
            limit_pico: s.budget.limitPico.toString(),
            spent_pico: s.spentPico.toString(),
            reserved_pico: s.reservedPico.toString(),
          })),
        }),
    },
  ];

  return {
    reserve,
    record: (call) => writer.write(entryFromCall(call)),
    adminRoutes,
    writer,
    enforcer,
    alerter,
    async close() {
      for (const stop of stops) stop();
      await writer.close();
      await alerter.idle();
      await redisEnforcer?.close();
      await tokenCounter?.close();
    },
  };
}

const textField = (value: unknown): string | null => (typeof value === 'string' ? value : null);
