/**
 * Throughput of `sluice serve --workers N` for N = 1 … max. Each round runs every N in turn, so
 * all of them see the same machine conditions; the table gives each N's median over the rounds
 * and its ratio to 1 worker in this run.
 *
 * The upstream and the load generator share the machine's cores with the gateway, so what they
 * spend per request caps the scaling a run can show. By default the upstream is a fixed Messages
 * answer (`--upstream fixed`, a few µs per request) and the load comes from `wrk` when it is
 * installed (`--client wrk`); `--upstream simulator` and `--client node` measure with the
 * simulator and the Node load generator instead.
 *
 *   npm run bench:workers -- [--max N] [--rounds R] [--seconds S] [--concurrency C] [--stream]
 *                            [--upstream fixed|simulator] [--client wrk|node] [--prompt-kb N]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gatewayEnvironment, ROOMY_LIMITS, startSimulatorProcess, startSluice } from './support/cli.js';
import { fmt, hasWrk, type LoadResult, runLoad, runWrk, startServer } from './support/load.js';

const { values } = parseArgs({
  options: {
    max: { type: 'string', default: String(Math.max(2, availableParallelism())) },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '64' },
    stream: { type: 'boolean', default: false },
    upstream: { type: 'string', default: 'fixed' },
    'prompt-kb': { type: 'string', default: '0' },
    client: { type: 'string', default: hasWrk() ? 'wrk' : 'node' },
  },
});
if (values.upstream !== 'fixed' && values.upstream !== 'simulator')
  throw new Error('--upstream: fixed or simulator');
if (values.client !== 'wrk' && values.client !== 'node') throw new Error('--client: wrk or node');
if (values.upstream === 'fixed' && values.stream) throw new Error('--stream needs --upstream simulator');
const max = Number(values.max);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const model = process.env.BENCH_MODEL ?? 'claude-haiku-4-5';

// The simulator's own limits as roomy as the gateway's: at its default tier (10,000 requests a
// minute for this model) the run would measure that limit, not the gateway.
const upstream: { url: string; stop(): unknown } =
  values.upstream === 'simulator' ? await startSimulatorProcess(ROOMY_LIMITS) : await startServer('fixed');
const { env, key } = await gatewayEnvironment(upstream.url);
// `--prompt-kb N`: a prompt of about N KB (a coding agent's requests carry tens of KB), so the
// gateway's own work per request (reading, checking and bounding the body) weighs as in such traffic.
const promptKb = Number(values['prompt-kb']);
const filler = 'The function reads the configuration file, validates every field and returns the result. ';
const body = JSON.stringify({
  model,
  max_tokens: 64,
  stream: values.stream,
  messages: [
    {
      role: 'user',
      content:
        promptKb > 0
          ? `${filler.repeat(Math.ceil((promptKb * 1024) / filler.length))}\nSay hello in five words.`
          : 'Say hello in five words.',
    },
  ],
});
const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key };
const load = (url: string, seconds: number) =>
  values.client === 'wrk'
    ? runWrk({ url, headers, body, concurrency, seconds })
    : runLoad({ url, headers, body, concurrency, seconds, warmup: 0 });

console.log(
  `sluice serve --workers 1…${max}; ${cpus().length} cores (${availableParallelism()} available), ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ${rounds} rounds of ${seconds} s at concurrency ${concurrency}, ` +
    `${values.stream ? 'streaming' : 'JSON'}, ${promptKb > 0 ? `${promptKb} KB prompt` : 'a one-line prompt'}; upstream: ${values.upstream === 'fixed' ? 'a fixed Messages answer' : 'the simulator'}, ` +
    `load from ${values.client === 'wrk' ? 'wrk' : 'the Node load generator'}, each in its own process on the same machine`,
);
/** CPU time (user + system) of a process so far, in microseconds. */
const cpuMicros = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms
};
const childrenOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

interface Run extends LoadResult {
  /** CPU per request: the primary's (0 for one worker, which is a single process) and all workers' together. */
  primaryUs: number;
  workersUs: number;
}
const results = new Map<number, Run[]>();
// BENCH_GATEWAY_NODE_OPTIONS: Node options for the gateway's processes (e.g. a heap setting to compare).
const gatewayEnv = process.env.BENCH_GATEWAY_NODE_OPTIONS
  ? { ...env, NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS }
  : env;
for (let round = 1; round <= rounds; round++) {
  for (let workers = 1; workers <= max; workers++) {
    const gateway = await startSluice(
      ['serve', '--port', '0', '--workers', String(workers), ...ROOMY_LIMITS],
      gatewayEnv,
      /listening on (http:\/\/\S+)/,
    );
    // A short run first, so every worker's code is compiled before the measured run.
    await load(gateway.url, 1);
    const top = gateway.child.pid!;
    const workerPids = workers > 1 ? childrenOf(top) : [top];
    const before = [top, ...workerPids].map(cpuMicros);
    const measured = await load(gateway.url, seconds);
    const after = [top, ...workerPids].map(cpuMicros);
    const spent = after.map((a, i) => a - before[i]!);
    const result: Run = {
      ...measured,
      primaryUs: workers > 1 ? spent[0]! / measured.requests : 0,
      workersUs: spent.slice(1).reduce((sum, us) => sum + us, 0) / measured.requests,
    };
    const code = await gateway.stop();
    if (code !== 0)
      throw new Error(`sluice serve --workers ${workers} exited with ${code}: ${gateway.stderr()}`);
    results.set(workers, [...(results.get(workers) ?? []), result]);
    console.log(
      `  round ${round}, ${workers} worker${workers > 1 ? 's' : ''}: ${fmt(result.rps, 0)} req/s, ` +
        `p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms, ${result.errors} errors; ` +
        `CPU per request ${fmt(result.workersUs, 0)} µs in workers, ${fmt(result.primaryUs, 0)} µs in the primary`,
    );
  }
}
await upstream.stop();

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const base = median(results.get(1)!.map((r) => r.rps));
console.log(
  '\n| workers | req/s (median) | req/s (each round) | p99 ms (median) | ratio to 1 worker | CPU µs per request: workers + primary (median) |',
);
console.log('|---|---|---|---|---|---|');
for (const [workers, runs] of results) {
  const rps = median(runs.map((r) => r.rps));
  console.log(
    `| ${workers} | ${fmt(rps, 0)} | ${runs.map((r) => fmt(r.rps, 0)).join(', ')} | ${fmt(median(runs.map((r) => r.p99)))} | ${fmt(rps / base)}× | ` +
      `${fmt(median(runs.map((r) => r.workersUs)), 0)} + ${fmt(median(runs.map((r) => r.primaryUs)), 0)} |`,
  );
}
const errors = [...results.values()].flat().reduce((sum, r) => sum + r.errors, 0);
console.log(
  JSON.stringify({
    bench: 'workers',
    stream: values.stream,
    upstream: values.upstream,
    client: values.client,
    promptKb,
    concurrency,
    seconds,
    rounds,
    errors,
    rps: Object.fromEntries([...results].map(([w, runs]) => [w, median(runs.map((r) => r.rps))])),
    ratio: Object.fromEntries([...results].map(([w, runs]) => [w, median(runs.map((r) => r.rps)) / base])),
  }),
);
if (errors > 0) process.exitCode = 1;
