/**
 * Non-streaming throughput of the simulator (latency off, limits out of the way) against a
 * minimal node:http server that answers a fixed body. The servers run in this process; the load
 * comes from a child process (undici, keep-alive, 32 concurrent requests), runs alternating.
 *
 *   npm run bench:simulator            # 2 s per run, 4 rounds
 *   npx tsx bench/simulator.ts 3 6     # 3 s per run, 6 rounds
 *
 * A third server, the baseline sending the simulator's response headers, shows how much of the
 * gap is HTTP framing (the headers every Anthropic response carries) rather than simulation.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startSimulator } from '../src/simulator/index.js';

const concurrency = 32;
const requestBody = JSON.stringify({
  model: 'claude-haiku-4-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: 'Hello! Summarise the benefits of an API gateway in two sentences.' }],
});
const headers = {
  'x-api-key': 'sk-ant-api03-bench',
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
};

interface RunResult {
  ok: number;
  failed: number;
  seconds: number;
}

/** The load generator, run in a child process: POSTs to `url` for `seconds`, prints the counts. */
async function drive(url: string, seconds: number): Promise<void> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const response = await pool.request({
        method: 'POST',
        path: '/v1/messages',
        headers,
        body: requestBody,
      });
      await response.body.dump();
      if (response.statusCode === 200) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const result: RunResult = { ok, failed, seconds: (performance.now() - started) / 1000 };
  await pool.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runLoad(url: string, seconds: number): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--drive', url, String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as RunResult) : reject(new Error(`driver exited ${code}`)),
    );
  });
}

/**
 * A baseline: reads the request and answers a fixed message-sized JSON body, optionally with the
 * same response headers the simulator sends (request-id, organization, twelve rate-limit headers).
 */
async function startBaseline(headers: Record<string, string> = {}): Promise<{ url: string; server: Server }> {
  const body = JSON.stringify({
    id: 'msg_01baseline',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5-20251001',
    content: [{ type: 'text', text: 'Fixed answer. '.repeat(10) }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 20, output_tokens: 32 },
  });
  const server = createServer({ noDelay: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 2);
  const rounds = Number(process.argv[3] ?? 4);
  const simulator = await startSimulator({
    latency: 'none',
    limits: { rpm: 1_000_000_000, itpm: 1_000_000_000_000, otpm: 1_000_000_000_000 },
  });
  const sample = await fetch(`${simulator.url}/v1/messages`, { method: 'POST', headers, body: requestBody });
  await sample.arrayBuffer();
  const simulatorHeaders = Object.fromEntries(
    [...sample.headers].filter(([name]) => name.startsWith('anthropic-') || name === 'request-id'),
  );
  simulator.reset();
  const plain = await startBaseline();
  const matched = await startBaseline(simulatorHeaders);
  const targets = [
    ['baseline', plain.url],
    ['simulator', simulator.url],
    ['baseline+headers', matched.url],
  ] as const;
  const rates: Record<string, number[]> = { baseline: [], simulator: [], 'baseline+headers': [] };
  let failures = 0;
  console.log(
    `${seconds} s per run, ${rounds} rounds, ${concurrency} concurrent requests, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so that drifting machine load does not favour one side.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const [name, url] of order) {
      const result = await runLoad(url, seconds);
      failures += result.failed;
      const rate = result.ok / result.seconds;
      rates[name]!.push(rate);
      console.log(`round ${round + 1} ${name.padEnd(16)} ${rate.toFixed(0).padStart(7)} req/s`);
    }
  }
  const line = (label: string, values: number[]) =>
    console.log(
      `${label.padEnd(44)} best ${Math.max(...values)
        .toFixed(0)
        .padStart(6)}  median ${median(values).toFixed(0).padStart(6)} req/s`,
    );
  line('baseline (minimal node:http, fixed body)', rates.baseline!);
  line('simulator (latency off)', rates.simulator!);
  line('baseline with the simulator response headers', rates['baseline+headers']!);
  const ratio = median(rates.simulator!) / median(rates.baseline!);
  console.log(`ratio simulator / baseline (medians): ${ratio.toFixed(2)} (aim >= 0.5)`);
  console.log(
    `ratio simulator / header-matched baseline (medians): ${(median(rates.simulator!) / median(rates['baseline+headers']!)).toFixed(2)}`,
  );
  if (failures > 0) console.log(`warning: ${failures} responses were not 200`);
  await simulator.close();
  await new Promise((resolve) => plain.server.close(resolve));
  await new Promise((resolve) => matched.server.close(resolve));
}

if (process.argv[2] === '--drive') {
  await drive(process.argv[3]!, Number(process.argv[4]));
} else {
  await main();
}
