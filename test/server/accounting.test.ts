import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { formatUsdExact } from '../../src/catalog/money.js';
import { openStore } from '../../src/store/database.js';
import { createPostgresDatabase } from '../helpers/services.js';
import { startStack } from '../helpers/stack.js';

// Prices written out by hand (USD per million tokens), independent of the catalog and cost code:
// input, 5m cache write, 1h cache write, cache read, output.
const PRICES: Record<string, [number, number, number, number, number]> = {
  'claude-haiku-4-5-20251001': [1, 1.25, 2, 0.1, 5],
  'claude-sonnet-4-6': [3, 3.75, 6, 0.3, 15],
  'claude-opus-4-8': [5, 6.25, 10, 0.5, 25],
};

/** Micro-dollars, from usage and the table above, in integer arithmetic (prices × 100 are whole). */
function expectedMicros(model: string, usage: Anthropic.Usage): number {
  const [input, w5, w1, read, output] = PRICES[model]!.map((p) => Math.round(p * 100));
  const split = usage.cache_creation ?? {
    ephemeral_5m_input_tokens: usage.cache_creation_input_tokens ?? 0,
    ephemeral_1h_input_tokens: 0,
  };
  const centsPerMillionTokens =
    usage.input_tokens * input! +
    split.ephemeral_5m_input_tokens * w5! +
    split.ephemeral_1h_input_tokens * w1! +
    (usage.cache_read_input_tokens ?? 0) * read! +
    usage.output_tokens * output!;
  // cents per million tokens × tokens = 1e-8 USD units; one micro-dollar is 100 of them.
  return Math.round(centsPerMillionTokens / 100);
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function databaseFor(kind: 'sqlite' | 'postgres'): Promise<string> {
  if (kind === 'sqlite') return `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-ledger-')), 'sluice.db')}`;
  const database = await createPostgresDatabase('accounting');
  cleanups.push(database.drop);
  return database.url;
}

const longSystem = Array.from(
  { length: 400 },
  (_, i) => `Rule ${i}: answer politely and cite the handbook section.`,
).join(' ');

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`ledger through the gateway on ${kind}`, () => {
    it('records every request with the cost an independent computation gives, to the micro-dollar', async () => {
      const databaseUrl = await databaseFor(kind);
      const stack = await startStack({ databaseUrl });
      let closed = false;
      cleanups.push(async () => {
        if (!closed) await stack.close();
      });
      const client = stack.sdk();
      const answers: Array<{ id: string; model: string; usage: Anthropic.Usage }> = [];
      const keep = (message: Anthropic.Message, id: string | null) =>
        answers.push({ id: id!, model: message.model, usage: message.usage });

      const plain = await client.messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 60, messages: [{ role: 'user', content: 'Hello' }] })
        .withResponse();
      keep(plain.data, plain.response.headers.get('x-sluice-request-id'));
      for (const ttl of ['5m', '1h', '5m'] as const) {
        // One prefix per TTL: each is written once; the second 5m request reads what the first wrote.
        const cached = await client.messages
          .create({
            model: 'claude-sonnet-4-6',
            max_tokens: 40,
            system: [
              { type: 'text', text: `[${ttl}] ${longSystem}`, cache_control: { type: 'ephemeral', ttl } },
            ],
            messages: [{ role: 'user', content: `Question with ${ttl} cache` }],
          })
          .withResponse();
        keep(cached.data, cached.response.headers.get('x-sluice-request-id'));
      }
      const streamed = client.messages.stream({
        model: 'claude-opus-4-8',
        max_tokens: 80,
        messages: [{ role: 'user', content: 'Stream please' }],
      });
      const streamedMessage = await streamed.finalMessage();
      const { response: streamResponse } = await streamed.withResponse();
      keep(streamedMessage, streamResponse.headers.get('x-sluice-request-id'));

      expect(answers.some((a) => (a.usage.cache_creation?.ephemeral_1h_input_tokens ?? 0) > 0)).toBe(true);
      expect(answers.some((a) => (a.usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) > 0)).toBe(true);
      expect(answers.some((a) => (a.usage.cache_read_input_tokens ?? 0) > 0)).toBe(true);

      const counters = stack.simulator.counters();
      await stack.close();
      closed = true;
      const store = await openStore(databaseUrl);
      const rows = await store.db.selectFrom('ledger').selectAll().execute();
      await store.close();

      expect(rows).toHaveLength(answers.length);
      for (const answer of answers) {
        const row = rows.find((r) => r.request_id === answer.id)!;
        expect(row, answer.id).toBeDefined();
        expect(row.priced).toBe(1);
        expect(Math.round(Number(row.cost_pico) / 1e6)).toBe(expectedMicros(answer.model, answer.usage));
        expect(row.input_tokens).toBe(answer.usage.input_tokens);
        expect(row.output_tokens).toBe(answer.usage.output_tokens);
        expect(row.cache_read_tokens).toBe(answer.usage.cache_read_input_tokens ?? 0);
      }
      const sum = (field: 'input_tokens' | 'output_tokens' | 'cache_read_tokens') =>
        rows.reduce((a, r) => a + Number(r[field]), 0);
      expect(sum('input_tokens')).toBe(counters.inputTokens);
      expect(sum('output_tokens')).toBe(counters.outputTokens);
      expect(sum('cache_read_tokens')).toBe(counters.cacheReadInputTokens);
      expect(
        rows.reduce((a, r) => a + Number(r.cache_write_5m_tokens) + Number(r.cache_write_1h_tokens), 0),
      ).toBe(counters.cacheCreationInputTokens);
    });

    it('loses no row when the gateway stops gracefully under load', async () => {
      const databaseUrl = await databaseFor(kind);
      const stack = await startStack({
        databaseUrl,
        // Slow enough that all 40 are in flight at once, whether admitted together or queued.
        simulator: { latency: { ttftMs: 1000, tokensPerSecond: 400 } },
      });
      const client = stack.sdk();
      const inFlight = Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0
          ? client.messages.create({
              model: 'claude-haiku-4-5',
              max_tokens: 30,
              messages: [{ role: 'user', content: `n${i}` }],
            })
          : client.messages
              .stream({
                model: 'claude-haiku-4-5',
                max_tokens: 30,
                messages: [{ role: 'user', content: `s${i}` }],
              })
              .finalMessage()
        ).then(
          () => 'answered',
          () => 'failed',
        ),
      );
      // Close once every request has reached the gateway (some wait in its admission queue).
      for (let i = 0; i < 500 && stack.gateway.inFlight() < 40; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(stack.gateway.inFlight()).toBe(40);
      const closing = stack.close();
      const outcomes = await Promise.all(inFlight);
      await closing;
      const answered = outcomes.filter((o) => o === 'answered').length;
      expect(answered).toBeGreaterThan(0);
      const store = await openStore(databaseUrl);
      const rows = await store.db.selectFrom('ledger').select(['request_id', 'status']).execute();
      await store.close();
      expect(rows.filter((r) => r.status === 200)).toHaveLength(answered);
    });
  });
}

describe('a model without a price', () => {
  it('is counted at its worst case, recorded as unpriced with the reason, in a metric and warned about once', async () => {
    const databaseUrl = await databaseFor('sqlite');
    const stack = await startStack({ databaseUrl });
    const model = 'claude-mythos-preview';
    const costs: string[] = [];
    try {
      const client = stack.sdk();
      for (let i = 0; i < 2; i++) {
        const { response } = await client.messages
          .create({ model, max_tokens: 20, messages: [{ role: 'user', content: `hi ${i}` }] })
          .withResponse();
        expect(response.headers.get('x-sluice-cost-unpriced')).toBe('no price');
        costs.push(response.headers.get('x-sluice-cost-usd')!);
      }
      const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`sluice_unpriced_requests_total\\{model="${model}",reason="no price"\\} 2`),
      );
      const warnings = stack.logs.filter((line) => line.includes(model) && line.includes('"level":"warn"'));
      expect(warnings).toHaveLength(1);
    } finally {
      await stack.close();
    }
    const store = await openStore(databaseUrl);
    const rows = await store.db.selectFrom('ledger').selectAll().where('model', '=', model).execute();
    await store.close();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({ priced: 0, unpriced_reason: 'no price' });
      // The dearest Mythos rates in force ($10 in, $50 out) on the row's own counts.
      const worst = BigInt(row.input_tokens) * 10_000_000n + BigInt(row.output_tokens) * 50_000_000n;
      expect(BigInt(row.cost_pico)).toBe(worst);
      expect(costs).toContain(formatUsdExact(worst));
    }
  });
});
