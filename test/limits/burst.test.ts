import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

// The demo's scenario: a burst over an evaluation-tier organisation's 50 requests a minute, with answers
// that take time (so many requests are in flight at once). Sluice must queue, not draw 429s.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    simulator: { tier: 'evaluation', latency: { ttftMs: 150, tokensPerSecond: 400 } },
    env: { SLUICE_TIER: 'evaluation' },
  });
});
afterAll(() => stack.close());

describe('a burst over the tier with slow answers', () => {
  it('is queued by Sluice: every request succeeds and the upstream answers no 429', async () => {
    const client = stack.sdk({ maxRetries: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 54 }, (_, i) =>
        client.messages.create({
          model: 'claude-haiku-4-5',
          max_tokens: 20,
          messages: [{ role: 'user', content: `burst ${i}` }],
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(54);
    const counters = stack.simulator.counters();
    expect(counters.byStatus['429'] ?? 0).toBe(0);
    expect(counters.byStatus['200']).toBe(54);
  });
});
