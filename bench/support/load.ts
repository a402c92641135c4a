import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Whether the `wrk` load generator (Debian package wrk) is on the PATH. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/**
 * The same closed-loop load as `runLoad`, sent by `wrk` (written in C: a fraction of the CPU per
 * request of a Node client, which matters when the client shares the machine's cores with what
 * it measures). POST /v1/messages with `body`, `concurrency` connections on one thread.
 */
export async function runWrk(options: {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  seconds: number;
}): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-wrk-'));
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.path = "/v1/messages"`,
      `wrk.body = ${JSON.stringify(options.body)}`,
      ...Object.entries(options.headers).map(
        ([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`,
      ),
    ].join('\n'),
  );
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', [
      '-t1',
      `-c${options.concurrency}`,
      `-d${options.seconds}s`,
      '--latency',
      '-s',
      script,
      options.url,
    ]);
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${text}`)),
    );
  });
  rmSync(dir, { recursive: true, force: true });
  const ms = (label: string) => {
    const match = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    if (!match) return Number.NaN;
    return Number(match[1]) * (match[2] === 'us' ? 0.001 : match[2] === 's' ? 1000 : 1);
  };
  const requests = Number(/(\d+) requests in ([\d.]+)(m?s)/.exec(out)?.[1] ?? Number.NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const failed =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
    [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((sum, m) => sum + Number(m[2]), 0);
  return { requests, errors: failed, seconds: requests / rps, rps, p50: ms('50%'), p99: ms('99%') };
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
