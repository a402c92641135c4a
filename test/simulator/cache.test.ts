import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/simulator/index.js';
import { longText, send, simulator } from './helpers.js';

// claude-sonnet-4-6 caches prefixes from 1,024 tokens; claude-haiku-4-5 from 4,096 (catalog).
const bigSystem = longText(2000); // about 4,250 claude-v1 tokens
const smallSystem = longText(300);

function cachedRequest(system: string, question: string, extra: Record<string, unknown> = {}) {
  return {
    model: 'claude-sonnet-4-6',
    max_tokens: 50,
    system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: question }],
    ...extra,
  };
}

async function usageOf(sim: Awaited<ReturnType<typeof simulator>>, body: unknown) {
  const response = await send(sim, '/v1/messages', body);
  expect(response.status).toBe(200);
  return response.json.usage;
}

async function totalTokens(sim: Awaited<ReturnType<typeof simulator>>, body: Record<string, unknown>) {
  const { max_tokens: _unused, ...prompt } = body;
  return (await send(sim, '/v1/messages/count_tokens', prompt)).json.input_tokens as number;
}

describe('prompt caching', () => {
  it('writes the prefix on first use and reads it on a repeat, input being only what follows', async () => {
    const sim = await simulator();
    const first = cachedRequest(bigSystem, 'First question?');
    const total = await totalTokens(sim, first);
    const created = await usageOf(sim, first);
    expect(created.cache_read_input_tokens).toBe(0);
    expect(created.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(created.cache_creation).toEqual({
      ephemeral_5m_input_tokens: created.cache_creation_input_tokens,
      ephemeral_1h_input_tokens: 0,
    });
    expect(created.input_tokens + created.cache_creation_input_tokens).toBe(total);

    const second = cachedRequest(bigSystem, 'A different question entirely?');
    const read = await usageOf(sim, second);
    expect(read.cache_read_input_tokens).toBe(created.cache_creation_input_tokens);
    expect(read.cache_creation_input_tokens).toBe(0);
    expect(read.input_tokens + read.cache_read_input_tokens).toBe(await totalTokens(sim, second));
    expect(sim.counters().cacheReadInputTokens).toBe(read.cache_read_input_tokens);
  });

  it('caches nothing below the model minimum, without error', async () => {
    const sim = await simulator();
    const body = cachedRequest(smallSystem, 'Q?');
    for (let i = 0; i < 2; i++) {
      const usage = await usageOf(sim, body);
      expect(usage.cache_creation_input_tokens).toBe(0);
      expect(usage.cache_read_input_tokens).toBe(0);
      expect(usage.input_tokens).toBe(await totalTokens(sim, body));
    }
    // The same prefix is long enough for Sonnet but not for Haiku 4.5 (4,096).
    const haiku = await usageOf(sim, { ...cachedRequest(longText(1000), 'Q?'), model: 'claude-haiku-4-5' });
    expect(haiku.cache_creation_input_tokens).toBe(0);
    const sonnet = await usageOf(sim, cachedRequest(longText(1000), 'Q?'));
    expect(sonnet.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('splits writes by TTL and keeps 1h entries past five minutes', async () => {
    const clock = new ManualClock();
    const sim = await simulator({ clock });
    const body = {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      system: [
        { type: 'text', text: bigSystem, cache_control: { type: 'ephemeral', ttl: '1h' } },
        { type: 'text', text: longText(800), cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'Q?' }],
    };
    const first = await usageOf(sim, body);
    expect(first.cache_creation.ephemeral_1h_input_tokens).toBeGreaterThan(4000);
    expect(first.cache_creation.ephemeral_5m_input_tokens).toBeGreaterThan(1000);
    expect(first.cache_creation_input_tokens).toBe(
      first.cache_creation.ephemeral_1h_input_tokens + first.cache_creation.ephemeral_5m_input_tokens,
    );

    clock.advance(6 * 60_000); // the 5m entry has expired, the 1h one has not
    const later = await usageOf(sim, body);
    expect(later.cache_read_input_tokens).toBe(first.cache_creation.ephemeral_1h_input_tokens);
    expect(later.cache_creation).toEqual({
      ephemeral_5m_input_tokens: first.cache_creation.ephemeral_5m_input_tokens,
      ephemeral_1h_input_tokens: 0,
    });
  });

  it('expires a 5m entry after five minutes, and a hit refreshes it', async () => {
    const clock = new ManualClock();
    const sim = await simulator({ clock });
    const body = cachedRequest(bigSystem, 'Q?');
    await usageOf(sim, body);
    clock.advance(4 * 60_000);
    expect((await usageOf(sim, body)).cache_read_input_tokens).toBeGreaterThan(0); // refreshed here
    clock.advance(4 * 60_000);
    expect((await usageOf(sim, body)).cache_read_input_tokens).toBeGreaterThan(0);
    clock.advance(5 * 60_000 + 1);
    const expired = await usageOf(sim, body);
    expect(expired.cache_read_input_tokens).toBe(0);
    expect(expired.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('keeps caches apart per model', async () => {
    const sim = await simulator();
    await usageOf(sim, cachedRequest(bigSystem, 'Q?'));
    const other = await usageOf(sim, {
      ...cachedRequest(bigSystem, 'Q?'),
      model: 'claude-sonnet-5',
    });
    expect(other.cache_read_input_tokens).toBe(0);
    expect(other.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('moves the automatic breakpoint forward as a conversation grows', async () => {
    const sim = await simulator();
    const turn1 = [{ role: 'user', content: longText(1500) }];
    const first = await usageOf(sim, {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      cache_control: { type: 'ephemeral' },
      messages: turn1,
    });
    expect(first.cache_creation_input_tokens).toBeGreaterThan(1024);
    const turn2 = [...turn1, { role: 'assistant', content: 'Noted.' }, { role: 'user', content: 'And now?' }];
    const second = await usageOf(sim, {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      cache_control: { type: 'ephemeral' },
      messages: turn2,
    });
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
    expect(second.cache_creation_input_tokens).toBeGreaterThan(0); // the two new messages
    expect(second.cache_creation_input_tokens).toBeLessThan(20);
  });

  it('caches tool definitions marked with cache_control', async () => {
    const sim = await simulator();
    const tools = [
      {
        name: 'search',
        description: bigSystem,
        input_schema: { type: 'object' },
        cache_control: { type: 'ephemeral' },
      },
    ];
    const body = {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      tools,
      messages: [{ role: 'user', content: 'hello' }],
    };
    const first = await usageOf(sim, body);
    const second = await usageOf(sim, body);
    expect(first.cache_creation_input_tokens).toBeGreaterThan(4000);
    expect(second.cache_read_input_tokens).toBe(first.cache_creation_input_tokens);
  });

  it('rejects a 1h breakpoint after a 5m one', async () => {
    const sim = await simulator();
    const response = await send(sim, '/v1/messages', {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      system: [
        { type: 'text', text: 'a', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'b', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(response.status).toBe(400);
    expect(response.json.error.message).toMatch(/ttl='1h' cache_control block must not come after/);
  });
});
