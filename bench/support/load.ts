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
        stdio: ['ignore', 'pipe', 'inherit'],
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
          resolve({ url: line.slice(6).trim(), key, child, stop: () => child.kill('SIGKILL') });
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
