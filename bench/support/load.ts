import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

export interface Started {
  url: string;
  key?: string;
  child: ChildProcess;
  stop(): void;
}

/** A key of the real shape that only the benchmark's simulator accepts. */
export const BENCH_UPSTREAM_KEY = `sk-ant-api03-${'bench'.repeat(18)}ben` + 'AA';

const serversScript = fileURLToPath(new URL('./servers.ts', import.meta.url));

/** Starts a benchmark server in its own process and waits for its URL. */
export function startServer(
  role: string,
  upstream?: string,
  env: Record<string, string> = {},
): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', serversScript, role, ...(upstream ? [upstream] : [])],
      {
        stdio: ['ignore', 'pipe', env.BENCH_REPORT_CPU ? 'pipe' : 'inherit'],
        env: { ...process.env, ...env },
      },
    );
    let key: string | undefined;
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (line.startsWith('KEY ')) key = line.slice(4).trim();
        if (line.startsWith('READY '))
          resolve({ url: line.slice(6).trim(), key, child, stop: () => child.kill('SIGTERM') });
      }
    });
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
}

/** Closed-loop load: `concurrency` workers send requests back to back for `seconds`. */
export async function runLoad(options: {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  seconds: number;
  warmup?: number;
}): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.concurrency, keepAliveTimeout: 30_000 });
  const send = async () => {
    const response = await pool.request({
      method: 'POST',
      path: '/v1/messages',
      headers: options.headers,
      body: options.body,
    });
    await response.body.arrayBuffer();
    return response.statusCode;
  };
  for (let i = 0; i < (options.warmup ?? 50); i++) await send();
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await send();
        latencies.push(performance.now() - t0);
        if (status !== 200) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
  };
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/**
 * Latency at concurrency 1, interleaved: one request to each target in turn, `rounds` times, so
 * every target sees the same machine conditions. Returns each target's sorted latencies (ms).
 */
export async function interleavedLatency(
  targets: Array<{ url: string; headers: Record<string, string> }>,
  body: string,
  rounds: number,
): Promise<number[][]> {
  const pools = targets.map((t) => new Pool(t.url, { connections: 1, keepAliveTimeout: 30_000 }));
  const samples = targets.map(() => [] as number[]);
  const once = async (i: number) => {
    const t0 = performance.now();
    const response = await pools[i]!.request({
      method: 'POST',
      path: '/v1/messages',
      headers: targets[i]!.headers,
      body,
    });
    await response.body.arrayBuffer();
    return performance.now() - t0;
  };
  for (let round = 0; round < rounds + 200; round++) {
    for (let i = 0; i < targets.length; i++) {
      const ms = await once(i);
      if (round >= 200) samples[i]!.push(ms); // the first 200 rounds warm up JIT and connections
    }
  }
  await Promise.all(pools.map((p) => p.close()));
  return samples.map((s) => s.sort((a, b) => a - b));
}

export const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
