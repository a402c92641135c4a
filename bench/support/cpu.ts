/** CPU time each server role spends per request under the same load: `tsx bench/support/cpu.ts proxy sluice-bare sluice`. */
import { BENCH_UPSTREAM_KEY, runLoad, startServer } from './load.js';

const roles = process.argv.slice(2);
const simulator = await startServer('simulator');
const body = JSON.stringify({
  model: process.env.BENCH_MODEL ?? 'claude-haiku-5-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
});
for (const role of roles) {
  const server = await startServer(role, simulator.url, { BENCH_REPORT_CPU: '1' });
  const headers = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'x-api-key': server.key ?? BENCH_UPSTREAM_KEY,
  };
  await runLoad({
    url: server.url,
    headers,
    body,
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32),
    seconds: 2,
  }); // warm-up
  server.child.kill('SIGUSR2');
  const result = await runLoad({
    url: server.url,
    headers,
    body,
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32),
    seconds: 4,
    warmup: 0,
  });
  const cpuMs = await new Promise<number>((resolve) => {
    server.child.stderr?.on('data', (chunk: Buffer) => {
      const match = /CPU \S+ (\d+) ms/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
    server.child.kill('SIGTERM');
  });
  console.log(
    `${role.padEnd(18)} ${Math.round(result.rps)} rps, ${((cpuMs * 1000) / result.requests).toFixed(0)} µs CPU per request`,
  );
}
simulator.stop();
