import { describe, expect, it } from 'vitest';
import { startStack } from '../helpers/stack.js';

/** About 12,000 bytes of English: a byte bound three times what the tokenizer counts. */
const prompt = 'The printing press spread quickly across Europe after 1450. '.repeat(200);

async function ask(url: string, key: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key },
    body: JSON.stringify({
      model: 'claude-opus-4-8',
      max_tokens: 16,
      messages: [{ role: 'user', content: prompt }],
    }),
  });
  return { status: response.status, text: await response.text() };
}

describe('budgets.countTokens', () => {
  // Worst case from the byte bound: ~12,000 × $5 / M = $0.06; counted exactly: about a third.
  const budgets = (countTokens: Record<string, unknown>) => ({
    countTokens,
    limits: [{ scope: 'global', window: 'daily', usd: '0.04' }],
  });

  it('off (the default): a large request the byte bound does not fit is refused, count_tokens never asked', async () => {
    const stack = await startStack({ yaml: { limits: { enabled: false }, budgets: budgets({}) } });
    try {
      const answer = await ask(stack.gateway.url, stack.key);
      expect(answer.status).toBe(429);
      expect(answer.text).toMatch(/would be exceeded/);
      expect(stack.simulator.counters().byPath['POST /v1/messages/count_tokens'] ?? 0).toBe(0);
    } finally {
      await stack.close();
    }
  });

  it('on: the same request is counted exactly by the upstream, fits and is answered', async () => {
    const stack = await startStack({
      yaml: { limits: { enabled: false }, budgets: budgets({ enabled: true, minInputTokens: 10_000 }) },
    });
    try {
      const answer = await ask(stack.gateway.url, stack.key);
      expect(answer.status).toBe(200);
      expect(stack.simulator.counters().byPath['POST /v1/messages/count_tokens']).toBe(1);
      // A small request is not counted: it is below minInputTokens.
      const small = await fetch(`${stack.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
          'x-api-key': stack.key,
        },
        body: JSON.stringify({
          model: 'claude-opus-4-8',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      await small.text();
      expect(small.status).toBe(200);
      expect(stack.simulator.counters().byPath['POST /v1/messages/count_tokens']).toBe(1);
      // The budget now has less left than this request's exact worst case: refused after counting.
      const again = await ask(stack.gateway.url, stack.key);
      expect(again.status).toBe(429);
      expect(stack.simulator.counters().byPath['POST /v1/messages/count_tokens']).toBe(2);
    } finally {
      await stack.close();
    }
  });
});
