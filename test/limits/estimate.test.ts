import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InputTokenEstimator, inputTokenBound } from '../../src/limits/estimate.js';
import type { MessagesRequestBody } from '../../src/pipeline/types.js';
import { countPromptTokens } from '../../src/simulator/tokens.js';
import type { PromptRequest } from '../../src/simulator/types.js';
import { fuzzParameters } from '../helpers/fuzz.js';

const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(80); // 3600 characters

function body(text: string): MessagesRequestBody {
  return { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: text }] };
}

describe('input token estimator', () => {
  it('estimates from characters, with about 30 % more tokens for the claude-v2 tokenizer', () => {
    const estimator = new InputTokenEstimator();
    const v1 = estimator.estimate(body(prose), 'claude-v1');
    const v2 = estimator.estimate(body(prose), 'claude-v2');
    expect(v1).toBeGreaterThan(1000);
    expect(v1).toBeLessThan(1100);
    expect(v2 / v1).toBeGreaterThan(1.27);
    expect(v2 / v1).toBeLessThan(1.31);
  });

  it('counts system prompt, tool definitions, tool calls and results, and images at a flat rate', () => {
    const estimator = new InputTokenEstimator();
    const plain = estimator.estimate(body('hello'), 'claude-v1');
    const rich = estimator.estimate(
      {
        model: 'm',
        system: [{ type: 'text', text: 'x'.repeat(350) }],
        tools: [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hello' },
              { type: 'image', source: { type: 'base64', data: 'AAAA' } },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 't', name: 'lookup', input: { q: 'y'.repeat(70) } }],
          },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'z'.repeat(350) }] },
        ],
      },
      'claude-v1',
    );
    // 100 (system) + 1600 (image) + ~20 (tool use) + 100 (result) + tools + per-message overhead
    expect(rich - plain).toBeGreaterThan(1820);
    expect(rich - plain).toBeLessThan(1900);
  });

  it('calibrates toward observed usage per tokenizer family and records the error', async () => {
    const registry = new Registry();
    const errorHistogram = new Histogram({
      name: 'ratio',
      help: 'ratio',
      labelNames: ['tokenizer'],
      buckets: [1, 1.5],
      registers: [registry],
    });
    const estimator = new InputTokenEstimator({ errorHistogram });
    // The real tokenizer counts 25 % more than the initial ratio says.
    const request = body(prose);
    const truth = 1.25 * new InputTokenEstimator().estimate(request, 'claude-v1');
    for (let i = 0; i < 30; i++) {
      const estimated = estimator.estimate(request, 'claude-v1');
      estimator.observe('claude-v1', estimated, Math.round(truth));
    }
    const calibrated = estimator.estimate(request, 'claude-v1');
    expect(Math.abs(calibrated / truth - 1)).toBeLessThan(0.01);
    expect(estimator.factor('claude-v2')).toBe(1);
    expect(await registry.getSingleMetricAsString('ratio')).toContain(
      'ratio_count{tokenizer="claude-v1"} 30',
    );
  });
  it('keeps its learned factor within 0.2-5 when hundreds of requests estimated alike end together', () => {
    const estimator = new InputTokenEstimator();
    const body: MessagesRequestBody = {
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'Say hello.' }],
    };
    // 500 requests in flight, all estimated with the factor of their time, end with 3x the tokens.
    const estimated = estimator.estimate(body, 'claude-v1');
    for (let i = 0; i < 500; i++) estimator.observe('claude-v1', estimated, estimated * 3);
    expect(estimator.factor('claude-v1')).toBeLessThanOrEqual(5);
    const low = estimator.estimate(body, 'claude-v1');
    for (let i = 0; i < 500; i++) estimator.observe('claude-v1', low, Math.max(1, Math.round(low / 3)));
    expect(estimator.factor('claude-v1')).toBeGreaterThanOrEqual(0.2);
  });
});

/** Texts on which a character-based estimate learned from English undercounts. */
const hardTexts = {
  english: prose,
  cjk: '東京の天気は晴れです。明日は雨が降るでしょう。'.repeat(60),
  punctuation: '!?.,;:()[]{}<>-_=+*&^%$#@~/\\|'.repeat(60),
  code: 'for (let i = 0; i < n; i++) { if (a[i] !== b[i]) return i; }\n'.repeat(40),
  emoji: '🚀🔥✨👍🏽🎉😀🌍'.repeat(100),
};

describe('input token bound (budget reservations)', () => {
  it('is never below what the simulator counts, for any text, under both tokenizers', () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ maxLength: 300 }),
    );
    const block = fc.oneof(
      text.map((t) => ({ type: 'text', text: t })),
      fc.record({ q: text }).map((input) => ({ type: 'tool_use', id: 'toolu_1', name: 'lookup', input })),
      text.map((t) => ({ type: 'tool_result', tool_use_id: 'toolu_1', content: t })),
    );
    const request = fc.record({
      system: fc.option(text, { nil: undefined }),
      tools: fc.array(
        fc.record({
          name: fc.constant('lookup'),
          description: text,
          input_schema: fc.constant({ type: 'object' }),
        }),
        { maxLength: 2 },
      ),
      messages: fc.array(
        fc.record({
          role: fc.constantFrom('user', 'assistant'),
          content: fc.oneof(text, fc.array(block, { minLength: 1, maxLength: 3 })),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(request, fc.constantFrom('claude-v1', 'claude-v2'), (r, tokenizer) => {
        const counted = countPromptTokens(r as unknown as PromptRequest, tokenizer);
        const bound = inputTokenBound({ model: 'm', ...r } as MessagesRequestBody);
        expect(bound).toBeGreaterThanOrEqual(counted);
      }),
      fuzzParameters(2000),
    );
  });

  it('holds on text where the character estimate undercounts, while the rate estimate stays close on English', () => {
    const estimator = new InputTokenEstimator();
    const ratios: Record<string, { estimate: number; bound: number }> = {};
    for (const [name, text] of Object.entries(hardTexts)) {
      const request = body(text);
      const counted = countPromptTokens(request as unknown as PromptRequest, 'claude-v2');
      ratios[name] = {
        estimate: estimator.estimate(request, 'claude-v2') / counted,
        bound: inputTokenBound(request) / counted,
      };
    }
    // The estimate the rate limiter admits with: about right on English, far under on the rest.
    // (measured: English 1.12; CJK 0.38, punctuation 0.38, code 0.65, emoji 0.71).
    expect(ratios.english!.estimate).toBeGreaterThan(0.85);
    expect(ratios.english!.estimate).toBeLessThan(1.2);
    for (const name of ['cjk', 'punctuation']) expect(ratios[name]!.estimate).toBeLessThan(0.5);
    for (const name of ['code', 'emoji']) expect(ratios[name]!.estimate).toBeLessThan(0.8);
    // The bound is never under, and at most the bytes a token can take in that script.
    for (const { bound } of Object.values(ratios)) expect(bound).toBeGreaterThanOrEqual(1);
    expect(ratios.cjk!.bound).toBeLessThan(3.1);
    expect(ratios.punctuation!.bound).toBeLessThan(1.1);
    expect(ratios.emoji!.bound).toBeLessThan(4.1);
  });

  it('counts framing and images on top of the bytes', () => {
    const one = inputTokenBound(body('héllo'));
    expect(one).toBe(6 + 16 + 8);
    const withImage = inputTokenBound({
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'AAAA' } }] }],
    });
    expect(withImage).toBe(1600 + 16 + 8);
  });
});
