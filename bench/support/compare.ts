/**
 * Added latency at concurrency 1 of several server roles against direct, interleaved in one run:
 * `tsx bench/support/compare.ts proxy sluice-bare sluice-nolimits sluice` (roles: see servers.ts).
 */
import { BENCH_UPSTREAM_KEY, fmt, interleavedLatency, percentile, startServer } from './load.js';

const roles = process.argv.slice(2);
const simulator = await startServer('simulator');
const servers = await Promise.all(roles.map((role) => startServer(role, simulator.url)));
const body = JSON.stringify({
  // BENCH_MODEL: a model both builds price, when comparing builds with different catalogs.
  model: process.env.BENCH_MODEL ?? 'claude-haiku-5-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
});
const headers = (key: string) => ({
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': key,
});
const samples = await interleavedLatency(
  [
    { url: simulator.url, headers: headers(BENCH_UPSTREAM_KEY) },
    ...servers.map((s) => ({ url: s.url, headers: headers(s.key ?? BENCH_UPSTREAM_KEY) })),
  ],
  body,
  Number(process.env.BENCH_SAMPLES ?? 3000),
);
const direct = percentile(samples[0]!, 0.5);
console.log(`direct p50 ${fmt(direct, 3)} ms`);
for (const [i, role] of roles.entries()) {
  console.log(`${role.padEnd(18)} added p50 ${fmt(percentile(samples[i + 1]!, 0.5) - direct, 3)} ms`);
}
for (const server of [simulator, ...servers]) server.stop();
