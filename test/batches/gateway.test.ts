import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';
import { eventually, messageParams, startBatchGateway, type TestGateway } from './helpers.js';

const MODEL = 'claude-sonnet-5-5';

describe('Message Batches through the gateway (official SDK)', () => {
  let simulator: Simulator;
  let stack: TestGateway;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    // An hour of simulated time per second: a batch processes in 10 simulated minutes (~170 ms).
    simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], timeScale: 3600 });
    stack = await startBatchGateway(simulator, 'sqlite::memory:');
    key = (await stack.gateway.keys.create({ name: 'prod-batch-owner', environment: 'production' })).key;
    otherKey = (await stack.gateway.keys.create({ name: 'prod-batch-stranger', environment: 'production' }))
      .key;
  });
  afterAll(async () => {
    await stack?.close();
    await simulator?.close();
  });

  it('creates, retrieves, lists, reads results, cancels and deletes', async () => {
    const sdk = stack.sdk(key);
    const batch = await sdk.messages.batches.create({
      requests: [0, 1, 2].map((i) => ({ custom_id: `req-${i}`, params: messageParams(i, MODEL) })),
    });
    expect(batch.id).toMatch(/^msgbatch_/);
    expect(batch.processing_status).toBe('in_progress');
    expect(batch.request_counts.processing).toBe(3);

    const ended = await eventually(async () => {
      const got = await sdk.messages.batches.retrieve(batch.id);
      return got.processing_status === 'ended' ? got : undefined;
    });
    expect(ended.request_counts).toMatchObject({ succeeded: 3, processing: 0 });
    // Results are fetched through Sluice, never straight from the upstream.
    expect(ended.results_url).toBe(`${stack.gateway.url}/v1/messages/batches/${batch.id}/results`);

    const results: Array<{ custom_id: string; type: string; tier?: string | null }> = [];
    for await (const line of await sdk.messages.batches.results(batch.id)) {
      results.push({
        custom_id: line.custom_id,
        type: line.result.type,
        tier: line.result.type === 'succeeded' ? line.result.message.usage.service_tier : undefined,
      });
    }
    expect(results.map((r) => r.custom_id).sort()).toEqual(['req-0', 'req-1', 'req-2']);
    expect(results.every((r) => r.type === 'succeeded' && r.tier === 'batch')).toBe(true);

    // A slow batch, canceled: canceling, then ended with its unprocessed requests canceled.
    simulator.setBatchTiming({ processingMs: 24 * 3_600_000 - 60_000, cancelMs: 60_000 });
    const slow = await sdk.messages.batches.create({
      requests: [0, 1].map((i) => ({ custom_id: `slow-${i}`, params: messageParams(i, MODEL) })),
    });
    simulator.setBatchTiming({ processingMs: 10 * 60_000, cancelMs: 30_000 });
    const canceling = await sdk.messages.batches.cancel(slow.id);
    expect(canceling.processing_status).toBe('canceling');
    const canceled = await eventually(async () => {
      const got = await sdk.messages.batches.retrieve(slow.id);
      return got.processing_status === 'ended' ? got : undefined;
    });
    expect(canceled.request_counts).toMatchObject({ canceled: 2, succeeded: 0 });

    const listed = [];
    for await (const item of sdk.messages.batches.list({ limit: 1 })) listed.push(item.id);
    expect(listed).toEqual([slow.id, batch.id]);

    const deleted = await sdk.messages.batches.delete(batch.id);
    expect(deleted).toMatchObject({ id: batch.id, type: 'message_batch_deleted' });
    await expect(sdk.messages.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
  });

  it("takes every request of a batch from the key's quotas, as if sent one by one", async () => {
    const limited = (
      await stack.gateway.keys.create({ name: 'prod-batch-quota', environment: 'production', rpm: 5 })
    ).key;
    const sdk = stack.sdk(limited);
    const batchOf = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ custom_id: `${tag}-${i}`, params: messageParams(i, MODEL) }));
    simulator.resetCounters();
    // Larger than the quota itself: refused outright, and not to be retried as it is.
    const tooBig = await sdk.messages.batches.create({ requests: batchOf(6, 'big') }).catch((e) => e);
    expect(tooBig).toMatchObject({ status: 429 });
    expect(String(tooBig.message)).toMatch(/needs 6 of the rpm quota of this key, which allows 5/);
    expect(tooBig.headers.get('x-should-retry')).toBe('false');
    // 3 fit; 3 more do not until the minute has passed.
    await sdk.messages.batches.create({ requests: batchOf(3, 'first') });
    const second = await stack
      .sdk(limited)
      .messages.batches.create({ requests: batchOf(3, 'second') }, { maxRetries: 0 })
      .catch((e) => e);
    expect(second).toMatchObject({ status: 429 });
    expect(String(second.message)).toMatch(/Rate limit of this key exceeded \(rpm\)/);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(simulator.counters().byPath['POST /v1/messages/batches']).toBe(1);
  });

  it('lists batches and deferred work on the admin API and in /metrics', async () => {
    const created = await stack.sdk(key).messages.batches.create({
      requests: [{ custom_id: 'seen', params: messageParams(0, MODEL) }],
    });
    const overview = (await (
      await fetch(`${stack.gateway.url}/admin/batches`, {
        headers: { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' },
      })
    ).json()) as { data: Array<{ id: string; requests: number }>; deferred: Record<string, number> };
    expect(overview.data.find((b) => b.id === created.id)).toMatchObject({ requests: 1 });
    expect(Object.keys(overview.deferred).sort()).toEqual(['done', 'queued', 'submitted']);
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    const count = (state: string) =>
      Number(new RegExp(`sluice_batches\\{kind="batch",state="${state}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(count('in_progress') + count('recorded')).toBe(overview.data.length);
  });

  it("answers another key's batch id 404, as if absent, and sends nothing upstream", async () => {
    const batch = await stack.sdk(key).messages.batches.create({
      requests: [{ custom_id: 'mine', params: messageParams(0, MODEL) }],
    });
    const stranger = stack.sdk(otherKey);
    // Once every batch is recorded the collector asks the upstream nothing: any request seen is the stranger's.
    await eventually(async () => {
      const open = await stack.gateway.store.db
        .selectFrom('message_batches')
        .select('id')
        .where('state', '=', 'in_progress')
        .execute();
      return open.length === 0 ? true : undefined;
    });
    simulator.resetCounters();
    const attempts = [
      stranger.messages.batches.retrieve(batch.id),
      stranger.messages.batches.cancel(batch.id),
      stranger.messages.batches.delete(batch.id),
      stranger.messages.batches.results(batch.id),
    ];
    for (const attempt of attempts) await expect(attempt).rejects.toMatchObject({ status: 404 });
    const listed = [];
    for await (const item of stranger.messages.batches.list()) listed.push(item.id);
    expect(listed).toEqual([]);
    expect(simulator.counters().requests).toBe(0);
  });

  it('refuses a batch whose request breaks the key policy, naming its custom_id, before the upstream', async () => {
    const limited = (
      await stack.gateway.keys.create({
        name: 'prod-batch-limited',
        environment: 'production',
        models: [MODEL],
        maxTokens: 100,
      })
    ).key;
    simulator.resetCounters();
    const sdk = stack.sdk(limited);
    await expect(
      sdk.messages.batches.create({
        requests: [
          { custom_id: 'fine', params: messageParams(0, MODEL) },
          { custom_id: 'too-long', params: { ...messageParams(1, MODEL), max_tokens: 5000 } },
        ],
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: {
        error: {
          message: 'requests.1 (custom_id "too-long"): max_tokens: 5000 is above this key\'s cap of 100',
        },
      },
    });
    await expect(
      sdk.messages.batches.create({
        requests: [{ custom_id: 'other-model', params: messageParams(0, 'claude-opus-5-5') }],
      }),
    ).rejects.toMatchObject({
      status: 403,
      error: { error: { message: expect.stringMatching(/^requests\.0 \(custom_id "other-model"\): key/) } },
    });
    expect(simulator.counters().requests).toBe(0);
  });
});
