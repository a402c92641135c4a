/**
 * Change-to-effect latency: how long after an operator's change is stored a running gateway
 * enforces it. The change is made through its own store connection, as `sluice keys …` and
 * `sluice budgets set` (another process) or another instance make it; the clock starts when that
 * write returns and stops at the first response from the gateway that shows the change.
 * Requests are sent one after the other, so the resolution is one round trip (about a millisecond);
 * for the rpm quota, two (the first request after the change still fits the new quota).
 *
 *   npm run bench:change-feed
 *   BENCH_TRIALS=50 npm run bench:change-feed
 *
 * SQLite: one gateway on a database file. PostgreSQL + Redis (skipped if PostgreSQL is not
 * reachable): budgets counted in Redis, the feed woken by LISTEN/NOTIFY.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { DEFAULT_KEY_NAMING } from '../src/config/schema.js';
import { KeyService } from '../src/keys/service.js';
import { setBudget } from '../src/ledger/budget-store.js';
import { type Gateway, startGateway } from '../src/server/gateway.js';
import { createLogger } from '../src/server/logger.js';
import { gatewayPlugins } from '../src/server/plugins.js';
import { startSimulator } from '../src/simulator/index.js';
import { openStore, type Store } from '../src/store/database.js';
import { createPostgresDatabase, redisPrefix, redisUrl } from '../test/helpers/services.js';
import { UPSTREAM_KEY } from '../test/helpers/stack.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 20);
const GIVE_UP_MS = 5000;
const BOUND_MS = 1000;

interface Kind {
  name: string;
  /** Prepares a key that is in use (cached by the gateway) and answered normally. */
  prepare(keys: KeyService, name: string, gateway: Gateway): Promise<string>;
  /** The change, made through the operator's own store connection. */
  change(keys: KeyService, store: Store, name: string): Promise<void>;
  /** One request that shows whether the change is in force. */
  probe(gateway: Gateway, key: string): Promise<boolean>;
}

const headers = (key: string) => ({
  'content-type': 'application/json',
  'x-api-key': key,
  'anthropic-version': '2023-06-01',
});

async function messages(gateway: Gateway, key: string, model = 'claude-opus-4-8'): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/messages`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function models(gateway: Gateway, key: string): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/models`, { headers: headers(key) });
  await response.arrayBuffer();
  return response.status;
}

async function inUse(keys: KeyService, name: string, gateway: Gateway): Promise<string> {
  const { key } = await keys.create({ name, environment: 'production' });
  const status = await messages(gateway, key);
  if (status !== 200) throw new Error(`a fresh key was answered ${status}`);
  return key;
}

const kinds: Kind[] = [
  {
    name: 'key revoke',
    prepare: inUse,
    change: async (keys, _store, name) => void (await keys.revoke(name)),
    probe: async (gateway, key) => (await models(gateway, key)) === 401,
  },
  {
    name: 'key policy (models)',
    prepare: inUse,
    change: async (keys, _store, name) => void (await keys.update(name, { models: ['claude-haiku-4-5'] })),
    probe: async (gateway, key) => (await messages(gateway, key)) === 403,
  },
  {
    name: 'key quota (rpm)',
    prepare: inUse,
    // One request a minute: once in force, the probe after the first one is refused.
    change: async (keys, _store, name) => void (await keys.update(name, { rpm: 1 })),
    probe: async (gateway, key) => (await messages(gateway, key)) === 429,
  },
  {
    name: 'budget set',
    prepare: inUse,
    change: async (keys, store, name) => {
      const { id } = await keys.get(name);
      await setBudget(store.db, { scope: 'key', subject: id, window: 'total', usd: '0' }, 'cli');
    },
    probe: async (gateway, key) => (await messages(gateway, key)) === 400,
  },
];

async function trial(kind: Kind, keys: KeyService, store: Store, gateway: Gateway, name: string) {
  const key = await kind.prepare(keys, name, gateway);
  // Changes arrive at any moment, not in step with the poll: a random wait breaks the rhythm.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 250));
  await kind.change(keys, store, name);
  const start = performance.now();
  while (performance.now() - start < GIVE_UP_MS) {
    if (await kind.probe(gateway, key)) return performance.now() - start;
  }
  return Number.POSITIVE_INFINITY;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function run(label: string, databaseUrl: string, yaml: Record<string, unknown>): Promise<boolean> {
  const simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], latency: 'none' });
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-bench-feed-'));
  writeFileSync(join(cwd, 'sluice.yaml'), stringifyYaml(yaml));
  const loaded = loadConfig({
    cwd,
    env: {
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: simulator.url,
      SLUICE_DATABASE_URL: databaseUrl,
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  const gateway = await startGateway({
    loaded,
    logger: createLogger('silent'),
    plugins: (core) => gatewayPlugins(core),
  });
  // The operator's side: its own connection, as the CLI in another process has.
  const operator = await openStore(databaseUrl);
  const keys = new KeyService(operator.db, {
    naming: DEFAULT_KEY_NAMING,
    environments: ['development', 'staging', 'production', 'ci'],
  });
  let ok = true;
  try {
    console.log(`\n${label}: change-to-effect latency, ${TRIALS} trials per kind (bound ${BOUND_MS} ms)`);
    console.log(`${'change'.padEnd(28)}${'p50 ms'.padStart(9)}${'max ms'.padStart(9)}  within bound`);
    for (const [k, kind] of kinds.entries()) {
      const times: number[] = [];
      for (let i = 0; i < TRIALS; i++)
        times.push(await trial(kind, keys, operator, gateway, `bench-kind${k}-trial${i}`));
      times.sort((a, b) => a - b);
      const max = times.at(-1)!;
      const within = max <= BOUND_MS;
      ok &&= within;
      console.log(
        `${kind.name.padEnd(28)}${percentile(times, 50).toFixed(0).padStart(9)}${max.toFixed(0).padStart(9)}  ${within ? 'yes' : 'NO'}`,
      );
    }
  } finally {
    await operator.close();
    await gateway.close();
    await simulator.close();
    rmSync(cwd, { recursive: true, force: true });
  }
  return ok;
}

async function main(): Promise<void> {
  let ok = true;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-feed-db-'));
  try {
    ok &&= await run('SQLite (file, 50 ms poll)', `sqlite:${join(dir, 'sluice.db')}`, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  try {
    database = await createPostgresDatabase('bench_feed');
  } catch (error) {
    console.log(`\nPostgreSQL skipped: ${(error as Error).message}`);
  }
  if (database) {
    try {
      ok &&= await run('PostgreSQL + Redis (LISTEN/NOTIFY wake-up)', database.url, {
        budgets: { store: { backend: 'redis', url: redisUrl, prefix: redisPrefix('bench-feed') } },
      });
    } finally {
      await database.drop();
    }
  }
  if (!ok) {
    console.log('\nsome change took longer than the bound');
    process.exitCode = 1;
  }
}

await main();
