import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { formatUsdExact } from '../../src/catalog/money.js';
import { searchesPerTurn } from '../../src/simulator/web-search.js';
import { sdkClient, send, simulator } from './helpers.js';

const webSearch = { type: 'web_search_20260209', name: 'web_search' } as const;

function ask(model: string, extra: Record<string, unknown> = {}) {
  return {
    model,
    max_tokens: 400,
    messages: [{ role: 'user' as const, content: 'What happened in Lisbon this week?' }],
    ...extra,
  } as Anthropic.MessageCreateParamsNonStreaming;
}

/** The SSE events of a raw streamed request, parsed. */
// biome-ignore lint/suspicious/noExplicitAny: event JSON, checked by the assertions
async function events(url: string, body: unknown): Promise<Array<{ event: string; data: any }>> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': 'sk-ant-api03-simulator-test-key',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ ...(body as object), stream: true }),
  });
  expect(response.status).toBe(200);
  const text = await response.text();
  return text
    .trim()
    .split('\n\n')
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      return {
        event: eventLine!.slice('event: '.length),
        data: JSON.parse(dataLine!.slice('data: '.length)),
      };
    });
}

describe('usage fields', () => {
  it('reports speed, inference_geo and service_tier; server_tool_use only with server tools', async () => {
    const client = sdkClient(await simulator());
    const plain = await client.messages.create(ask('claude-haiku-5-5'));
    expect(plain.usage).toMatchObject({
      speed: 'standard',
      inference_geo: 'global',
      service_tier: 'standard',
    });
    expect(plain.usage.server_tool_use).toBeUndefined();
    const searched = await client.messages.create(ask('claude-haiku-5-5', { tools: [webSearch] }));
    expect(searched.usage.server_tool_use).toEqual({
      web_search_requests: searchesPerTurn,
      web_fetch_requests: 0,
    });
  });

  it('takes inference_geo from the request, else the workspace default; older models run anywhere', async () => {
    const sim = await simulator({ workspaceGeo: 'us' });
    const client = sdkClient(sim);
    expect((await client.messages.create(ask('claude-opus-5-5'))).usage.inference_geo).toBe('us');
    const asked = await client.messages.create(ask('claude-opus-5-5', { inference_geo: 'global' }));
    expect(asked.usage.inference_geo).toBe('global');
    expect((await client.messages.create(ask('claude-haiku-4-5'))).usage.inference_geo).toBe('global');
  });

  it('streams the same usage: every field in message_start, cumulative counts in message_delta', async () => {
    const sim = await simulator({ workspaceGeo: 'us' });
    const body = ask('claude-opus-5-5', { tools: [webSearch], speed: 'fast' });
    const created = await sdkClient(sim).messages.create(body);
    const frames = await events(sim.url, body);
    const start = frames.find((f) => f.event === 'message_start')!.data.message.usage;
    expect(start).toMatchObject({
      speed: 'fast',
      inference_geo: 'us',
      service_tier: 'standard',
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    });
    const delta = frames.find((f) => f.event === 'message_delta')!.data.usage;
    expect(delta.server_tool_use).toEqual(created.usage.server_tool_use);
    expect(delta.output_tokens).toBe(created.usage.output_tokens);
    expect(delta.input_tokens).toBe(created.usage.input_tokens);

    const final = await sdkClient(sim).messages.stream(body).finalMessage();
    expect(final.content).toEqual(created.content);
    expect(final.usage).toMatchObject({
      speed: 'fast',
      inference_geo: 'us',
      server_tool_use: created.usage.server_tool_use,
      output_tokens: created.usage.output_tokens,
    });
  });
});

describe('the built-in web search', () => {
  it('answers with server_tool_use and web_search_tool_result blocks, then text', async () => {
    const client = sdkClient(await simulator());
    const plain = await client.messages.create(ask('claude-sonnet-5-5'));
    const answer = await client.messages.create(
      ask('claude-sonnet-5-5', { tools: [{ ...webSearch, allowed_domains: ['news.example'] }] }),
    );
    const types = answer.content.map((block) => block.type);
    expect(types).toEqual([
      ...Array.from({ length: searchesPerTurn }, () => ['server_tool_use', 'web_search_tool_result']).flat(),
      'text',
    ]);
    const call = answer.content[0] as Anthropic.ServerToolUseBlock;
    expect(call).toMatchObject({ name: 'web_search', caller: { type: 'direct' } });
    expect(call.id).toMatch(/^srvtoolu_01/);
    expect((call.input as { query: string }).query).toMatch(/Lisbon/);
    const result = answer.content[1] as Anthropic.WebSearchToolResultBlock;
    expect(result.tool_use_id).toBe(call.id);
    const hits = result.content as Anthropic.WebSearchResultBlock[];
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(hit.type).toBe('web_search_result');
      expect(new URL(hit.url).hostname).toBe('news.example');
      expect(hit.encrypted_content.length).toBeGreaterThan(0);
    }
    // Results are read into the context: input tokens grow.
    expect(answer.usage.input_tokens).toBeGreaterThan(plain.usage.input_tokens);
    expect(answer.stop_reason).toBe('end_turn');
  });

  it('respects max_uses: attempts past it get max_uses_exceeded and are not counted', async () => {
    const client = sdkClient(await simulator());
    const answer = await client.messages.create(
      ask('claude-sonnet-5-5', { tools: [{ ...webSearch, max_uses: 1 }] }),
    );
    expect(answer.usage.server_tool_use?.web_search_requests).toBe(1);
    const results = answer.content.filter(
      (block): block is Anthropic.WebSearchToolResultBlock => block.type === 'web_search_tool_result',
    );
    expect(results).toHaveLength(searchesPerTurn);
    expect(results[1]!.content).toEqual({
      type: 'web_search_tool_result_error',
      error_code: 'max_uses_exceeded',
    });
  });

  it('does not search when tool_choice is none or the turn answers a tool result', async () => {
    const client = sdkClient(await simulator());
    const none = await client.messages.create(
      ask('claude-sonnet-5-5', { tools: [webSearch], tool_choice: { type: 'none' } }),
    );
    expect(none.content.map((b) => b.type)).toEqual(['text']);
    expect(none.usage.server_tool_use).toEqual({ web_search_requests: 0, web_fetch_requests: 0 });
  });
});

describe('simulated spend', () => {
  it('prices with the catalog (geo, fast mode, web searches) and keeps exact decimal text', async () => {
    const sim = await simulator({ workspaceGeo: 'us' });
    const client = sdkClient(sim);
    let expected = 0n;
    // Opus 5.5 fast: $8 / $40 per MTok, × 1.1 in the US; searches $0.01 each.
    for (let i = 0; i < 3; i++) {
      const { usage } = await client.messages.create(
        ask('claude-opus-5-5', {
          speed: 'fast',
          tools: [webSearch],
          messages: [{ role: 'user', content: `Question number ${i} about trains.` }],
        }),
      );
      expected += (BigInt(usage.input_tokens) * 8_800_000n +
        BigInt(usage.output_tokens) * 44_000_000n +
        BigInt(usage.server_tool_use!.web_search_requests) * 10_000_000_000n) as bigint;
    }
    const counters = sim.counters();
    expect(counters.spendUsd).toBe(formatUsdExact(expected));
    expect(counters.spendUsd).toMatch(/^\d+\.\d{1,12}$/);
    const overHttp = await send(sim, '/_sim/counters');
    expect(overHttp.json.spendUsd).toBe(counters.spendUsd);
  });
});
