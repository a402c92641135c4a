import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import {
  cacheSavings,
  costOf,
  costOnModel,
  requestedCacheWrite,
  tokenCounts,
  worstCaseCost,
} from '../../src/catalog/cost.js';
import {
  displayUsd,
  divideByPowerOfTen,
  divideSafeByPowerOfTen,
  formatUsd,
  formatUsdExact,
  picoToMicros,
  usdToPico,
} from '../../src/catalog/money.js';
import { setUnpricedWarning, unpricedRequests } from '../../src/catalog/unpriced.js';
import type { Usage } from '../../src/pipeline/types.js';
import { SseUsageTap, usageFromJson } from '../../src/upstream/sse-usage.js';

function usage(u: Partial<Usage>): Usage {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...u,
  };
}

const before = new Date('2026-08-31T23:59:59Z');
const after = new Date('2026-09-01T00:00:00Z');
const now = new Date('2026-10-15T12:00:00Z');

// Expected values computed by hand: tokens × USD per million tokens / 1e6 (× 0.5 batch, × 1.1 us geo).
const table: Array<{
  name: string;
  model: string;
  usage: Usage;
  at?: Date;
  batch?: boolean;
  geo?: string;
  usd: string;
  longContext?: boolean;
}> = [
  {
    name: 'haiku plain input and output',
    model: 'claude-haiku-4-5',
    usage: usage({ input_tokens: 1000, output_tokens: 500 }),
    usd: '0.0035',
  },
  {
    // 100×1.00 + 2000×1.25 + 10000×0.10 + 200×5.00 = 100 + 2500 + 1000 + 1000 µ$
    name: 'haiku 5m cache write (no TTL split) and cache read',
    model: 'claude-haiku-4-5-20251001',
    usage: usage({
      input_tokens: 100,
      cache_creation_input_tokens: 2000,
      cache_read_input_tokens: 10000,
      output_tokens: 200,
    }),
    usd: '0.0046',
  },
  {
    // 50×3 + 1000×3.75 + 3000×6 + 100×15 = 150 + 3750 + 18000 + 1500 µ$; writes counted once, not twice
    name: 'sonnet 5m and 1h writes from the TTL split',
    model: 'claude-sonnet-4-5',
    usage: usage({
      input_tokens: 50,
      cache_creation_input_tokens: 4000,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 3000 },
      output_tokens: 100,
    }),
    usd: '0.0234',
  },
  {
    // 40 unexplained tokens are billed as 5m: 40×1.25 + 60×2 = 50 + 120 µ$
    name: 'split that does not explain every written token',
    model: 'claude-haiku-4-5',
    usage: usage({
      cache_creation_input_tokens: 100,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 60 },
    }),
    usd: '0.00017',
  },
  {
    name: 'opus 4.1 one token each',
    model: 'claude-opus-4-1',
    usage: usage({ input_tokens: 1, output_tokens: 1 }),
    usd: '0.00009',
  },
  {
    name: 'haiku 3.5 fractional micro-dollars',
    model: 'claude-3-5-haiku',
    usage: usage({ input_tokens: 7, output_tokens: 3 }),
    usd: '0.0000176',
  },
  {
    name: 'fable input and cache read',
    model: 'claude-fable-5',
    usage: usage({ input_tokens: 1, cache_read_input_tokens: 1 }),
    usd: '0.000011',
  },
  {
    name: 'opus 4.5 batch halves it',
    model: 'claude-opus-4-5',
    usage: usage({ input_tokens: 1000, output_tokens: 1000 }),
    batch: true,
    usd: '0.015',
  },
  {
    name: 'opus 4.6 inference_geo us × 1.1',
    model: 'claude-opus-4-6',
    usage: usage({ input_tokens: 1000, output_tokens: 1000 }),
    geo: 'us',
    usd: '0.033',
  },
  {
    name: 'opus 4.5 is not a geo-priced model',
    model: 'claude-opus-4-5',
    usage: usage({ input_tokens: 1000, output_tokens: 1000 }),
    geo: 'us',
    usd: '0.03',
  },
  {
    name: 'opus 4.6 geo outside us is list price',
    model: 'claude-opus-4-6',
    usage: usage({ input_tokens: 1000, output_tokens: 1000 }),
    geo: 'eu',
    usd: '0.03',
  },
  {
    // 6.25 × 0.5 × 1.1 = 3.4375 µ$ per 5m write token; 0.30 × 0.5 × 1.1 = 0.165 µ$ per read token
    name: 'batch and geo stack exactly',
    model: 'claude-opus-4-6',
    usage: usage({ cache_creation_input_tokens: 1 }),
    batch: true,
    geo: 'us',
    usd: '0.0000034375',
  },
  {
    name: 'sonnet 4.6 cache read batch + geo',
    model: 'claude-sonnet-4-6',
    usage: usage({ cache_read_input_tokens: 1 }),
    batch: true,
    geo: 'us',
    usd: '0.000000165',
  },
  {
    // total input 200,001 > 200k: whole request at 6 / 0.60 / 22.50: 900000 + 30000.6 + 22500 µ$
    name: 'sonnet 4.5 long context billed whole',
    model: 'claude-sonnet-4-5',
    usage: usage({ input_tokens: 150000, cache_read_input_tokens: 50001, output_tokens: 1000 }),
    usd: '0.9525006',
    longContext: true,
  },
  {
    name: 'sonnet 4.5 at exactly 200k is not long context',
    model: 'claude-sonnet-4-5',
    usage: usage({ input_tokens: 200000 }),
    usd: '0.6',
    longContext: false,
  },
  {
    // 100000×6 + 100001×12 + 10×22.5 = 600000 + 1200012 + 225 µ$
    name: 'sonnet 4 long context with a 1h write',
    model: 'claude-sonnet-4-0',
    usage: usage({
      input_tokens: 100000,
      cache_creation_input_tokens: 100001,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 100001 },
      output_tokens: 10,
    }),
    usd: '1.800237',
    longContext: true,
  },
  {
    // long context and batch stack: (100000×6 + 100001×7.50 + 1000×22.5) × 0.5 = 1372507.5 × 0.5 µ$
    name: 'sonnet 4.5 long context in a batch',
    model: 'claude-sonnet-4-5',
    usage: usage({ input_tokens: 100000, cache_creation_input_tokens: 100001, output_tokens: 1000 }),
    batch: true,
    usd: '0.68625375',
    longContext: true,
  },
  {
    name: 'sonnet 4.6 has no long-context premium',
    model: 'claude-sonnet-4-6',
    usage: usage({ input_tokens: 300000 }),
    usd: '0.9',
    longContext: false,
  },
  {
    name: 'sonnet 5 introductory price',
    model: 'claude-sonnet-5',
    usage: usage({ input_tokens: 1_000_000, output_tokens: 1_000_000 }),
    at: before,
    usd: '12',
  },
  {
    // The step to $3/$15 announced for 2026-09-01 was cancelled: still $2/$10.
    name: 'sonnet 5 after 2026-09-01 keeps its price',
    model: 'claude-sonnet-5',
    usage: usage({ input_tokens: 1_000_000, output_tokens: 1_000_000 }),
    at: after,
    usd: '12',
  },
  {
    name: 'opus 5 all kinds',
    model: 'claude-opus-5',
    usage: usage({
      input_tokens: 10,
      cache_creation_input_tokens: 20,
      cache_read_input_tokens: 30,
      output_tokens: 40,
    }),
    usd: '0.001190',
  },
];

describe('costOf', () => {
  it.each(table)('$name', (row) => {
    const cost = costOf(row.usage, row.model, row.at ?? now, { batch: row.batch, inferenceGeo: row.geo });
    expect(cost.priced).toBe(true);
    if (!cost.priced) return;
    expect(formatUsdExact(cost.pico)).toBe(formatUsdExact(usdToPico(row.usd)));
    const parts = Object.values(cost.breakdown).reduce((a, b) => a + b, 0n);
    expect(parts).toBe(cost.pico);
    if (row.longContext !== undefined) expect(cost.longContext).toBe(row.longContext);
  });

  it('names the catalog id it priced, whatever alias was asked for', () => {
    const cost = costOf(usage({ input_tokens: 1 }), 'claude-haiku-4-5', now);
    expect(cost.priced && cost.model).toBe('claude-haiku-4-5-20251001');
  });

  it('records a model without a price as unpriced at its worst case, counts it and warns once', async () => {
    const warnings: string[] = [];
    setUnpricedWarning((message) => warnings.push(message));
    const model = 'claude-mythos-preview';
    const counted = async () =>
      ((await unpricedRequests.get()).values.find((v) => v.labels.model === model)?.value ?? 0) as number;
    const start = await counted();
    const first = costOf(usage({ input_tokens: 5, output_tokens: 5 }), model, now);
    const second = costOf(usage({ input_tokens: 5 }), model, now);
    // The dearest Mythos rates in force: 5 × $10 + 5 × $50 per million tokens.
    expect(first).toMatchObject({ priced: false, model, reason: 'no price', pico: usdToPico('0.0003') });
    expect(second).toMatchObject({ priced: false, pico: usdToPico('0.00005') });
    expect(await counted()).toBe(start + 2);
    expect(warnings.filter((w) => w.includes(model))).toHaveLength(1);
    // Unknown names: their family's dearest callable rates (Opus: $5 in), else the catalog's ($50 out).
    expect(costOf(usage({ input_tokens: 1_000_000 }), 'claude-opus-9', now)).toMatchObject({
      priced: false,
      reason: 'unknown model',
      pico: usdToPico('5'),
    });
    expect(costOf(usage({ output_tokens: 1_000_000 }), 'mystery-model', now)).toMatchObject({
      priced: false,
      pico: usdToPico('50'),
    });
    expect(costOf(usage({}), 'claude-sonnet-5', new Date('2026-06-01T00:00:00Z'))).toMatchObject({
      priced: false,
    });
    // The `allow` policy lets it through uncounted; the row still says it was not priced.
    const allowing = new Catalog({ unpriced: 'allow' });
    expect(costOf(usage({ input_tokens: 5 }), model, now, { catalog: allowing })).toMatchObject({
      priced: false,
      pico: 0n,
    });
  });

  it('prices what the user overrides, exactly even with more decimals', () => {
    const catalog = new Catalog({
      prices: [
        {
          model: 'claude-haiku-4-5',
          from: '2027-01-01',
          source: 'test',
          checked: '2026-11-27',
          input: '0.90',
          cacheWrite5m: '1.125',
          cacheWrite1h: '1.80',
          cacheRead: '0.09',
          output: '4.50',
        },
      ],
    });
    // 3 × 1.125 × 0.5 = 1.6875 µ$
    const cost = costOf(
      usage({ cache_creation_input_tokens: 3 }),
      'claude-haiku-4-5',
      new Date('2027-02-01'),
      {
        catalog,
        batch: true,
      },
    );
    expect(cost.priced && formatUsdExact(cost.pico)).toBe('0.0000016875');
  });

  it('stays exact when a rate is a fraction of a pico-dollar per token, or a cost passes 2^53 pico-dollars', () => {
    const catalog = new Catalog({
      prices: [
        {
          model: 'claude-haiku-4-5',
          from: '2027-01-01',
          source: 'test',
          checked: '2026-11-27',
          input: '0.0000015',
          cacheWrite5m: '1.25',
          cacheWrite1h: '2',
          cacheRead: '0.1',
          output: '75',
        },
      ],
    });
    const at = new Date('2027-02-01');
    // 3 × 1.5 pico = 4.5 → 5 (half away from zero).
    const fractional = costOf(usage({ input_tokens: 3 }), 'claude-haiku-4-5', at, { catalog });
    expect(fractional.priced && fractional.pico).toBe(5n);
    // 2e9 × 75e6 pico = 1.5e17 pico, beyond Number's exact integers.
    const huge = costOf(usage({ output_tokens: 2_000_000_000 }), 'claude-haiku-4-5', at, { catalog });
    expect(huge.priced && huge.pico).toBe(150_000_000_000_000_000n);
    expect(huge.priced && huge.breakdown.output).toBe(150_000_000_000_000_000n);
  });
});

describe('streamed and non-streamed responses cost the same', () => {
  const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

  it.each(table.filter((row) => !row.batch))('$name', (row) => {
    const { output_tokens, ...startUsage } = row.usage;
    const json = JSON.stringify({
      id: 'msg_1',
      type: 'message',
      model: row.model,
      content: [],
      usage: row.usage,
    });
    const fromJson = usageFromJson(json).usage!;
    const tap = new SseUsageTap();
    const stream =
      sse('message_start', {
        type: 'message_start',
        message: { id: 'msg_1', model: row.model, usage: { ...startUsage, output_tokens: 1 } },
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
        usage: { output_tokens },
      }) +
      sse('message_stop', { type: 'message_stop' });
    // Split mid-event, as the network does.
    tap.push(Buffer.from(stream.slice(0, 57)));
    tap.push(Buffer.from(stream.slice(57)));
    const options = { inferenceGeo: row.geo };
    const expected = usdToPico(row.usd);
    const streamed = costOf(tap.usage, row.model, row.at ?? now, options);
    const plain = costOf(fromJson, row.model, row.at ?? now, options);
    expect(streamed.priced && streamed.pico).toBe(expected);
    expect(plain.priced && plain.pico).toBe(expected);
  });
});

describe('comparisons and estimates', () => {
  it('prices the same usage on another model', () => {
    const u = usage({ input_tokens: 1000, output_tokens: 1000 });
    const opus = costOnModel(u, 'claude-opus-4-1', now);
    expect(opus.priced && formatUsdExact(opus.pico)).toBe('0.09');
  });

  it('reports what cache reads saved against plain input, and the write premium', () => {
    const saved = cacheSavings(
      usage({
        input_tokens: 100,
        cache_creation_input_tokens: 2000,
        cache_read_input_tokens: 10000,
        output_tokens: 200,
      }),
      'claude-haiku-4-5',
      now,
    );
    // reads: 10000 × (1.00 − 0.10) = 9000 µ$; writes: 2000 × (1.25 − 1.00) = 500 µ$
    expect(saved).toEqual({ readSavingsPico: usdToPico('0.009'), writePremiumPico: usdToPico('0.0005') });
    expect(cacheSavings(usage({}), 'claude-mythos-preview', now)).toBeUndefined();
  });

  it('bounds a request before it is sent', () => {
    const plain = worstCaseCost('claude-sonnet-4-5', now, { inputTokens: 1000, maxTokens: 4096 });
    expect(plain.priced && formatUsdExact(plain.pico)).toBe('0.06444');
    const hourCache = worstCaseCost('claude-sonnet-4-5', now, {
      inputTokens: 1000,
      maxTokens: 4096,
      cacheWrite: '1h',
    });
    expect(hourCache.priced && formatUsdExact(hourCache.pico)).toBe('0.06744');
    const long = worstCaseCost('claude-sonnet-4-5', now, { inputTokens: 250000, maxTokens: 1000 });
    expect(long.priced && formatUsdExact(long.pico)).toBe('1.5225');
    // No price: counted at the dearest Mythos rates in force ($10 in, $50 out), never $0.
    const unpriced = worstCaseCost('claude-mythos-preview', now, { inputTokens: 1, maxTokens: 1 });
    expect(unpriced).toMatchObject({ priced: false, reason: 'no price', pico: usdToPico('0.00006') });
  });

  it('finds the cache TTL a request asks for', () => {
    expect(requestedCacheWrite({ messages: [{ role: 'user', content: 'hi' }] })).toBeUndefined();
    expect(requestedCacheWrite({ cache_control: { type: 'ephemeral' }, messages: [] })).toBe('5m');
    expect(
      requestedCacheWrite({
        system: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral' } }],
        messages: [
          {
            role: 'user',
            content: [{ type: 'text', text: 'y', cache_control: { type: 'ephemeral', ttl: '1h' } }],
          },
        ],
      }),
    ).toBe('1h');
  });

  it('splits usage into billed kinds', () => {
    expect(
      tokenCounts(
        usage({
          input_tokens: 1,
          cache_creation_input_tokens: 5,
          cache_read_input_tokens: 7,
          output_tokens: 9,
        }),
      ),
    ).toEqual({
      input: 1,
      cacheWrite5m: 5,
      cacheWrite1h: 0,
      cacheRead: 7,
      output: 9,
      webSearches: 0,
      webFetches: 0,
      codeExecutions: 0,
    });
  });
});

describe('money formatting', () => {
  it('divides in Number arithmetic exactly as in bigint, rounding half away from zero', () => {
    const values = [0, 1, -1, 5, -5, 15, -15, 4_999_999, 5_000_000, -5_000_000, Number.MAX_SAFE_INTEGER];
    values.push(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 500_000, 9_007_199_254_500_000);
    for (let i = 0; i < 5000; i++) {
      const magnitude = 10 ** Math.floor(Math.random() * 16);
      values.push(Math.round((Math.random() - 0.5) * 2 * magnitude));
    }
    for (const value of values) {
      for (let scale = 0; scale <= 12; scale++) {
        expect(divideSafeByPowerOfTen(value, scale)).toBe(Number(divideByPowerOfTen(BigInt(value), scale)));
      }
    }
  });

  it('writes exact USD text in Number arithmetic as in bigint, up to 2^53 pico-dollars', () => {
    const values = [
      0n,
      1n,
      10n,
      999_999_999_999n,
      1_000_000_000_000n,
      1_000_000_000_001n,
      8_999_999_999_999_999n,
    ];
    values.push(BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n, 123_450_000_000_000n);
    for (let i = 0; i < 3000; i++)
      values.push(BigInt(Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 16))));
    for (const pico of values) {
      const text = formatUsdExact(pico);
      // Read back exactly, and no trailing zeros after a decimal point.
      expect(usdToPico(text)).toBe(pico);
      expect(text).not.toMatch(/\.\d*0$|\.$/);
    }
  });

  it('converts and rounds pico-dollars', () => {
    expect(usdToPico('1.25')).toBe(1_250_000_000_000n);
    expect(formatUsd(687_500n, 6)).toBe('0.000001');
    expect(formatUsd(usdToPico('0.0000034375'), 6)).toBe('0.000003');
    expect(formatUsd(usdToPico('12.3456785'), 6)).toBe('12.345679');
    expect(formatUsd(usdToPico('3'), 2)).toBe('3.00');
    expect(formatUsd(-usdToPico('0.5'), 2)).toBe('-0.50');
    expect(formatUsdExact(usdToPico('0.0006875'))).toBe('0.0006875');
    expect(formatUsdExact(0n)).toBe('0');
    expect(picoToMicros(usdToPico('0.0000015'))).toBe(2n);
    expect(picoToMicros(usdToPico('0.0000014999'))).toBe(1n);
    expect(displayUsd(usdToPico('1234.567'))).toBe('$1,234.57');
    expect(displayUsd(usdToPico('0.0123'))).toBe('$0.0123');
  });
});
