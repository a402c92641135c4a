/**
 * Admission control versus the seed article's retry loop, against the simulator, in one run.
 *
 * Time is compressed: the simulator's clock runs SPEED times faster than the wall clock and
 * Sluice's "minute" is 60 / SPEED seconds, so a few virtual minutes take seconds. Figures below
 * are in virtual time. Scenarios:
 *   1. overload: one pool at 3x its tier's RPM and token limits, sent (a) with the seed's
 *      loop (4 attempts, 2^n + random seconds on 429) straight to the simulator, (b) with the same
 *      loop through Sluice. Upstream 429s, failures, completion time and goodput side by side.
 *   2. mixed pools: Opus 4.x at 3x its limit plus light Haiku traffic, through Sluice: Haiku waits.
 *   3. two gateway instances on one Redis: aggregate upstream RPM.
 *   4. two pools saturated at once: Opus 5.5 and Sonnet 5.5 each at 3x their limits through one
 *      gateway: each pool gets its own limit's worth, neither queued behind the other.
 * Run: npm run bench:limits   (needs Redis on 127.0.0.1:6379 for scenario 3; SPEED and LOAD_MINUTES may be set)
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { defaultCatalog } from '../src/catalog/catalog.js';
import { loadConfig } from '../src/config/load.js';
import type { LimitsConfig } from '../src/limits/config.js';
import { createLimitsPlugin } from '../src/limits/gateway-plugin.js';
import { type Gateway, startGateway } from '../src/server/gateway.js';
import { createLogger } from '../src/server/logger.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';

const SPEED = Number(process.env.SPEED ?? 10);
const LOAD_MINUTES = Number(process.env.LOAD_MINUTES ?? 3);
const TIER = 'evaluation';
const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const UPSTREAM_KEY = `sk-ant-api03-${'Sluice_bench-upstream_key'.padEnd(93, 'x')}AA`;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const realMs = (virtualMs: number) => virtualMs / SPEED;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const catalog = defaultCatalog();
/** The tier's limits for the pool a model draws from. */
const limitsOf = (model: string) => catalog.tierLimits(TIER, catalog.model(model)!.pool);

/** A prompt of about 600 simulator tokens, so that 50 requests fill the evaluation tier's 30,000 ITPM. */
const prompt = 'Summarise the quarterly report for the operations team in plain words. '.repeat(28);
const OUTPUT_TOKENS = 150;

interface Upstream {
  simulator: Simulator;
  start: number;
  now: () => number;
}

async function upstream(): Promise<Upstream> {
  const start = Date.now();
  const now = () => start + (Date.now() - start) * SPEED;
  const simulator = await startSimulator({
    apiKeys: [UPSTREAM_KEY],
    tier: TIER,
    outputTokens: OUTPUT_TOKENS,
    latency: { ttftMs: 40, tokensPerSecond: 3000 },
    clock: { now },
  });
  return { simulator, start, now };
}

async function gateway(
  simulator: Simulator,
  limits: Partial<LimitsConfig>,
  databaseUrl = 'sqlite::memory:',
): Promise<Gateway> {
  const loaded = loadConfig({
    cwd: '/nonexistent-sluice-bench-dir',
    env: {
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: simulator.url,
      SLUICE_DATABASE_URL: databaseUrl,
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  const quiet = createLogger('warn', new Writable({ write: (_c, _e, done) => done() }));
  return startGateway({
    loaded,
    logger: quiet,
    plugins: async (core) => {
      const plugin = await createLimitsPlugin({
        loaded,
        catalog: core.catalog,
        registry: core.metrics.registry,
        logger: core.logger,
        env: {},
        overrides: { tier: TIER, windowMs: 60_000 / SPEED, ...limits },
      });
      return {
        reservers: [plugin.reserve],
        observe: plugin.observe,
        adminRoutes: plugin.adminRoutes,
        close: () => plugin.close(),
      };
    },
  });
}

interface Outcome {
  ok: boolean;
  attempts: number;
  doneAt: number;
  /** Upstream ITPM tokens (input + cache writes) and output tokens of a success. */
  tokens?: { input: number; output: number };
}

/** The seed article's loop: up to 4 attempts, sleeping 2^attempt + random() seconds after a 429. */
async function seedRetryLoop(url: string, key: string, model: string): Promise<Omit<Outcome, 'doneAt'>> {
  const body = JSON.stringify({ model, max_tokens: 200, messages: [{ role: 'user', content: prompt }] });
  for (let attempt = 0; attempt < 4; attempt++) {
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key },
      body,
    });
    const text = await response.text();
    if (response.status === 200) {
      const { usage } = JSON.parse(text);
      const input = usage.input_tokens + (usage.cache_creation_input_tokens ?? 0);
      return { ok: true, attempts: attempt + 1, tokens: { input, output: usage.output_tokens } };
    }
    if (response.status !== 429 || attempt === 3) return { ok: false, attempts: attempt + 1 };
    await sleep(realMs((2 ** attempt + Math.random()) * 1000));
  }
  return { ok: false, attempts: 4 };
}

/** Open-loop arrivals: `perMinute` requests per virtual minute for LOAD_MINUTES, evenly spaced. */
async function offer(
  perMinute: number,
  send: () => Promise<Omit<Outcome, 'doneAt'>>,
  clock: () => number,
): Promise<Outcome[]> {
  const total = Math.round(perMinute * LOAD_MINUTES);
  const gap = realMs(60_000 / perMinute);
  const pending: Array<Promise<Outcome>> = [];
  for (let i = 0; i < total; i++) {
    pending.push(send().then((r) => ({ ...r, doneAt: clock() })));
    await sleep(gap);
  }
  return Promise.all(pending);
}

interface Report {
  label: string;
  offered: number;
  succeeded: number;
  failed: number;
  upstream429: number;
  attempts: number;
  completionS: number;
  goodputRpm: number;
  goodputItpm: number;
  goodputOtpm: number;
  /** Goodput against whichever limit binds (the highest of the three). */
  goodput: number;
}

function report(label: string, outcomes: Outcome[], up: Upstream, started: number): Report {
  const limits = limitsOf('claude-sonnet-4-5');
  const counters = up.simulator.counters();
  const lastSuccess = Math.max(...outcomes.filter((o) => o.ok).map((o) => o.doneAt));
  const busyMinutes = (lastSuccess - started) / 60_000;
  // A bucket starts full: the most any client could get in T minutes is limit × (1 + T).
  const possible = (limit: number) => limit * (1 + busyMinutes);
  const succeeded = outcomes.filter((o) => o.ok).length;
  const row: Report = {
    label,
    offered: outcomes.length,
    succeeded,
    failed: outcomes.length - succeeded,
    upstream429: counters.byStatus['429'] ?? 0,
    attempts: outcomes.reduce((sum, o) => sum + o.attempts, 0),
    completionS: (Math.max(...outcomes.map((o) => o.doneAt)) - started) / 1000,
    goodputRpm: succeeded / possible(limits.rpm),
    goodputItpm: (counters.inputTokens + counters.cacheCreationInputTokens) / possible(limits.itpm),
    goodputOtpm: counters.outputTokens / possible(limits.otpm),
    goodput: 0,
  };
  row.goodput = Math.max(row.goodputRpm, row.goodputItpm, row.goodputOtpm);
  return row;
}

function printTable(rows: Report[]): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  console.table(
    Object.fromEntries(
      rows.map((r) => [
        r.label,
        {
          offered: r.offered,
          succeeded: r.succeeded,
          failed: r.failed,
          'upstream 429s': r.upstream429,
          'client attempts': r.attempts,
          'completion (virtual s)': Number(r.completionS.toFixed(1)),
          'goodput vs RPM': pct(r.goodputRpm),
          'goodput vs ITPM': pct(r.goodputItpm),
          'goodput vs OTPM': pct(r.goodputOtpm),
        },
      ]),
    ),
  );
}

async function overload(): Promise<Report[]> {
  const limits = limitsOf('claude-sonnet-4-5');
  const perMinute = 3 * limits.rpm;
  console.log(
    `\n1. Overload: ${perMinute} requests/min for ${LOAD_MINUTES} min against ${TIER} sonnet-4 (${limits.rpm} RPM, ${limits.itpm} ITPM, ${limits.otpm} OTPM); ~600 input and ${OUTPUT_TOKENS} output tokens each: 3x RPM, 3x ITPM, 2.8x OTPM.`,
  );
  const baseUp = await upstream();
  const baseline = await offer(
    perMinute,
    () => seedRetryLoop(baseUp.simulator.url, UPSTREAM_KEY, 'claude-sonnet-4-5'),
    baseUp.now,
  );
  const baseReport = report('seed retry loop, direct', baseline, baseUp, baseUp.start);
  await baseUp.simulator.close();

  const up = await upstream();
  // Clients may wait up to a virtual minute in Sluice's queue before a 429 with retry-after.
  const gw = await gateway(up.simulator, {
    maxWaitMs: { interactive: realMs(60_000), batch: realMs(60_000) },
  });
  const { key } = await gw.keys.create({ name: 'bench-load-client', environment: 'production' });
  const through = await offer(perMinute, () => seedRetryLoop(gw.url, key, 'claude-sonnet-4-5'), up.now);
  const sluiceReport = report('seed retry loop, through Sluice', through, up, up.start);
  await gw.close();
  await up.simulator.close();
  const rows = [baseReport, sluiceReport];
  printTable(rows);
  return rows;
}

async function mixedPools(): Promise<{ haikuOk: number; haikuTotal: number; haikuP95S: number }> {
  const limits = limitsOf('claude-opus-4-5');
  console.log(
    `\n2. Mixed pools: Opus 4.x at 3x ${limits.rpm} RPM plus Haiku 4.5 at 10 requests/min, through Sluice.`,
  );
  const up = await upstream();
  const gw = await gateway(up.simulator, {
    maxWaitMs: { interactive: realMs(60_000), batch: realMs(60_000) },
  });
  const { key } = await gw.keys.create({ name: 'bench-mixed-client', environment: 'production' });
  const haikuLatencies: number[] = [];
  const timed = async () => {
    const t0 = up.now();
    const result = await seedRetryLoop(gw.url, key, 'claude-haiku-4-5');
    if (result.ok) haikuLatencies.push(up.now() - t0);
    return result;
  };
  const [, haiku] = await Promise.all([
    offer(3 * limits.rpm, () => seedRetryLoop(gw.url, key, 'claude-opus-4-5'), up.now),
    offer(10, timed, up.now),
  ]);
  await gw.close();
  await up.simulator.close();
  haikuLatencies.sort((a, b) => a - b);
  const p95 = (haikuLatencies[Math.floor(0.95 * (haikuLatencies.length - 1))] ?? 0) / 1000;
  const result = { haikuOk: haiku.filter((o) => o.ok).length, haikuTotal: haiku.length, haikuP95S: p95 };
  console.log(
    `   Haiku: ${result.haikuOk}/${result.haikuTotal} succeeded, p95 latency ${p95.toFixed(2)} virtual s while Opus was saturated.`,
  );
  return result;
}

async function twoInstances(): Promise<{ maxRpm: number; limit: number; upstream429: number }> {
  const limits = limitsOf('claude-sonnet-4-5');
  console.log(`\n3. Two gateway instances on one Redis, 3x ${limits.rpm} RPM split across them.`);
  const up = await upstream();
  const prefix = `sluice-bench:${randomBytes(4).toString('hex')}:`;
  const store = { backend: 'redis' as const, url: REDIS_URL, prefix, failOpen: false };
  const maxWaitMs = { interactive: realMs(60_000), batch: realMs(60_000) };
  const dbFile = `/tmp/sluice-bench-${randomBytes(4).toString('hex')}.db`;
  const a = await gateway(up.simulator, { store, maxWaitMs }, `sqlite:${dbFile}`);
  const b = await gateway(up.simulator, { store, maxWaitMs }, `sqlite:${dbFile}`);
  const { key } = await a.keys.create({ name: 'bench-shared-client', environment: 'production' });
  const admittedAt: number[] = [];
  let turn = 0;
  await offer(
    3 * limits.rpm,
    async () => {
      const result = await seedRetryLoop((turn++ % 2 ? a : b).url, key, 'claude-sonnet-4-5');
      if (result.ok) admittedAt.push(up.now());
      return result;
    },
    up.now,
  );
  const upstream429 = up.simulator.counters().byStatus['429'] ?? 0;
  await a.close();
  await b.close();
  await up.simulator.close();
  // Successes in any sliding virtual minute after the first (the first may spend the full bucket).
  admittedAt.sort((x, y) => x - y);
  const settled = admittedAt.filter((t) => t >= admittedAt[0]! + 60_000);
  let maxRpm = 0;
  for (let i = 0, j = 0; i < settled.length; i++) {
    while (settled[i]! - settled[j]! >= 60_000) j++;
    maxRpm = Math.max(maxRpm, i - j + 1);
  }
  console.log(
    `   Upstream 429s: ${upstream429}; most successes in any sliding minute after the first: ${maxRpm} (limit ${limits.rpm}).`,
  );
  return { maxRpm, limit: limits.rpm, upstream429 };
}

interface PoolOutcome {
  model: string;
  offered: number;
  succeeded: number;
  /** Against the most each of the pool's limits allows over the busy time: limit × (1 + minutes). */
  goodputRpm: number;
  goodputItpm: number;
  goodputOtpm: number;
  /** The highest of the three: against whichever limit binds. */
  goodput: number;
  /** Virtual seconds from the start to the pool's first success, and its median latency. */
  firstSuccessS: number;
  p50S: number;
}

/**
 * Opus 5.5 and Sonnet 5.5 at 3x their limits at the same time, through one gateway. Were one
 * pool queued behind the other, their successes together would be one pool's worth.
 */
async function twoPools(): Promise<{ pools: PoolOutcome[]; upstream429: number }> {
  const models = ['claude-opus-5-5', 'claude-sonnet-5-5'];
  console.log(
    `\n4. Two pools saturated at once: ${models.map((m) => `${m} at 3x ${limitsOf(m).rpm} RPM`).join(' and ')}, through one gateway.`,
  );
  const up = await upstream();
  const gw = await gateway(up.simulator, {
    maxWaitMs: { interactive: realMs(60_000), batch: realMs(60_000) },
  });
  const { key } = await gw.keys.create({ name: 'bench-two-pools', environment: 'production' });
  const started = up.now();
  const runs = await Promise.all(
    models.map(async (model) => {
      const latencies: number[] = [];
      const outcomes = await offer(
        3 * limitsOf(model).rpm,
        async () => {
          const t0 = up.now();
          const result = await seedRetryLoop(gw.url, key, model);
          if (result.ok) latencies.push(up.now() - t0);
          return result;
        },
        up.now,
      );
      return { model, outcomes, latencies };
    }),
  );
  const upstream429 = up.simulator.counters().byStatus['429'] ?? 0;
  await gw.close();
  await up.simulator.close();
  const pools = runs.map(({ model, outcomes, latencies }): PoolOutcome => {
    const ok = outcomes.filter((o) => o.ok);
    const firstDone = Math.min(...ok.map((o) => o.doneAt));
    const lastDone = Math.max(...ok.map((o) => o.doneAt));
    latencies.sort((a, b) => a - b);
    const limits = limitsOf(model);
    const possible = (limit: number) => limit * (1 + (lastDone - started) / 60_000);
    const sum = (kind: 'input' | 'output') => ok.reduce((total, o) => total + (o.tokens?.[kind] ?? 0), 0);
    const rpm = ok.length / possible(limits.rpm);
    const itpm = sum('input') / possible(limits.itpm);
    const otpm = sum('output') / possible(limits.otpm);
    return {
      model,
      offered: outcomes.length,
      succeeded: ok.length,
      goodputRpm: rpm,
      goodputItpm: itpm,
      goodputOtpm: otpm,
      goodput: Math.max(rpm, itpm, otpm),
      firstSuccessS: (firstDone - started) / 1000,
      p50S: (latencies[Math.floor(latencies.length / 2)] ?? 0) / 1000,
    };
  });
  console.table(
    Object.fromEntries(
      pools.map((p) => [
        p.model,
        {
          offered: p.offered,
          succeeded: p.succeeded,
          'goodput vs RPM': `${(p.goodputRpm * 100).toFixed(1)} %`,
          'goodput vs ITPM': `${(p.goodputItpm * 100).toFixed(1)} %`,
          'goodput vs OTPM': `${(p.goodputOtpm * 100).toFixed(1)} %`,
          'first success (virtual s)': Number(p.firstSuccessS.toFixed(2)),
          'p50 latency (virtual s)': Number(p.p50S.toFixed(2)),
        },
      ]),
    ),
  );
  console.log(`   Upstream 429s: ${upstream429}.`);
  return { pools, upstream429 };
}

async function main(): Promise<void> {
  console.log(`Sluice limits bench: simulated time runs ${SPEED}x faster than the wall clock.`);
  const t0 = Date.now();
  const [baseline, sluice] = (await overload()) as [Report, Report];
  const mixed = await mixedPools();
  const shared = await twoInstances();
  const both = await twoPools();
  const checks: Array<[string, boolean]> = [
    ['zero upstream 429s through Sluice', sluice.upstream429 === 0],
    ['Sluice goodput >= 95 % of the binding tier limit', sluice.goodput >= 0.95],
    ['Haiku unaffected by saturated Opus (all succeeded)', mixed.haikuOk === mixed.haikuTotal],
    ['two instances: zero upstream 429s', shared.upstream429 === 0],
    // Counted by completion time, and a bucket may hold a fraction of a request at a window's start.
    ['two instances: at most limit + 1 successes in any sliding minute', shared.maxRpm <= shared.limit + 1],
    ['two pools at once: zero upstream 429s', both.upstream429 === 0],
    // Each pool gets its own limit's worth: one queued behind the other would get about half.
    ['two pools at once: each >= 90 % of its own binding limit', both.pools.every((p) => p.goodput >= 0.9)],
  ];
  console.log(
    `\nSide by side: upstream 429s ${baseline.upstream429} vs ${sluice.upstream429}; failures ${baseline.failed} vs ${sluice.failed}; ` +
      `completion ${baseline.completionS.toFixed(0)} vs ${sluice.completionS.toFixed(0)} virtual s; ` +
      `goodput ${(baseline.goodput * 100).toFixed(1)} % vs ${(sluice.goodput * 100).toFixed(1)} % of the binding tier limit.`,
  );
  for (const [name, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}`);
  console.log(`(wall time ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
}

await main();
