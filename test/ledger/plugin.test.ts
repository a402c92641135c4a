import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import { usdToPico } from '../../src/catalog/money.js';
import { createMoneyPlugin } from '../../src/ledger/plugin.js';
import { spendTotal } from '../../src/ledger/queries.js';
import { moneyDb } from '../../src/ledger/tables.js';
import { ApiError } from '../../src/pipeline/errors.js';
import { CallSignal } from '../../src/pipeline/signal.js';
import type { Call, Usage } from '../../src/pipeline/types.js';
import type { Store } from '../../src/store/database.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';
import { storeKinds } from './stores.js';

const catalog = defaultCatalog();
const logger = { warn: () => {}, error: () => {} };

function call(id: string, maxTokens: number, environment = 'production'): Call {
  const model = catalog.model('claude-sonnet-4-6')!;
  return {
    id,
    receivedAt: performance.now(),
    startedAtMs: Date.now(),
    path: '/v1/messages',
    headers: {},
    body: { model: model.id, max_tokens: maxTokens, messages: [{ role: 'user', content: 'hello' }] },
    rawBody: Buffer.from(''),
    bodyChanged: false,
    signal: new CallSignal(),
    principal: { keyId: 'key_plugin', name: 'prod-app-v1', environment },
    requestedModel: 'auto',
    model,
    route: { tier: 'reasoning', score: 0.5, reasons: ['code'], source: 'classifier' },
    priority: 'interactive',
    estimatedInputTokens: 1000,
    holds: [],
  };
}

describe.each([
  { backend: 'memory', store: undefined },
  { backend: 'redis', store: { backend: 'redis', url: redisUrl, prefix: redisPrefix('plugin') } },
])('money plugin with $backend budget counters', ({ store: counters }) => {
  let store: Store;
  beforeEach(async () => {
    store = await storeKinds[0]!.open('plugin');
  });
  afterEach(async () => {
    await store.close();
    if (counters) {
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${counters.prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('reserves, refuses over budget, settles and records every call it is given', async () => {
    const plugin = await createMoneyPlugin({
      db: store.db,
      catalog,
      logger,
      env: {},
      budgets: {
        store: counters,
        limits: [{ scope: 'environment', environment: 'production', window: 'daily', usd: '0.10' }],
      },
    });
    const usage: Usage = {
      input_tokens: 1000,
      output_tokens: 500,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    // Worst case: 1000 × $3 + 2000 × $15 per million = $0.033; real: $0.003 + $0.0075 = $0.0105.
    let answered = 0;
    let refusal: unknown;
    for (let i = 0; i < 20; i++) {
      const c = call(`req_plugin_${i}`, 2000);
      try {
        c.holds.push(await plugin.reserve(c));
      } catch (error) {
        refusal = error;
        break;
      }
      c.usage = usage;
      c.status = 200;
      c.upstream = { status: 200, attempts: 1, requestId: `req_up_${i}` };
      c.finishedAt = performance.now();
      c.cost = costOf(usage, c.model!.id, new Date(c.startedAtMs), { catalog });
      for (const hold of c.holds) hold.settle(c);
      plugin.record(c);
      answered += 1;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).status).toBe(429);
    expect((refusal as ApiError).type).toBe('billing_error');
    expect((refusal as ApiError).headers['x-should-retry']).toBe('false');
    expect((refusal as ApiError).message).toMatch(
      /daily budget of environment production \(\$0\.1\) would be exceeded.*resets at/,
    );
    // $0.10 − 7 × $0.0105 = $0.0265 < $0.033: the eighth is refused.
    expect(answered).toBe(7);
    const other = call('req_other_env', 2000, 'staging');
    expect((await plugin.reserve(other)).settle).toBeTypeOf('function');
    if (counters) {
      const states = await plugin.enforcer.status();
      expect(states[0]).toMatchObject({ spentPico: usdToPico('0.0105') * 7n, reservedPico: 0n });
    }
    await plugin.close();
    const rows = await moneyDb(store.db).selectFrom('ledger').selectAll().orderBy('request_id').execute();
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({
      key_id: 'key_plugin',
      requested_model: 'auto',
      model: 'claude-sonnet-4-6',
      route_tier: 'reasoning',
      status: 200,
      upstream_request_id: 'req_up_0',
      priced: 1,
    });
    expect(await spendTotal(store.db)).toBe(usdToPico('0.0105') * 7n);
    const listed = await plugin.adminRoutes
      .find((r) => r.method === 'GET' && r.pattern.test('/admin/budgets'))!
      .handle({}, undefined, new URLSearchParams());
    expect(listed.body).toMatchObject({
      data: [{ id: 'environment:production:daily', source: 'config', spent_usd: '0.073500' }],
    });
  });
});
