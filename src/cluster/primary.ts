import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/schema.js';
import { Alerter } from '../ledger/alerts.js';
import { applyBudgetsConfig, parseBudgetsConfig, webhookUrlOf } from '../ledger/budget-config.js';
import { BudgetEnforcer } from '../ledger/budget-enforcer.js';
import { budgetHandlers } from '../ledger/ipc-budgets.js';
import { bucketHandlers } from '../limits/ipc-store.js';
import { MemoryBucketStore } from '../limits/memory-store.js';
import { coalesce } from '../store/changes.js';
import { openStore } from '../store/database.js';
import { type Handlers, serveRpc } from './rpc.js';
import { workerExecArgv } from './young-generation.js';

export interface ClusterOptions {
  loaded: LoadedConfig;
  workers: number;
  logger: Logger;
  /** Environment for the workers (the primary's own by default). */
  env?: NodeJS.ProcessEnv;
}

export interface Cluster {
  url: string;
  /** Process ids of the workers running now. */
  workerPids(): number[];
  /** Drains every worker (each finishes its requests in flight), then closes the store; true when all exited cleanly. */
  close(): Promise<boolean>;
}

/** A worker that crashes this soon after starting waits before it is started again, longer each time. */
const QUICK_CRASH_MS = 5_000;
const MAX_RESTART_DELAY_MS = 10_000;

/**
 * The primary process of `sluice serve --workers N`. It serves no HTTP itself: the workers do,
 * on one shared port (node:cluster hands connections out in turn). It holds what must be one
 * for all of them when no Redis is configured — the in-memory rate-limit buckets and budget
 * counters — and answers the workers' `IpcBucketStore` and `IpcBudgetGate` over IPC. Keys and
 * ledger rows need no primary: every worker reads keys from the store and follows the change
 * feed itself, and writes its own ledger rows (SQLite in WAL mode takes one writer at a time,
 * the others wait on the busy timeout in their writer thread, off the event loop).
 * A worker that exits unasked is started again; close() drains them all.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { loaded, logger } = options;
  const { config } = loaded;
  // The schema is brought up to date here, once, before any worker opens the store.
  const store = await openStore(config.database.url, {
    onConnectionError: (error) =>
      logger.warn({ err: error }, 'a database connection failed; it is replaced when next needed'),
  });
  const budgetsConfig = parseBudgetsConfig((config as { budgets?: unknown }).budgets);
  const applied = await applyBudgetsConfig(store.db, budgetsConfig);
  for (const warning of applied.warnings) logger.warn({}, warning);
  const alerter = new Alerter({
    db: store.db,
    webhookUrl: webhookUrlOf(budgetsConfig, options.env ?? process.env),
    webhook: { attempts: budgetsConfig.webhook.attempts },
    logger,
    anomaly: budgetsConfig.anomaly,
  });
  const enforcer = new BudgetEnforcer(store.db, { onThreshold: alerter.budgetThreshold });
  await enforcer.load();
  const stopRefresh = enforcer.startRefresh(config.changes.refreshMs, (error) =>
    logger.error({ err: error }, 'budget reload failed'),
  );
  const budgets = budgetHandlers(
    enforcer,
    coalesce(() => enforcer.load()),
  );
  const handlers: Handlers = { ...bucketHandlers(new MemoryBucketStore()), ...budgets.handlers };

  cluster.setupPrimary({ serialization: 'advanced', execArgv: workerExecArgv() });
  let stopping = false;
  let quickCrashes = 0;
  const startedAt = new Map<number, number>();
  const onRpcError = (error: unknown, method: string) =>
    logger.error({ err: error, method }, 'a worker call failed');

  let firstListening: (url: string) => void = () => {};
  let startFailed: (error: Error) => void = () => {};
  const ready = new Promise<string>((resolve, reject) => {
    firstListening = resolve;
    startFailed = reject;
  });
  const listening = new Set<number>();
  let url: string | undefined;

  const fork = (): Worker => {
    const worker = cluster.fork(options.env);
    startedAt.set(worker.id, Date.now());
    // A send to a worker that just died is an 'error' event on it (no listener would stop the
    // primary); answers for a worker that is gone are dropped.
    worker.on('error', (error) => logger.warn({ err: error, worker: worker.id }, 'worker channel'));
    const channel = {
      send: (message: unknown) => worker.isConnected() && worker.send(message as object),
      on: (event: 'message', listener: (message: unknown) => void) => worker.on(event, listener),
    };
    serveRpc(channel, worker.id, handlers, onRpcError);
    worker.on('listening', (address) => {
      listening.add(worker.id);
      const host = address.addressType === 6 ? `[${address.address}]` : address.address;
      url ??= `http://${host}:${address.port}`;
      if (listening.size >= options.workers) firstListening(url);
    });
    worker.on('exit', (code, signal) => {
      const released = budgets.forgetWorker(worker.id);
      const wasListening = listening.delete(worker.id);
      if (stopping) return;
      if (!url) {
        // A worker that cannot start (bad configuration, port taken) would fail the same way again.
        startFailed(new Error(`worker ${worker.id} exited during start-up (code ${code}, signal ${signal})`));
        return;
      }
      const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
      quickCrashes = lived < QUICK_CRASH_MS ? quickCrashes + 1 : 0;
      const delay = Math.min(MAX_RESTART_DELAY_MS, quickCrashes === 0 ? 0 : 250 * 2 ** (quickCrashes - 1));
      logger.error(
        {
          worker: worker.id,
          pid: worker.process.pid,
          code,
          signal,
          wasListening,
          releasedReservations: released,
          restartInMs: delay,
        },
        'worker exited; starting a new one',
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
    return worker;
  };

  for (let i = 0; i < options.workers; i++) fork();
  const running = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  let closing: Promise<boolean> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopping = true;
      const exits = running().map(
        (worker) =>
          new Promise<boolean>((resolve) => {
            if (worker.isDead()) return resolve(worker.process.exitCode === 0);
            worker.once('exit', (code) => resolve(code === 0));
            worker.process.kill('SIGTERM');
          }),
      );
      const clean = (await Promise.all(exits)).every(Boolean);
      stopRefresh();
      await alerter.idle();
      await store.close();
      return clean;
    })();
    return closing;
  };

  try {
    return {
      url: await ready,
      workerPids: () => running().map((w) => w.process.pid!),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
