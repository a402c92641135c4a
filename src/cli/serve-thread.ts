/**
 * `sluice serve` as a single process runs its gateway in a worker thread, so that the gateway's
 * young generation is bounded (see cluster/young-generation.ts) without a Node option from the
 * operator. The main thread loads nothing else: it forwards SIGTERM and SIGINT to the thread and
 * exits with the thread's code.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { GATEWAY_YOUNG_GENERATION_MB, semiSpaceChosen } from '../cluster/young-generation.js';

/**
 * Whether `argv` is `sluice serve` that will be one process (`--workers 1`, or one core), read
 * from the arguments alone so that the main thread loads no more than this module.
 */
export function servesInThread(argv: string[]): boolean {
  if (argv[2] !== 'serve' || !isMainThread || cluster.isWorker || semiSpaceChosen()) return false;
  const args = argv.slice(3);
  if (args.includes('--help') || args.includes('-h')) return false;
  const at = args.findIndex((arg) => arg === '--workers' || arg.startsWith('--workers='));
  if (at === -1) return availableParallelism() === 1;
  const value = args[at]!.includes('=') ? args[at]!.split('=')[1] : args[at + 1];
  return value === '1';
}

/** Runs the command line (`main` is its entry module) in the gateway thread; exits with its code. */
export function runServeThread(main: URL, argv: string[]): void {
  const options = {
    argv: argv.slice(2),
    resourceLimits: { maxYoungGenerationSizeMb: GATEWAY_YOUNG_GENERATION_MB },
  };
  // Run from the TypeScript sources (tests), the thread first registers the same loader (tsx).
  const thread = main.pathname.endsWith('.ts')
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
          `.then((tsx) => { tsx.register(); return import(${JSON.stringify(main.href)}); });`,
        { ...options, eval: true },
      )
    : new Worker(main, options);
  const forward = (signal: NodeJS.Signals) => thread.postMessage({ signal });
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  let failed = false;
  thread.on('error', (error) => {
    failed = true;
    process.stderr.write(`sluice: ${error.message}\n`);
  });
  thread.on('exit', (code) => process.exit(failed ? 1 : code));
}

/**
 * Calls `stop` on SIGTERM and SIGINT: the process's signals, or in the gateway thread the ones
 * its main thread forwards.
 */
export function onStopSignals(stop: (signal: string) => void): void {
  if (isMainThread) {
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    return;
  }
  parentPort?.on('message', (message: { signal?: string }) => {
    if (message.signal) stop(message.signal);
  });
  // The server keeps the thread alive, not the port.
  parentPort?.unref();
}
