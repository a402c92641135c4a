/**
 * Gateway overhead: direct to the simulator, through a minimal pass-through proxy (node:http + undici,
 * no checks), and through Sluice, all in one run, at concurrency 1 and 32, streaming and not.
 * Prints the latency each adds over direct (p50, p99) and throughput ratios against the minimal proxy.
 * Targets: Sluice's added p50 at concurrency 1 ≤ 1.25 × the proxy's; throughput at 32 ≥ 0.8 × the proxy's.
 */
import { BENCH_UPSTREAM_KEY, fmt, type LoadResult, runLoad, startServer } from './support/load.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);

async function main() {
  const simulator = await startServer('simulator');
  const proxy = await startServer('proxy', simulator.url);
  const sluice = await startServer('sluice', simulator.url);
  const targets = [
    { name: 'direct', url: simulator.url, key: BENCH_UPSTREAM_KEY },
    { name: 'proxy', url: proxy.url, key: BENCH_UPSTREAM_KEY },
    { name: 'sluice', url: sluice.url, key: sluice.key! },
  ];
  const summary: Record<string, unknown> = {};
  try {
    for (const stream of [false, true]) {
      const body = JSON.stringify({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        stream,
        messages: [
          { role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' },
        ],
      });
      for (const concurrency of [1, 32]) {
        // Alternate targets round by round so drift in machine load touches all three alike.
        const results: Record<string, LoadResult[]> = { direct: [], proxy: [], sluice: [] };
        for (let round = 0; round < rounds; round++) {
          for (const target of targets) {
            results[target.name]!.push(
              await runLoad({
                url: target.url,
                headers: {
                  'content-type': 'application/json',
                  'anthropic-version': '2023-06-01',
                  'x-api-key': target.key,
                },
                body,
                concurrency,
                seconds,
              }),
            );
          }
        }
        const best = (name: string) => {
          const runs = results[name]!;
          return {
            rps: Math.max(...runs.map((r) => r.rps)),
            p50: Math.min(...runs.map((r) => r.p50)),
            p99: Math.min(...runs.map((r) => r.p99)),
            errors: runs.reduce((a, r) => a + r.errors, 0),
          };
        };
        const [direct, viaProxy, viaSluice] = [best('direct'), best('proxy'), best('sluice')];
        const label = `${stream ? 'stream' : 'json  '} c=${String(concurrency).padEnd(2)}`;
        const addedProxy = viaProxy.p50 - direct.p50;
        const addedSluice = viaSluice.p50 - direct.p50;
        console.log(
          `${label}  rps direct ${fmt(direct.rps, 0)} proxy ${fmt(viaProxy.rps, 0)} sluice ${fmt(viaSluice.rps, 0)}` +
            ` | added p50 proxy ${fmt(addedProxy, 3)} ms sluice ${fmt(addedSluice, 3)} ms` +
            ` | added p99 proxy ${fmt(viaProxy.p99 - direct.p99, 3)} ms sluice ${fmt(viaSluice.p99 - direct.p99, 3)} ms` +
            ` | sluice/proxy throughput ${fmt(viaSluice.rps / viaProxy.rps)} added-p50 ratio ${fmt(addedSluice / addedProxy)}` +
            ` | errors ${direct.errors + viaProxy.errors + viaSluice.errors}`,
        );
        summary[`${stream ? 'stream' : 'json'}_c${concurrency}`] = {
          throughputRatio: viaSluice.rps / viaProxy.rps,
          addedP50RatioToProxy: addedSluice / addedProxy,
          addedP50Ms: addedSluice,
          proxyAddedP50Ms: addedProxy,
        };
      }
    }
    console.log(JSON.stringify({ bench: 'gateway', seconds, rounds, summary }));
  } finally {
    for (const server of [simulator, proxy, sluice]) server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
