import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { startCluster } from '../cluster/primary.js';
import { countersFromPrimary } from '../cluster/worker.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import { startGateway } from '../server/gateway.js';
import { createLogger } from '../server/logger.js';
import { gatewayPlugins, type SharedCounters } from '../server/plugins.js';
import { positiveInt } from './context.js';
import { onStopSignals } from './serve-thread.js';

interface ServeFlags {
  port?: number;
  host?: string;
  config?: string;
  tier?: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
  workers?: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway')
    .option('--port <port>', 'port to listen on (default 8787)', (v) => Number(v))
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--config <path>', 'path to sluice.yaml')
    .option(
      '--tier <name>',
      'upstream rate-limit tier (evaluation, start, build, scale, custom); also SLUICE_TIER',
    )
    .option('--rpm <n>', 'upstream requests per minute, for every pool', positiveInt('--rpm'))
    .option('--itpm <n>', 'upstream input tokens per minute', positiveInt('--itpm'))
    .option('--otpm <n>', 'upstream output tokens per minute', positiveInt('--otpm'))
    .option(
      '--workers <n>',
      'gateway processes sharing the port (default: the cores available; 1 = a single process)',
      positiveInt('--workers'),
    )
    .action(async (flags: ServeFlags) => {
      const loaded = loadConfig({
        configPath: flags.config,
        flags: { host: flags.host, port: flags.port },
        requireUpstreamKey: true,
      });
      if (cluster.isWorker) return serveWorker(loaded, flags);
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      const workers = workerCount(loaded, flags.workers);
      if (workers > 1) return servePrimary(loaded, workers);
      return serveSingle(loaded, flags);
    });
}

/** How many workers to run: the flag, else the cores available; one for an in-memory database. */
function workerCount(loaded: LoadedConfig, asked: number | undefined): number {
  const url = loaded.config.database.url;
  const inMemory = url.startsWith('sqlite:') && (url.includes(':memory:') || url.includes('mode=memory'));
  if (inMemory) {
    // Each process would have a database of its own: keys made in one unknown to the others.
    if (asked !== undefined && asked > 1)
      process.stderr.write(
        `warning: --workers ${asked} needs a database the workers share; ${url} is in one process's memory, so one process serves\n`,
      );
    return 1;
  }
  return asked ?? availableParallelism();
}

function limitFlags(flags: ServeFlags) {
  return { tier: flags.tier, rpm: flags.rpm, itpm: flags.itpm, otpm: flags.otpm };
}

async function serveSingle(loaded: LoadedConfig, flags: ServeFlags): Promise<void> {
  const gateway = await startGateway({
    loaded,
    plugins: (core) => gatewayPlugins(core, limitFlags(flags)),
  });
  gateway.logger.info(
    { url: gateway.url, upstream: loaded.config.upstream.url, environment: loaded.config.environment },
    'sluice listening',
  );
  process.stdout.write(`sluice gateway listening on ${gateway.url}\n`);
  drainOnSignals(
    gateway.logger,
    () => gateway.close().then(() => true),
    () => gateway.inFlight(),
  );
}

async function servePrimary(loaded: LoadedConfig, workers: number): Promise<void> {
  const logger = createLogger(loaded.config.log.level);
  const started = await startCluster({ loaded, workers, logger }).catch((error: Error) => {
    logger.error({ err: error }, 'the gateway workers could not start');
    process.stderr.write(`error: ${error.message}\n`);
    logger.flush();
    process.exit(1);
  });
  logger.info(
    {
      url: started.url,
      workers,
      upstream: loaded.config.upstream.url,
      environment: loaded.config.environment,
    },
    'sluice listening',
  );
  process.stdout.write(`sluice gateway listening on ${started.url} (${workers} workers)\n`);
  drainOnSignals(logger, () => started.close());
}

/** A worker of `sluice serve --workers N`: one gateway, its counters held by the primary. */
async function serveWorker(loaded: LoadedConfig, flags: ServeFlags): Promise<void> {
  let stop: (signal: string) => void = () => process.exit(1);
  const shared: SharedCounters = countersFromPrimary(() => stop('primary gone'));
  const logger = createLogger(loaded.config.log.level).child({
    worker: cluster.worker!.id,
    pid: process.pid,
  });
  const gateway = await startGateway({
    loaded,
    logger,
    plugins: (core) => gatewayPlugins(core, limitFlags(flags), shared),
  });
  logger.info({ url: gateway.url }, 'sluice listening');
  stop = drainOnSignals(
    logger,
    () => gateway.close().then(() => true),
    () => gateway.inFlight(),
  );
}

/** Drains on SIGTERM or SIGINT (and returns the same stop for other causes), then exits. */
function drainOnSignals(
  logger: ReturnType<typeof createLogger>,
  close: () => Promise<boolean>,
  inFlight?: () => number,
): (signal: string) => void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: inFlight?.() }, 'draining');
    close().then(
      (clean) => logger.flush(() => process.exit(clean ? 0 : 1)),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  onStopSignals(stop);
  return stop;
}
