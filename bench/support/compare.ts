/** Added latency and throughput of several server roles against direct, one after another: `tsx bench/support/compare.ts 1 sluice sluice-bare proxy`. */
import { BENCH_UPSTREAM_KEY, fmt, runLoad, startServer } from './load.js';

const [concurrency = '1', ...roles] = process.argv.slice(2);
const simulator = await startServer('simulator');
const body = JSON.stringify({
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
});
const headers = (key: string) => ({
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': key,
});
const direct = await runLoad({
  url: simulator.url,
  headers: headers(BENCH_UPSTREAM_KEY),
  body,
  concurrency: Number(concurrency),
  seconds: 3,
});
console.log(`direct: ${fmt(direct.rps, 0)} rps p50 ${fmt(direct.p50, 3)} ms`);
for (const role of roles) {
  const server = await startServer(role, simulator.url);
  const options = {
    url: server.url,
    headers: headers(server.key ?? BENCH_UPSTREAM_KEY),
    body,
    concurrency: Number(concurrency),
    seconds: 3,
  };
  await runLoad({ ...options, seconds: 2 }); // warm-up: JIT and connection pools
  const result = await runLoad(options);
  console.log(`${role}: ${fmt(result.rps, 0)} rps, added p50 ${fmt(result.p50 - direct.p50, 3)} ms`);
  server.stop();
}
simulator.stop();
