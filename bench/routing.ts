import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { MessagesRequestBody } from '../src/pipeline/types.js';
import { classify } from '../src/routing/classify.js';
import {
  BENCH_UPSTREAM_KEY,
  interleavedLatency,
  percentile as quantile,
  startServer,
} from './support/load.js';

/**
 * Classifier time per request for prompts of about 100, 1k, 10k and 100k tokens (4 characters per
 * token), against a baseline measured in the same run: JSON.parse of the same request body, work
 * the gateway does for every request anyway. Targets (issue 16): p50 <= 0.1 ms at 1k tokens,
 * <= 1 ms at 100k.
 */
export interface RoutingBenchRow {
  tokens: number;
  chars: number;
  iterations: number;
  p50Ms: number;
  p99Ms: number;
  jsonParseP50Ms: number;
  /** Classifier p50 divided by JSON.parse p50 for the same body. */
  ratioToParse: number;
}

const CHARS_PER_TOKEN = 4;

/** Mixed text: prose with analysis words, a code block, a data table, so every scanner path runs. */
const FRAGMENTS = [
  'We reviewed the quarterly results and need to analyze why churn rose in the northern region. ',
  'The contract renewal depends on the compliance audit, so please explain the risks step by step. ',
  '```ts\nexport function total(items: Item[]): number {\n  return items.reduce((sum, i) => sum + i.price, 0);\n}\n```\n',
  'region,quarter,revenue,churn\nnorth,Q1,120000,0.04\nsouth,Q1,98000,0.02\n',
  'Customers asked about the new pricing; several mentioned latency in the dashboard after the deploy. ',
];

export function promptOfTokens(tokens: number): string {
  const target = tokens * CHARS_PER_TOKEN;
  let text = '';
  for (let i = 0; text.length < target; i++) text += FRAGMENTS[i % FRAGMENTS.length];
  return `${text.slice(0, target - 60)}\nWhat should we change first, and why?`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function timeEach(iterations: number, work: () => void): number[] {
  for (let i = 0; i < Math.min(50, iterations); i++) work();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    work();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

export function measureClassifier(sizes = [100, 1_000, 10_000, 100_000]): RoutingBenchRow[] {
  return sizes.map((tokens) => {
    const body: MessagesRequestBody = {
      model: 'auto',
      max_tokens: 1024,
      messages: [{ role: 'user', content: promptOfTokens(tokens) }],
    };
    const json = JSON.stringify(body);
    const iterations = tokens <= 1_000 ? 5000 : tokens <= 10_000 ? 1000 : 300;
    let sink = 0;
    const classifyTimes = timeEach(iterations, () => {
      sink += classify(body).confidence;
    });
    const parseTimes = timeEach(iterations, () => {
      sink += (JSON.parse(json) as MessagesRequestBody).max_tokens ?? 0;
    });
    if (Number.isNaN(sink)) throw new Error('unreachable: keeps the work observable');
    const p50Ms = percentile(classifyTimes, 50);
    const jsonParseP50Ms = percentile(parseTimes, 50);
    return {
      tokens,
      chars: json.length,
      iterations,
      p50Ms,
      p99Ms: percentile(classifyTimes, 99),
      jsonParseP50Ms,
      ratioToParse: p50Ms / jsonParseP50Ms,
    };
  });
}

/**
 * The gateway's own added latency at concurrency 1 (p50, ms), measured in this run: requests
 * interleaved between the simulator directly and Sluice in front of it, with explicit models.
 */
async function gatewayAddedP50(): Promise<number> {
  const simulator = await startServer('simulator');
  const sluice = await startServer('sluice', simulator.url);
  try {
    const headers = (key: string) => ({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': key,
    });
    const body = JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: promptOfTokens(100) }],
    });
    const [direct, via] = await interleavedLatency(
      [
        { url: simulator.url, headers: headers(BENCH_UPSTREAM_KEY) },
        { url: sluice.url, headers: headers(sluice.key!) },
      ],
      body,
      2000,
    );
    return quantile(via!, 0.5) - quantile(direct!, 0.5);
  } finally {
    simulator.stop();
    sluice.stop();
  }
}

async function main(): Promise<void> {
  const rows = measureClassifier();
  const overheadMs = await gatewayAddedP50();
  console.log('routing classifier, time per request (ms)');
  console.log(`gateway added latency at concurrency 1, p50, same run: ${overheadMs.toFixed(3)} ms`);
  console.log(
    'tokens      p50       p99       JSON.parse p50   classifier / parse   classifier / gateway overhead',
  );
  for (const row of rows) {
    console.log(
      `${String(row.tokens).padEnd(8)}${row.p50Ms.toFixed(4).padStart(8)}  ${row.p99Ms.toFixed(4).padStart(8)}  ${row.jsonParseP50Ms.toFixed(4).padStart(15)}  ${row.ratioToParse.toFixed(2).padStart(18)}  ${(row.p50Ms / overheadMs).toFixed(2).padStart(29)}`,
    );
  }
  const targets: Record<number, number> = { 1000: 0.1, 100000: 1 };
  for (const row of rows) {
    const target = targets[row.tokens];
    if (target !== undefined)
      console.log(
        `target at ${row.tokens} tokens: p50 <= ${target} ms: ${row.p50Ms <= target ? 'met' : 'MISSED'} (${row.p50Ms.toFixed(4)} ms)`,
      );
  }
  console.log(JSON.stringify({ bench: 'routing', gatewayAddedP50Ms: overheadMs, rows }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
