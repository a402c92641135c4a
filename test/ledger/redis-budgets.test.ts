import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { costOf, worstCaseCost } from '../../src/catalog/cost.js';
import { usdToPico } from '../../src/catalog/money.js';
import type { ThresholdEvent } from '../../src/ledger/budget-enforcer.js';
import { setBudget } from '../../src/ledger/budget-store.js';
import { RedisBudgetEnforcer } from '../../src/ledger/redis-budgets.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';
import { entry, storeKinds } from './stores.js';

const model = 'claude-sonnet-4-5-20250929';

describe('budgets shared through Redis', () => {
  let store: Store;
  let prefix: string;
  const instances: RedisBudgetEnforcer[] = [];
  const start = (options: { clock?: () => number; onThreshold?: (e: ThresholdEvent) => void } = {}) => {
    const instance = new RedisBudgetEnforcer(store.db, { url: redisUrl, prefix, ...options });
    instances.push(instance);
    return instance;
  };

  beforeEach(async () => {
    store = await storeKinds[0]!.open('redis-budgets');
    prefix = redisPrefix('budgets');
  });
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.close();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await store.close();
  });

  it('keeps two instances with 50 concurrent requests under one $1.00 budget', async () => {
    await setBudget(store.db, { scope: 'global', window: 'monthly', usd: '1.00' }, 'cli');
    const a = start();
    const b = start();
    await Promise.all([a.load(), b.load()]);
    const at = new Date();
    let settled = 0n;
    let refused = 0;
    const request = async (i: number) => {
      const gate = i % 2 === 0 ? a : b;
      const worst = worstCaseCost(model, at, { inputTokens: 2000, maxTokens: 2000 });
      const admission = await gate.reserve(
        { keyId: `key_${i % 5}`, environment: 'production' },
        worst.priced ? worst.pico : 0n,
      );
      if (!admission.ok) {
        refused += 1;
        expect(admission.refusal.message).toMatch(/monthly budget of the gateway \(\$1\) would be exceeded/);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 11));
      const usage = {
        input_tokens: 2000,
        output_tokens: 1000 + ((i * 37) % 1000),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      };
      const cost = costOf(usage, model, at);
      settled += cost.priced ? cost.pico : 0n;
      admission.reservation.settle(cost.priced ? cost.pico : 0n);
    };
    for (let wave = 0; wave < 3; wave++)
      await Promise.all(Array.from({ length: 50 }, (_, i) => request(wave * 50 + i)));
    // Settlement is asynchronous: wait until nothing is reserved any more.
    for (let i = 0; i < 100 && (await a.status())[0]!.reservedPico > 0n; i++)
      await new Promise((r) => setTimeout(r, 10));
    const [state] = await b.status();
    expect(state!.reservedPico).toBe(0n);
    expect(state!.spentPico).toBe(settled);
    expect(settled).toBeLessThanOrEqual(usdToPico('1.00'));
    expect(settled).toBeGreaterThan(usdToPico('0.90'));
    expect(refused).toBeGreaterThan(0);
  });

  it('seeds a window from the ledger once, not once per instance', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    const row = entry({ at: Date.now(), environment: 'production', usage: { input_tokens: 100_000 } });
    writer.write(row);
    await writer.close();
    await setBudget(
      store.db,
      { scope: 'environment', subject: 'production', window: 'daily', usd: '5' },
      'cli',
    );
    const a = start();
    await a.load();
    await start().load();
    await a.load();
    const [state] = await a.status();
    expect(state!.spentPico).toBe(row.cost.priced ? row.cost.pico : -1n);
  });

  it('releases what a crashed instance had reserved once its heartbeat expires', async () => {
    await setBudget(store.db, { scope: 'global', window: 'total', usd: '1' }, 'cli');
    const crashed = new RedisBudgetEnforcer(store.db, { url: redisUrl, prefix, heartbeatTtlMs: 1000 });
    await crashed.load();
    const survivor = start();
    await survivor.load();
    expect((await crashed.reserve({}, usdToPico('0.9'))).ok).toBe(true);
    expect((await survivor.reserve({}, usdToPico('0.5'))).ok).toBe(false);
    // The process dies with the request in flight: no settle, no goodbye; the heartbeat lapses.
    crashed.redis.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await survivor.load();
    const admitted = await survivor.reserve({}, usdToPico('0.5'));
    expect(admitted.ok).toBe(true);
    await crashed.close();
  });

  it('re-seeds a window Redis lost from the ledger, and each instance puts back its share', async () => {
    await setBudget(store.db, { scope: 'global', window: 'daily', usd: '1.00' }, 'cli');
    const a = new RedisBudgetEnforcer(store.db, { url: redisUrl, prefix, heartbeatTtlMs: 300 });
    instances.push(a);
    const b = start();
    const writer = new LedgerWriter(store.db, {
      intervalMs: 60_000,
      onStored: (ids) => a.rowsStored(ids),
    });
    await Promise.all([a.load(), b.load()]);
    const payer = { environment: 'production' };
    const cost = (i: number) => {
      const row = entry({ requestId: `req_lost_${i}`, at: Date.now(), usage: { input_tokens: 30_000 } });
      return { row, pico: row.cost.priced ? row.cost.pico : -1n };
    };
    // Six requests settled and stored, four settled but their rows still buffered, two in flight.
    const settled = Array.from({ length: 10 }, (_, i) => cost(i));
    for (const { row, pico } of settled) {
      const admission = await a.reserve(payer, pico);
      if (!admission.ok) throw new Error('refused');
      admission.reservation.settle(pico, row.requestId);
    }
    for (const { row } of settled.slice(0, 6)) writer.write(row);
    await writer.flush();
    for (const { row } of settled.slice(6)) writer.write(row);
    const inFlight = [await a.reserve(payer, usdToPico('0.05')), await a.reserve(payer, usdToPico('0.05'))];
    const [before] = await b.status();
    const spentBefore = settled.reduce((sum, s) => sum + s.pico, 0n);
    expect(before!.spentPico).toBe(spentBefore);
    expect(before!.reservedPico).toBe(usdToPico('0.10'));

    // Rows stored within a second of a seed are counted again (clocks of instances may differ).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Redis forgets the window (a restart without persistence, a flush, an eviction).
    const redis = new Redis(redisUrl);
    const keys = (await redis.keys(`${prefix}*`)).filter((key) => !key.includes(':instance:'));
    expect(keys).toHaveLength(1);
    await redis.del(...keys);
    redis.disconnect();

    // The next reservation, on the other instance, seeds the window from the ledger first.
    expect((await b.reserve(payer, 1n)).ok).toBe(true);
    const [seeded] = await b.status();
    expect(seeded!.spentPico).toBe(settled.slice(0, 6).reduce((sum, s) => sum + s.pico, 0n));
    // Within a heartbeat the instance that holds the rest puts it back: four unstored rows, two reservations.
    for (let i = 0; i < 100 && (await b.status())[0]!.spentPico !== spentBefore; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const [synced] = await b.status();
    expect(synced!.spentPico).toBe(spentBefore);
    expect(synced!.reservedPico).toBe(usdToPico('0.10') + 1n);

    // The requests in flight end; nothing is counted twice and nothing stays reserved.
    for (const admission of inFlight)
      if (admission.ok) admission.reservation.settle(usdToPico('0.02'), undefined);
    for (let i = 0; i < 100 && (await b.status())[0]!.reservedPico !== 1n; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const [after] = await b.status();
    expect(after!.reservedPico).toBe(1n);
    expect(after!.spentPico).toBe(spentBefore + usdToPico('0.04'));
    // And the budget holds: what is left is $1 minus all of it, not minus the ledger's part alone.
    const left = usdToPico('1.00') - after!.spentPico - 1n;
    expect((await b.reserve(payer, left + 1n)).ok).toBe(false);
    expect((await b.reserve(payer, left)).ok).toBe(true);
    await writer.close();
  });

  it('counts a settlement Redis did not take once it is reachable again', async () => {
    await setBudget(store.db, { scope: 'global', window: 'daily', usd: '1.00' }, 'cli');
    const a = new RedisBudgetEnforcer(store.db, { url: redisUrl, prefix, heartbeatTtlMs: 300 });
    instances.push(a);
    await a.load();
    const admission = await a.reserve({}, usdToPico('0.10'));
    if (!admission.ok) throw new Error('refused');
    a.redis.disconnect();
    admission.reservation.settle(usdToPico('0.07'), 'req_unsettled');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await a.redis.connect();
    // Within a heartbeat: the reservation is gone and the cost counted, once.
    for (let i = 0; i < 150 && (await a.status())[0]!.spentPico === 0n; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const [state] = await a.status();
    expect(state!.spentPico).toBe(usdToPico('0.07'));
    expect(state!.reservedPico).toBe(0n);
  });

  it('rolls to a new window at the boundary and reports thresholds', async () => {
    let now = Date.UTC(2026, 9, 15, 23, 59, 59);
    const events: ThresholdEvent[] = [];
    await setBudget(
      store.db,
      { scope: 'key', subject: 'key_a', window: 'daily', usd: '1', thresholds: [50, 100] },
      'cli',
    );
    const gate = start({ clock: () => now, onThreshold: (e) => events.push(e) });
    await gate.load();
    const first = await gate.reserve({ keyId: 'key_a' }, usdToPico('0.6'));
    if (first.ok) first.reservation.settle(usdToPico('0.6'));
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(events.map((e) => e.threshold)).toEqual([50]);
    const refused = await gate.reserve({ keyId: 'key_a' }, usdToPico('0.6'));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.refusal.resetsAt?.toISOString()).toBe('2026-10-16T00:00:00.000Z');
    expect(events.map((e) => [e.threshold, e.refused])).toEqual([
      [50, false],
      [100, true],
    ]);
    now = Date.UTC(2026, 9, 16, 0, 0, 0);
    expect((await gate.reserve({ keyId: 'key_a' }, usdToPico('0.6'))).ok).toBe(true);
  });
});

describe('budgets on an unreachable Redis', () => {
  // Nothing listens on port 1: the connection is refused at once.
  const unreachable = 'redis://sluice-user:sluice-secret@127.0.0.1:1/0';
  let store: Store;
  beforeEach(async () => {
    store = await storeKinds[0]!.open('redis-down');
    await setBudget(store.db, { scope: 'global', window: 'monthly', usd: '1.00' }, 'cli');
  });
  afterEach(() => store.close());

  it('starts with failOpen and admits requests unbudgeted, reporting Redis by its URL', async () => {
    const errors: string[] = [];
    const gate = new RedisBudgetEnforcer(store.db, {
      url: unreachable,
      failOpen: true,
      onError: (error) => errors.push((error as Error).message),
    });
    await gate.load();
    const payer = { keyId: 'key_1', environment: 'production' };
    expect(gate.hasBudgetFor(payer)).toBe(true);
    const admission = await gate.reserve(payer, usdToPico('0.10'));
    expect(admission.ok).toBe(true);
    expect(errors[0]).toContain('Redis at redis://127.0.0.1:1/0 is unreachable');
    expect(errors.join('\n')).not.toContain('sluice-secret');
    await gate.close();
  });

  it('without failOpen, stops start-up naming Redis and the URL, without credentials', async () => {
    const gate = new RedisBudgetEnforcer(store.db, { url: unreachable, failOpen: false });
    const failure = await gate.load().then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/^budget counters: Redis at redis:\/\/127\.0\.0\.1:1\/0 is unreachable/);
    expect(failure).not.toContain('sluice-secret');
    expect(failure).not.toContain('sluice-user');
    await gate.close();
  });
});
