/**
 * One server per process, for benchmarks: `tsx bench/support/servers.ts simulator|proxy|sluice|fixed [upstreamUrl]`.
 * Prints `READY <url>` on stdout once listening.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Pool } from 'undici';
import { BENCH_UPSTREAM_KEY } from './load.js';

// Sluice and the simulator run from the compiled build (`npm run build`), as users run them;
// the types come from the sources.
// `sluice@dist-old` runs Sluice from another build folder, to compare two builds in one run.
const [roleArg = '', upstreamArg] = process.argv.slice(2);
const [role, buildDir = 'dist'] = roleArg.split('@') as [string, string?];
const dist = (path: string) => new URL(`../../${buildDir}/${path}`, import.meta.url).href;
const { loadConfig } = (await import(dist('config/load.js'))) as typeof import('../../src/config/load.js');
const { startGateway } = (await import(
  dist('server/gateway.js')
)) as typeof import('../../src/server/gateway.js');
const { createLogger } = (await import(
  dist('server/logger.js')
)) as typeof import('../../src/server/logger.js');
const { gatewayPlugins } = (await import(
  dist('server/plugins.js')
)) as typeof import('../../src/server/plugins.js');
const { startSimulator } = (await import(
  dist('simulator/index.js')
)) as typeof import('../../src/simulator/index.js');
const { limitsConfigSchema } = (await import(
  dist('limits/config.js')
)) as typeof import('../../src/limits/config.js');

const HUGE = { rpm: 100_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 };

let startCpu: NodeJS.CpuUsage | undefined;

/** A fresh SQLite file for this server, removed when it exits. */
function benchDatabaseFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'sluice.db');
}

async function main(): Promise<void> {
  const upstream = upstreamArg;
  let url: string;
  if (role === 'simulator') {
    const simulator = await startSimulator({ apiKeys: [BENCH_UPSTREAM_KEY], limits: HUGE, latency: 'none' });
    url = simulator.url;
  } else if (role === 'simulator-paced') {
    // Answers at a set pace (BENCH_SIMULATOR_LATENCY, e.g. {"ttftMs":100,"tokensPerSecond":10}),
    // so requests and streams stay open as long as a benchmark needs.
    const simulator = await startSimulator({
      apiKeys: [BENCH_UPSTREAM_KEY],
      limits: HUGE,
      latency: JSON.parse(process.env.BENCH_SIMULATOR_LATENCY ?? '{"ttftMs":100,"tokensPerSecond":10}'),
      outputTokens: Number(process.env.BENCH_SIMULATOR_OUTPUT_TOKENS ?? 100),
    });
    url = simulator.url;
  } else if (role === 'fixed') {
    // The floor: a node:http server answering every request with the same small Messages answer
    // (with its usage, so a gateway in front prices and records it as it would a real one).
    const body = Buffer.from(
      JSON.stringify({
        id: 'msg_fixed',
        type: 'message',
        role: 'assistant',
        model: 'claude-haiku-4-5',
        content: [{ type: 'text', text: 'hello' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 2 },
      }),
    );
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  } else if (role === 'proxy') {
    // The minimal pass-through: node:http + the same HTTP client as Sluice, no checks at all.
    const pool = new Pool(upstream!, { connections: 128, keepAliveTimeout: 30_000 });
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = { ...req.headers, 'x-api-key': BENCH_UPSTREAM_KEY };
      delete headers.host;
      delete headers.connection;
      const response = await pool.request({
        method: req.method as 'POST',
        path: req.url!,
        headers,
        body: Buffer.concat(chunks),
      });
      const out = { ...response.headers };
      delete out.connection;
      delete out['keep-alive'];
      delete out['transfer-encoding'];
      res.writeHead(response.statusCode, out as Record<string, string>);
      for await (const chunk of response.body) res.write(chunk);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  } else if (role?.startsWith('sluice')) {
    const loaded = loadConfig({
      cwd: '/nonexistent',
      env: {
        ANTHROPIC_AUTH_TOKEN: BENCH_UPSTREAM_KEY,
        SLUICE_UPSTREAM_URL: upstream,
        // A database file, as deployed (sqlite::memory: would spare the ledger its disk).
        SLUICE_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? `sqlite:${benchDatabaseFile()}`,
        // Set by `BENCH_DASHBOARD=1`: the admin API and the dashboard on, for a page to poll.
        ...(process.env.BENCH_ADMIN_TOKEN ? { SLUICE_ADMIN_TOKEN: process.env.BENCH_ADMIN_TOKEN } : {}),
      },
      requireUpstreamKey: true,
    });
    loaded.config.server.port = 0;
    // Without admission control, through the configuration switch users have.
    if (role === 'sluice-nolimits') loaded.config.limits = limitsConfigSchema.parse({ enabled: false });
    // Lines go where a deployed gateway's go, through the same buffered writer, but to /dev/null.
    const quiet = pino.destination({ dest: '/dev/null', minLength: 4096, sync: false });
    const gateway = await startGateway({
      loaded,
      logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', quiet),
      plugins: async (core) => {
        const plugins = await gatewayPlugins(core, HUGE);
        // Variants that leave stages out, to see what each costs.
        if (role === 'sluice-noaccount') return { ...plugins, record: undefined, price: undefined };
        if (role === 'sluice-bare') return {};
        return plugins;
      },
    });
    const { key } = await gateway.keys.create({ name: 'prod-bench-load', environment: 'production' });
    process.stdout.write(`KEY ${key}\n`);
    url = gateway.url;
  } else {
    throw new Error(`unknown role ${role}`);
  }
  process.stdout.write(`READY ${url}\n`);
  startCpu = process.cpuUsage();
  // SIGUSR2 restarts the CPU count (after a warm-up), so the report covers only the load.
  // With BENCH_ALLOCATIONS=file it also starts sampling every allocation (kept or collected),
  // written to that file on SIGTERM for `alloc.ts` to read.
  const heapFile = process.env.BENCH_ALLOCATIONS;
  const inspector = heapFile ? new Session() : undefined;
  inspector?.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      inspector!.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  process.on('SIGUSR2', () => {
    startCpu = process.cpuUsage();
    if (inspector)
      void post('HeapProfiler.startSampling', {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        // BENCH_ALLOCATIONS_PROMOTED=1: only what outlived young-generation collections.
        includeObjectsCollectedByMinorGC: !process.env.BENCH_ALLOCATIONS_PROMOTED,
      });
  });
  // A clean exit lets --cpu-prof write its profile.
  process.once('SIGTERM', async () => {
    if (process.env.BENCH_REPORT_CPU) {
      const { user, system } = process.cpuUsage(startCpu);
      process.stderr.write(`CPU ${roleArg} ${Math.round((user + system) / 1000)} ms\n`);
    }
    if (inspector) {
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      writeFileSync(heapFile!, JSON.stringify(profile));
    }
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
