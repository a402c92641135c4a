import Anthropic, {
  AuthenticationError,
  BadRequestError,
  GatewayTimeoutError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { sdkClient, simulator, testKey } from './helpers.js';

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: {
      city: { type: 'string', minLength: 2 },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      days: { type: 'integer', minimum: 1, maximum: 7 },
      detailed: { type: 'boolean' },
      hours: { type: 'array', items: { type: 'number', minimum: 0, maximum: 23 }, minItems: 2 },
      location: {
        type: 'object',
        properties: { lat: { type: 'number' }, lon: { type: 'number' }, label: { type: 'string' } },
        required: ['lat', 'lon'],
      },
      note: { type: 'string' },
    },
    required: ['city', 'unit', 'days', 'detailed', 'hours', 'location'],
  },
};

describe('the official SDK against the simulator', () => {
  it('creates a message, the same for the same request', async () => {
    const client = sdkClient(await simulator());
    const params = {
      model: 'claude-sonnet-4-6',
      max_tokens: 200,
      messages: [{ role: 'user' as const, content: 'Write a haiku about gateways.' }],
    };
    const first = await client.messages.create(params);
    const again = await client.messages.create(params);
    const other = await client.messages.create({
      ...params,
      messages: [{ role: 'user', content: 'Something else' }],
    });
    expect(first.type).toBe('message');
    expect(first.role).toBe('assistant');
    expect(first.model).toBe('claude-sonnet-4-6');
    expect(first.id).toMatch(/^msg_01/);
    expect(first.stop_reason).toBe('end_turn');
    expect(first.content[0]?.type).toBe('text');
    expect(first.usage.output_tokens).toBe(32);
    expect(again.content).toEqual(first.content);
    expect(other.content).not.toEqual(first.content);
  });

  it('streams, and finalMessage() equals the non-streamed answer', async () => {
    const client = sdkClient(await simulator());
    const params = {
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'Tell me about token buckets.' }],
    };
    const stream = client.messages.stream(params);
    let streamedText = '';
    stream.on('text', (delta) => {
      streamedText += delta;
    });
    const final = await stream.finalMessage();
    const created = await client.messages.create(params);
    expect(final.content).toEqual(created.content);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(created.usage.output_tokens);
    expect(final.usage.input_tokens).toBe(created.usage.input_tokens);
    expect(streamedText).toBe((created.content[0] as Anthropic.TextBlock).text);
  });

  it('does a tool-use round trip with input that fits the schema', async () => {
    const client = sdkClient(await simulator());
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'Please use get_weather for Lisbon.' },
    ];
    const call = await client.messages.create({
      model: 'claude-opus-4-6',
      max_tokens: 500,
      tools: [weatherTool],
      messages,
    });
    expect(call.stop_reason).toBe('tool_use');
    const toolUse = call.content.find((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use')!;
    expect(toolUse.name).toBe('get_weather');
    expect(toolUse.id).toMatch(/^toolu_/);
    const schema = z.fromJSONSchema(weatherTool.input_schema as never);
    expect(schema.safeParse(toolUse.input).success).toBe(true);

    messages.push({ role: 'assistant', content: call.content });
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '21 degrees, sunny' }],
    });
    const answer = await client.messages.create({
      model: 'claude-opus-4-6',
      max_tokens: 500,
      tools: [weatherTool],
      messages,
    });
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.content.map((block) => block.type)).toEqual(['text']);
  });

  it('streams tool input as input_json_delta that the SDK reassembles', async () => {
    const client = sdkClient(await simulator());
    const final = await client.messages
      .stream({
        model: 'claude-haiku-4-5',
        max_tokens: 500,
        tools: [weatherTool],
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [{ role: 'user', content: 'Weather?' }],
      })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.map((b) => b.type)).toEqual(['tool_use']);
    const input = (final.content[0] as Anthropic.ToolUseBlock).input;
    expect(z.fromJSONSchema(weatherTool.input_schema as never).safeParse(input).success).toBe(true);
  });

  it('streams thinking with its signature before the answer', async () => {
    const client = sdkClient(await simulator());
    const final = await client.messages
      .stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 3000,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'Think first.' }],
      })
      .finalMessage();
    expect(final.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const thinking = final.content[0] as Anthropic.ThinkingBlock;
    expect(thinking.thinking.length).toBeGreaterThan(0);
    expect(thinking.signature.length).toBeGreaterThan(40);
  });

  it('counts tokens the way usage reports them', async () => {
    const client = sdkClient(await simulator());
    const prompt = {
      model: 'claude-sonnet-4-6',
      system: 'You answer in French.',
      tools: [weatherTool],
      messages: [{ role: 'user' as const, content: 'How many tokens is this sentence?' }],
    };
    const counted = await client.messages.countTokens(prompt);
    const created = await client.messages.create({ ...prompt, max_tokens: 64 });
    expect(counted.input_tokens).toBe(created.usage.input_tokens);
  });

  it('pages through models.list, newest first', async () => {
    const client = sdkClient(await simulator());
    const ids: string[] = [];
    for await (const model of client.models.list({ limit: 4 })) ids.push(model.id);
    const catalog = defaultCatalog();
    const today = new Date();
    const listed = catalog.models.filter((m) => catalog.statusAt(m, today) !== 'retired');
    expect(ids).toHaveLength(listed.length);
    expect(new Set(ids).size).toBe(ids.length);
    const created = ids.map((id) => Date.parse(catalog.model(id)!.releasedAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));

    const first = await client.models.list({ limit: 4 });
    expect(first.data).toHaveLength(4);
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.data.map((m) => m.id)).toEqual(ids.slice(4, 8));

    const one = await client.models.retrieve('claude-haiku-4-5');
    expect(one.id).toBe('claude-haiku-4-5-20251001');
    expect(one.display_name).toBe('Claude Haiku 4.5');
    expect(one.max_input_tokens).toBe(200000);
    expect(one.max_tokens).toBe(64000);
  });

  it('raises each error as the SDK class for its status', async () => {
    const sim = await simulator();
    const client = sdkClient(sim);
    const ask = (overrides: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}, c: Anthropic = client) =>
      c.messages.create(
        {
          model: 'claude-haiku-4-5',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'hi' }],
          ...overrides,
        },
        { timeout: 30_000 },
      );

    const wrongKey = new Anthropic({ apiKey: 'not-a-real-key', baseURL: sim.url, maxRetries: 0 });
    const auth = await ask({}, wrongKey).catch((e) => e);
    expect(auth).toBeInstanceOf(AuthenticationError);
    expect(auth.type).toBe('authentication_error');

    const tooMany = await ask({ max_tokens: 100000 }).catch((e) => e);
    expect(tooMany).toBeInstanceOf(BadRequestError);
    expect(tooMany.apiMessage).toBe(
      'max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001',
    );
    expect(tooMany.requestID).toMatch(/^req_/);
    expect(tooMany.error.request_id).toBe(tooMany.requestID);

    const unknown = await ask({ model: 'claude-xyz' }).catch((e) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.apiMessage).toBe('model: claude-xyz');

    sim.faults.script([{ status: 429, retryAfter: 3 }, { status: 529 }, { status: 500 }, { status: 504 }]);
    const limited = await ask().catch((e) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.headers.get('retry-after')).toBe('3');
    const overloaded = await ask().catch((e) => e);
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect(overloaded.type).toBe('overloaded_error');
    const internal = await ask().catch((e) => e);
    expect(internal).toBeInstanceOf(InternalServerError);
    expect(internal.type).toBe('api_error');
    const timeout = await ask().catch((e) => e);
    expect(timeout).toBeInstanceOf(GatewayTimeoutError);
    expect(timeout.type).toBe('timeout_error');
    expect(sim.counters().byFault).toEqual({ '429': 1, '529': 1, '500': 1, '504': 1 });
  });

  it("lets the SDK's retry honour retry-after", async () => {
    const sim = await simulator();
    const attempts: number[] = [];
    const answered: number[] = [];
    const client = new Anthropic({
      apiKey: testKey,
      baseURL: sim.url,
      maxRetries: 2,
      fetch: async (input, init) => {
        attempts.push(performance.now());
        const response = await fetch(input, init);
        answered.push(performance.now());
        return response;
      },
    });
    sim.faults.script([{ status: 429, retryAfter: 1 }]);
    const message = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'retry me' }],
    });
    expect(message.type).toBe('message');
    expect(attempts).toHaveLength(2);
    // setTimeout may fire up to a millisecond early against performance.now().
    expect(attempts[1]! - answered[0]!).toBeGreaterThanOrEqual(999);
    expect(sim.counters().byStatus).toEqual({ '429': 1, '200': 1 });
  });

  it('stops at the monthly spend cap with a 429 the SDK does not retry', async () => {
    const sim = await simulator({ monthlySpendCapUsd: 0.0001 });
    const client = sdkClient(sim, { maxRetries: 2 });
    const params = {
      model: 'claude-fable-5-1',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'spend' }],
    };
    await client.messages.create(params); // $50 per million output tokens: over the cap after this one
    const capped = await client.messages.create(params).catch((e) => e);
    expect(capped).toBeInstanceOf(RateLimitError);
    expect(capped.errorCode).toBe('enforced_spend_limit_reached');
    expect(capped.headers.get('retry-after')).toBeNull();
    expect(sim.counters().byStatus).toEqual({ '200': 1, '429': 1 });
  });
});
