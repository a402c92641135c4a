/**
 * Gateway overhead: direct to the simulator, through a minimal pass-through proxy (node:http +
 * undici, no checks), and through Sluice (every stage on: keys, routing, budgets, rate limits,
 * pricing, ledger on SQLite), each in its own process, all in one run, streaming and not.
 * - concurrency 1: requests interleaved across the three targets; added p50/p99 over direct.
 * - concurrency 32: closed-loop throughput, targets alternated round by round.
 * Targets: Sluice's added p50 at concurrency 1 ≤ 1.25 × the proxy's; throughput at 32 ≥ 0.8 × the proxy's.
 * A fourth target, Sluice without accounting (no pricing, no ledger), shows what accounting costs.
 * Run with `npm run bench:gateway` (it builds first; Sluice runs from dist/). With BENCH_DASHBOARD=1,
 * Sluice's dashboard is open in Chromium throughout, polling the admin API every 5 seconds.
 */
import { BENCH_ADMIN_TOKEN, openDashboard } from './support/dashboard.js';
import {
  BENCH_UPSTREAM_KEY,
  fmt,
  interleavedLatency,
  percentile,
  runLoad,
  startServer,
} from './support/load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const latencySamples = Number(process.env.BENCH_SAMPLES ?? 3000);

async function main() {
  const simulator = await startServer('simulator');
  const proxy = await startServer('proxy', simulator.url);
  // BENCH_DASHBOARD=1: Sluice's dashboard is open in Chromium, polling, for the whole run.
  if (process.env.BENCH_DASHBOARD) process.env.BENCH_ADMIN_TOKEN = BENCH_ADMIN_TOKEN;
  const sluice = await startServer(process.env.BENCH_SLUICE_ROLE ?? 'sluice', simulator.url);
  const dashboard = process.env.BENCH_DASHBOARD ? await openDashboard(sluice.url) : undefined;
  const noAccounting = await startServer('sluice-noaccount', simulator.url);
  const headers = (key: string) => ({
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'x-api-key': key,
  });
  const targets = [
    { name: 'direct', url: simulator.url, headers: headers(BENCH_UPSTREAM_KEY) },
    { name: 'proxy', url: proxy.url, headers: headers(BENCH_UPSTREAM_KEY) },
    { name: 'sluice', url: sluice.url, headers: headers(sluice.key!) },
    { name: 'noAccounting', url: noAccounting.url, headers: headers(noAccounting.key!) },
  ];
  const summary: Record<string, unknown> = {};
  try {
    for (const stream of [false, true]) {
      const kind = stream ? 'stream' : 'json';
      const body = JSON.stringify({
        model: process.env.BENCH_MODEL ?? 'claude-haiku-5-5',
        max_tokens: 64,
        stream,
        messages: [
          { role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' },
        ],
      });

      const [direct, viaProxy, viaSluice, viaNoAccounting] = await interleavedLatency(
        targets,
        body,
        latencySamples,
      );
      const added = (sorted: number[], q: number) => percentile(sorted, q) - percentile(direct!, q);
      const proxyP50 = added(viaProxy!, 0.5);
      const sluiceP50 = added(viaSluice!, 0.5);
      const noAccountingP50 = added(viaNoAccounting!, 0.5);
      console.log(
        `${kind.padEnd(6)} c=1   p50 direct ${fmt(percentile(direct!, 0.5), 3)} ms | added p50: proxy ${fmt(proxyP50, 3)} ms, sluice ${fmt(sluiceP50, 3)} ms` +
          ` | added p99: proxy ${fmt(added(viaProxy!, 0.99), 3)} ms, sluice ${fmt(added(viaSluice!, 0.99), 3)} ms | sluice/proxy added p50 ${fmt(sluiceP50 / proxyP50)}`,
      );

      const best: Record<string, number> = {};
      for (let round = 0; round < rounds; round++) {
        for (const target of targets) {
          const result = await runLoad({
            url: target.url,
            headers: target.headers,
            body,
            concurrency: 32,
            seconds,
          });
          if (result.errors > 0) throw new Error(`${target.name}: ${result.errors} failed requests`);
          best[target.name] = Math.max(best[target.name] ?? 0, result.rps);
        }
      }
      console.log(
        `${kind.padEnd(6)} c=32  rps direct ${fmt(best.direct!, 0)}, proxy ${fmt(best.proxy!, 0)}, sluice ${fmt(best.sluice!, 0)} | sluice/proxy throughput ${fmt(best.sluice! / best.proxy!)}`,
      );
      console.log(
        `${kind.padEnd(6)} accounting on/off: added p50 ${fmt(sluiceP50, 3)} / ${fmt(noAccountingP50, 3)} ms (${fmt(sluiceP50 / noAccountingP50)}×), throughput at 32 ${fmt(best.sluice! / best.noAccounting!)}×`,
      );
      summary[kind] = {
        addedP50Ms: { proxy: proxyP50, sluice: sluiceP50 },
        addedP50Ratio: sluiceP50 / proxyP50,
        rps32: best,
        throughputRatio: best.sluice! / best.proxy!,
        accounting: {
          addedP50Ratio: sluiceP50 / noAccountingP50,
          throughputRatio: best.sluice! / best.noAccounting!,
        },
      };
    }
    if (dashboard) summary.dashboardRefreshes = await dashboard.refreshes();
    console.log(JSON.stringify({ bench: 'gateway', seconds, rounds, latencySamples, summary }));
  } finally {
    await dashboard?.close();
    for (const server of [simulator, proxy, sluice, noAccounting]) server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
