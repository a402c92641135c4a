import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InputTokenEstimator } from '../../src/limits/estimate.js';
import type { MessagesRequestBody } from '../../src/pipeline/types.js';

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
