/**
 * A soak of one gateway process (`sluice serve --workers 1`) against the simulator in its own
 * process (realistic latency: time to first token, then tokens at the model's pace).
 *
 * Phase 1, steady load: `--rate` requests a second (half of them streamed) for `--duration`
 * seconds. Every `--interval` seconds it prints the gateway's RSS, its open file descriptors
 * (/proc/<pid>/fd) and the interval's latency percentiles. Targets: RSS growth below 10 % from
 * the end of the warm-up to the end, no file-descriptor growth, p99 stable.
 * Phase 2, open streams: `--streams` streamed requests held open at once (each about ten seconds
 * long); the gateway's RSS while all are open. Target: at most 150 MB for 1,000 streams.
 *
 *   npm run bench:soak -- [--duration 600] [--warmup 60] [--interval 30] [--rate 50] [--streams 1000]
 *
 * `--duration 0` skips phase 1: the open streams against a gateway just started.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { gatewayEnvironment, ROOMY_LIMITS, startSluice } from './support/cli.js';
import { fmt, percentile, startServer } from './support/load.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    warmup: { type: 'string' },
    interval: { type: 'string' },
    rate: { type: 'string', default: '50' },
    streams: { type: 'string', default: '1000' },
  },
});
const durationS = Number(values.duration);
const warmupS = Number(values.warmup ?? Math.min(60, Math.round(durationS / 10)));
const intervalS = Number(values.interval ?? Math.max(5, Math.min(30, Math.round(durationS / 20))));
const rate = Number(values.rate);
const streamCount = Number(values.streams);
const model = process.env.BENCH_MODEL ?? 'claude-haiku-4-5';
// The simulator answers at 10 tokens a second after 100 ms: a steady-load request (4 tokens)
// takes half a second, an open stream (100 tokens, some 25 events) ten seconds.
const PACE = { ttftMs: 100, tokensPerSecond: 10 };
const STEADY_TOKENS = 4;
const STREAM_TOKENS = 100;

const simulator = await startServer('simulator-paced', undefined, {
  BENCH_SIMULATOR_LATENCY: JSON.stringify(PACE),
  BENCH_SIMULATOR_OUTPUT_TOKENS: String(STREAM_TOKENS),
});
const { env, key } = await gatewayEnvironment(simulator.url);
// BENCH_GATEWAY_NODE_OPTIONS: Node options for the gateway alone (e.g. a heap setting to compare).
const gatewayNodeOptions = process.env.BENCH_GATEWAY_NODE_OPTIONS;
const gateway = await startSluice(
  ['serve', '--port', '0', '--workers', '1', ...ROOMY_LIMITS],
  gatewayNodeOptions ? { ...env, NODE_OPTIONS: gatewayNodeOptions } : env,
  /listening on (http:\/\/\S+)/,
);
const pid = gateway.child.pid!;

const rssMb = () => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line![1]) / 1024;
};
const openFds = () => readdirSync(`/proc/${pid}/fd`).length;
const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key };
const bodyOf = (stream: boolean, maxTokens: number, i: number) =>
  JSON.stringify({
    model,
    max_tokens: maxTokens,
    stream,
    messages: [{ role: 'user', content: `Soak request ${i}: say hello.` }],
  });

console.log(
  `soak: sluice serve --workers 1 (pid ${pid}); ${rate} req/s (half streamed, ${STEADY_TOKENS} output tokens at ${PACE.tokensPerSecond}/s after ${PACE.ttftMs} ms) for ${durationS} s, ` +
    `warm-up ${warmupS} s, samples every ${intervalS} s; then ${streamCount} open streams` +
    (gatewayNodeOptions ? `; gateway NODE_OPTIONS=${gatewayNodeOptions}` : ''),
);

// Phase 1: steady open-loop load.
async function steadyLoad() {
  const pool = new Pool(gateway.url, { connections: 512, keepAliveTimeout: 30_000 });
  let latencies: number[] = [];
  let errors = 0;
  const failures = new Map<string, number>();
  const failed = (why: string) => {
    errors++;
    failures.set(why, (failures.get(why) ?? 0) + 1);
  };
  let sent = 0;
  let inFlight = 0;
  const send = async (i: number) => {
    const stream = i % 2 === 1;
    const t0 = performance.now();
    inFlight++;
    try {
      const response = await pool.request({
        method: 'POST',
        path: '/v1/messages',
        headers,
        body: bodyOf(stream, STEADY_TOKENS, i),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) {
        // The first refusal of each status is shown once: it says why.
        if (!failures.has(String(response.statusCode)))
          console.log(`  first ${response.statusCode}: ${text.slice(0, 300)}`);
        failed(String(response.statusCode));
      }
      latencies.push(performance.now() - t0);
    } catch (error) {
      failed((error as Error).message);
    } finally {
      inFlight--;
    }
  };
  const started = performance.now();
  const ticker = setInterval(() => {
    // As many requests as the rate asks for by now: a steady rate even when a tick comes late.
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) void send(sent++);
  }, 10);

  interface Sample {
    atS: number;
    rss: number;
    fds: number;
    requests: number;
    errors: number;
    p50: number;
    p99: number;
  }
  const samples: Sample[] = [];
  console.log('\n| t (s) | RSS MB | open fds | requests | errors | p50 ms | p99 ms | in flight |');
  console.log('|---|---|---|---|---|---|---|---|');
  const sampleAt = (atS: number) => {
    const sorted = latencies.sort((a, b) => a - b);
    const sample: Sample = {
      atS,
      rss: rssMb(),
      fds: openFds(),
      requests: sorted.length,
      errors,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
    };
    latencies = [];
    errors = 0;
    samples.push(sample);
    console.log(
      `| ${atS}${atS <= warmupS ? ' (warm-up)' : ''} | ${fmt(sample.rss, 1)} | ${sample.fds} | ${sample.requests} | ${sample.errors} | ${fmt(sample.p50, 1)} | ${fmt(sample.p99, 1)} | ${inFlight} |`,
    );
  };
  for (let at = intervalS; at <= durationS; at += intervalS) {
    await new Promise((resolve) => setTimeout(resolve, started + at * 1000 - performance.now()));
    sampleAt(at);
  }
  clearInterval(ticker);
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  await pool.close();

  const steady = samples.filter((s) => s.atS > warmupS);
  const base = samples.filter((s) => s.atS <= warmupS).at(-1) ?? samples[0]!;
  const last = samples.at(-1)!;
  const growth = (last.rss - base.rss) / base.rss;
  const p99s = steady.map((s) => s.p99).sort((a, b) => a - b);
  const p99Spread = p99s.at(-1)! / percentile(p99s, 0.5);
  const totalErrors = samples.reduce((sum, s) => sum + s.errors, 0);
  console.log(
    `\nRSS after warm-up ${fmt(base.rss, 1)} MB, at the end ${fmt(last.rss, 1)} MB: growth ${fmt(growth * 100, 1)} % (target < 10 %); ` +
      `peak ${fmt(Math.max(...steady.map((s) => s.rss)), 1)} MB`,
  );
  console.log(
    `open fds after warm-up ${base.fds}, at the end ${last.fds} (max ${Math.max(...steady.map((s) => s.fds))}); ` +
      `p99 per interval ${fmt(p99s[0]!, 1)}–${fmt(p99s.at(-1)!, 1)} ms, worst / median ${fmt(p99Spread)}×; errors ${totalErrors}${failures.size > 0 ? ` (${[...failures].map(([why, n]) => `${why}: ${n}`).join(', ')})` : ''}`,
  );
  return {
    rssAfterWarmupMb: base.rss,
    rssEndMb: last.rss,
    rssGrowthPct: growth * 100,
    fdsAfterWarmup: base.fds,
    fdsEnd: last.fds,
    p99Ms: p99s,
    errors: totalErrors,
  };
}

/**
 * Without phase 1, a few requests (half streamed, one at a time) first, so that the gateway has
 * answered, accounted and written ledger rows (its writer thread started) before the streams open.
 */
async function firstRequests(count: number) {
  const pool = new Pool(gateway.url, { connections: 1 });
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const response = await pool.request({
      method: 'POST',
      path: '/v1/messages',
      headers,
      body: bodyOf(i % 2 === 1, STEADY_TOKENS, i),
    });
    await response.body.text();
    if (response.statusCode !== 200) errors++;
  }
  await pool.close();
  console.log(`\nphase 1 skipped (--duration 0): ${count} requests one at a time first, ${errors} errors`);
  return { errors };
}

const steady = durationS > 0 ? await steadyLoad() : await firstRequests(20);
// Phase 2: open streams, all held at once.
await new Promise((resolve) => setTimeout(resolve, 2000));
const idleRss = rssMb();
const streamPool = new Pool(gateway.url, { connections: streamCount + 16 });
let firstBytes = 0;
let streamErrors = 0;
const streamsStarted = performance.now();
const streams = Array.from({ length: streamCount }, async (_, i) => {
  try {
    const response = await streamPool.request({
      method: 'POST',
      path: '/v1/messages',
      headers,
      body: bodyOf(true, STREAM_TOKENS, i),
    });
    if (response.statusCode !== 200) streamErrors++;
    let counted = false;
    for await (const _chunk of response.body) {
      if (!counted) {
        counted = true;
        firstBytes++;
      }
    }
  } catch {
    streamErrors++;
  }
});
while (firstBytes + streamErrors < streamCount && performance.now() - streamsStarted < 60_000)
  await new Promise((resolve) => setTimeout(resolve, 50));
const allOpenAfter = (performance.now() - streamsStarted) / 1000;
let peak = 0;
let fdsOpen = 0;
// Sampled while they stream (each lasts about ten seconds from its first byte).
for (let i = 0; i < 10; i++) {
  peak = Math.max(peak, rssMb());
  fdsOpen = Math.max(fdsOpen, openFds());
  await new Promise((resolve) => setTimeout(resolve, 400));
}
await Promise.all(streams);
await streamPool.close();
const afterStreams = rssMb();
console.log(
  `\n${streamCount} open streams: all streaming ${fmt(allOpenAfter, 1)} s after they were sent (${firstBytes} streaming, ${streamErrors} errors); ` +
    `gateway RSS idle ${fmt(idleRss, 1)} MB, with them open ${fmt(peak, 1)} MB peak (target ≤ 150 MB), ` +
    `${fdsOpen} fds; ${fmt(afterStreams, 1)} MB once they ended`,
);
const code = await gateway.stop();
await simulator.stop();
console.log(
  JSON.stringify({
    bench: 'soak',
    durationS,
    rate,
    ...steady,
    streams: streamCount,
    streamErrors,
    streamsRssMb: peak,
    gatewayExit: code,
  }),
);
