import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf, tokenCounts } from '../../src/catalog/cost.js';
import { formatUsdExact } from '../../src/catalog/money.js';
import { repriceRow } from '../../src/ledger/reports.js';
import { moneyDb } from '../../src/ledger/tables.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Usage } from '../../src/pipeline/types.js';
import type { Store } from '../../src/store/database.js';
import { SseUsageTap, usageFromJson } from '../../src/upstream/sse-usage.js';
import { entry, storeKinds } from '../ledger/stores.js';

/**
 * Billing from the response's usage, per current model, against figures computed here from the
 * rates as the API reference publishes them (typed in below, independent of catalog/catalog.json):
 * tokens × USD per million tokens = tokens × 10^6 pico-dollars per (USD/MTok).
 */
type RateRow = [input: string, write5m: string, write1h: string, read: string, output: string];
const reference: Record<string, { standard: RateRow; fast?: RateRow; geo: boolean }> = {
  'claude-fable-5-2': { standard: ['8', '10', '16', '0.20', '40'], geo: true },
  'claude-mythos-5-2': { standard: ['8', '10', '16', '0.20', '40'], geo: true },
  'claude-fable-5-1': { standard: ['10', '12.50', '20', '0.25', '50'], geo: true },
  'claude-mythos-5-1': { standard: ['10', '12.50', '20', '0.25', '50'], geo: true },
  'claude-opus-5-5': {
    standard: ['4', '5', '8', '0.20', '20'],
    fast: ['8', '10', '16', '0.40', '40'],
    geo: true,
  },
  'claude-opus-5': {
    standard: ['5', '6.25', '10', '0.50', '25'],
    fast: ['10', '12.50', '20', '1', '50'],
    geo: true,
  },
  'claude-opus-4-8': {
    standard: ['5', '6.25', '10', '0.50', '25'],
    fast: ['10', '12.50', '20', '1', '50'],
    geo: true,
  },
  'claude-sonnet-5-5': { standard: ['2', '2.50', '4', '0.10', '10'], geo: true },
  'claude-sonnet-5': { standard: ['2', '2.50', '4', '0.20', '10'], geo: true },
  'claude-sonnet-4-6': { standard: ['3', '3.75', '6', '0.30', '15'], geo: true },
  'claude-haiku-5-5': { standard: ['0.10', '0.125', '0.20', '0.01', '0.50'], geo: true },
  'claude-haiku-4-5': { standard: ['1', '1.25', '2', '0.10', '5'], geo: false },
};
const at = new Date('2026-11-27T12:00:00Z');

/** Exact pico-dollars of `tokens × rate (USD/MTok) × factor`, factor as a decimal string. */
function pico(tokens: number, rate: string, factor = '1'): bigint {
  const [units, scale] = fraction(rate);
  const [fUnits, fScale] = fraction(factor);
  const exact = BigInt(tokens) * units * fUnits * 1_000_000n;
  const divisor = 10n ** BigInt(scale + fScale);
  if (exact % divisor !== 0n) throw new Error('the cases are chosen to be whole pico-dollars');
  return exact / divisor;
}
function fraction(text: string): [bigint, number] {
  const [whole, decimals = ''] = text.split('.');
  return [BigInt(whole! + decimals), decimals.length];
}

// A request that used every token kind: uncached input, both cache-write TTLs, reads and output.
const counts = { input: 1_234, write5m: 2_000, write1h: 3_000, read: 40_000, output: 5_678 };
function usageOf(extra: Partial<Usage> = {}): Usage {
  return {
    input_tokens: counts.input,
    cache_creation_input_tokens: counts.write5m + counts.write1h,
    cache_creation: { ephemeral_5m_input_tokens: counts.write5m, ephemeral_1h_input_tokens: counts.write1h },
    cache_read_input_tokens: counts.read,
    output_tokens: counts.output,
    ...extra,
  };
}
function expected(rates: RateRow, factor = '1', webSearches = 0): bigint {
  const tokens = [counts.input, counts.write5m, counts.write1h, counts.read, counts.output];
  return (
    tokens.reduce((sum, n, i) => sum + pico(n, rates[i]!, factor), 0n) + BigInt(webSearches) * 10_000_000_000n
  );
}

interface Case {
  name: string;
  model: string;
  usage: Usage;
  pico: bigint;
  flags: { fast: boolean; geo: boolean; batch: boolean; longContext: boolean };
}
const cases: Case[] = [];
for (const [model, ref] of Object.entries(reference)) {
  const plain = { fast: false, geo: false, batch: false, longContext: false };
  cases.push({
    name: `${model} every token kind`,
    model,
    usage: usageOf(),
    pico: expected(ref.standard),
    flags: plain,
  });
  cases.push({
    name: `${model} in a batch (service_tier batch)`,
    model,
    usage: usageOf({ service_tier: 'batch' }),
    pico: expected(ref.standard, '0.5'),
    flags: { ...plain, batch: true },
  });
  cases.push({
    name: `${model} with inference_geo us from usage`,
    model,
    usage: usageOf({ inference_geo: 'us' }),
    pico: expected(ref.standard, ref.geo ? '1.1' : '1'),
    flags: { ...plain, geo: ref.geo },
  });
  cases.push({
    name: `${model} with 3 web searches`,
    model,
    usage: usageOf({ server_tool_use: { web_search_requests: 3, web_fetch_requests: 2 } }),
    pico: expected(ref.standard, '1', 3),
    flags: plain,
  });
  if (ref.fast) {
    cases.push({
      name: `${model} fast, in the us, with a search`,
      model,
      usage: usageOf({ speed: 'fast', inference_geo: 'us', server_tool_use: { web_search_requests: 1 } }),
      pico: expected(ref.fast, '1.1', 1),
      flags: { ...plain, fast: true, geo: true },
    });
  }
}
// Haiku 5.5: a prompt above 100,000 tokens puts the whole request, output included, at $0.50/$2.50.
const bigPrompt: Usage = {
  input_tokens: 60_000,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 40_001,
  output_tokens: 1_000,
};
cases.push({
  name: 'claude-haiku-5-5 prompt of 100,001 tokens',
  model: 'claude-haiku-5-5',
  usage: bigPrompt,
  pico: pico(60_000, '0.50') + pico(40_001, '0.05') + pico(1_000, '2.50'),
  flags: { fast: false, geo: false, batch: false, longContext: true },
});
cases.push({
  name: 'claude-haiku-5-5 prompt of exactly 100,000 tokens',
  model: 'claude-haiku-5-5',
  usage: { ...bigPrompt, cache_read_input_tokens: 40_000 },
  pico: pico(60_000, '0.10') + pico(40_000, '0.01') + pico(1_000, '0.50'),
  flags: { fast: false, geo: false, batch: false, longContext: false },
});

describe('billing from usage, per current model', () => {
  it('prices a few cases exactly as worked by hand', () => {
    // Opus 5.5, 1,000 in + 1,000 out, fast: 1000 × $8 + 1000 × $40 per MTok = $0.048; × 1.1 in the us.
    const fast = costOf(
      {
        input_tokens: 1000,
        output_tokens: 1000,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        speed: 'fast',
        inference_geo: 'us',
      },
      'claude-opus-5-5',
      at,
    );
    expect(formatUsdExact(fast.pico)).toBe('0.0528');
    // Sonnet 5.5 cache read of 1M tokens: $0.20 until 2026-10-06, $0.10 from 2026-10-07.
    const read = {
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1_000_000,
    };
    expect(formatUsdExact(costOf(read, 'claude-sonnet-5-5', new Date('2026-10-06T23:59:59Z')).pico)).toBe(
      '0.2',
    );
    expect(formatUsdExact(costOf(read, 'claude-sonnet-5-5', new Date('2026-10-07T00:00:00Z')).pico)).toBe(
      '0.1',
    );
    // Fable 5.2 read at 0.025×: 1M × $0.20.
    expect(formatUsdExact(costOf(read, 'claude-fable-5-2', at).pico)).toBe('0.2');
    // Haiku 5.5 batch above 100k: (100,001 × $0.50 + 10 × $2.50) × 0.5 = $0.0250127 5 → 25,012,750,000 pico.
    const big = {
      input_tokens: 100_001,
      output_tokens: 10,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      service_tier: 'batch',
    };
    expect(costOf(big, 'claude-haiku-5-5', at).pico).toBe(25_012_750_000n);
    // Opus 4.6 ignores fast mode: billed at standard rates even if the request asked.
    const asked = costOf(
      { input_tokens: 1000, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      'claude-opus-4-6',
      at,
      { speed: 'fast' },
    );
    expect(formatUsdExact(asked.pico)).toBe('0.005');
    // What usage says wins over what the request asked: the workspace default put it in the us.
    const geo = costOf(
      {
        input_tokens: 1000,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        inference_geo: 'us',
      },
      'claude-opus-5-5',
      at,
      { inferenceGeo: 'global' },
    );
    expect(formatUsdExact(geo.pico)).toBe('0.0044');
  });

  it.each(cases)('$name: JSON and stream agree with the reference to the pico-dollar', (c) => {
    const json = JSON.stringify({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: c.model,
      content: [],
      usage: c.usage,
    });
    const fromJson = usageFromJson(json).usage!;
    const tap = new SseUsageTap();
    tap.push(Buffer.from(streamOf(c.model, c.usage)));
    for (const usage of [fromJson, tap.usage]) {
      const cost = costOf(usage, c.model, at);
      expect(cost.priced).toBe(true);
      expect(cost.pico).toBe(c.pico);
      expect({ fast: cost.fast, geo: cost.geo, batch: cost.batch, longContext: cost.longContext }).toEqual(
        c.flags,
      );
      expect(Object.values(cost.breakdown).reduce((a, b) => a + b, 0n)).toBe(cost.pico);
    }
  });

  it('reports a stream cut before message_delta from what message_start said', () => {
    const tap = new SseUsageTap();
    tap.push(
      Buffer.from(streamOf('claude-opus-5-5', usageOf({ speed: 'fast' })).split('event: message_delta')[0]!),
    );
    expect(tap.usage).toMatchObject({ speed: 'fast', output_tokens: 1 });
  });
});

/** The stream the API sends: full usage in message_start, cumulative counts in message_delta. */
function streamOf(model: string, usage: Usage): string {
  const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const { output_tokens, server_tool_use, ...start } = usage;
  const startTools = server_tool_use
    ? { server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 } }
    : {};
  return (
    sse('message_start', {
      type: 'message_start',
      message: { id: 'msg_1', model, usage: { ...start, ...startTools, output_tokens: 1 } },
    }) +
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }) +
    sse('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'hi' },
    }) +
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn' },
      usage: {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        output_tokens,
        ...(server_tool_use ? { server_tool_use } : {}),
      },
    }) +
    sse('message_stop', { type: 'message_stop' })
  );
}

describe.each(storeKinds)('billing on the $kind ledger', ({ kind, open }) => {
  let store: Store;
  beforeAll(async () => {
    store = await open(`billing_${kind}`);
  });
  afterAll(() => store.close());

  it('stores every case at its exact cost with speed, geo, batch and server-tool counts, and re-prices it the same', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    const written = cases.map((c) =>
      entry({
        at: at.getTime(),
        model: c.model,
        usage: c.usage,
        cost: costOf(c.usage, c.model, at),
        batch: c.usage.service_tier === 'batch',
        geo: c.usage.inference_geo ?? null,
      }),
    );
    for (const e of written) writer.write(e);
    await writer.close();
    const rows = await moneyDb(store.db).selectFrom('ledger').selectAll().execute();
    expect(rows).toHaveLength(cases.length);
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    written.forEach((e, i) => {
      const row = byId.get(e.requestId)!;
      const c = cases[i]!;
      expect(BigInt(row.cost_pico), c.name).toBe(c.pico);
      expect(row).toMatchObject({
        priced: 1,
        speed: c.usage.speed ?? null,
        geo: c.usage.inference_geo ?? null,
        batch: c.flags.batch ? 1 : 0,
        web_search_requests: c.usage.server_tool_use?.web_search_requests ?? 0,
        web_fetch_requests: c.usage.server_tool_use?.web_fetch_requests ?? 0,
        unpriced_reason: null,
      });
      expect(tokenCounts(c.usage).cacheWrite1h).toBe(row.cache_write_1h_tokens);
      // The row plus the catalog give the same cost again.
      expect(repriceRow(row, defaultCatalog()).pico, c.name).toBe(c.pico);
    });
  });
});
