import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, UPSTREAM_KEY } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  // A scripted upstream 429 pauses Sluice's own buckets (as a real one must); admission control is
  // tested in test/limits, so it is off for this suite.
  stack = await startStack({ yaml: { limits: { enabled: false } } });
});
afterAll(() => stack.close());

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
};

async function raw(url: string, body: unknown, headers: Record<string, string>) {
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

describe('gateway with the official SDK', () => {
  it('creates a message and returns the upstream request id plus its own', async () => {
    const client = stack.sdk();
    const { data, response } = await client.messages.create(ask).withResponse();
    expect(data.type).toBe('message');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-sluice-request-id')).toMatch(/^req_sluice_/);
  });

  it('streams with finalMessage()', async () => {
    const message = await stack
      .sdk()
      .messages.stream({ ...ask, max_tokens: 40 })
      .finalMessage();
    expect(message.content[0]?.type).toBe('text');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('completes a tool-use round trip', async () => {
    const client = stack.sdk();
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: {
          type: 'object' as const,
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
      },
    ];
    const first = await client.messages.create({ ...ask, tools, tool_choice: { type: 'any' } });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use')!;
    expect(use.type === 'tool_use' && typeof (use.input as { city: unknown }).city).toBe('string');
    const second = await client.messages.create({
      ...ask,
      tools,
      messages: [
        ...ask.messages,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: use.type === 'tool_use' ? use.id : '', content: '21°C' },
          ],
        },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
  });

  it('counts tokens as upstream does and lists models with pagination', async () => {
    const client = stack.sdk();
    const counted = await client.messages.countTokens({ model: ask.model, messages: ask.messages });
    const direct = new Anthropic({ apiKey: UPSTREAM_KEY, baseURL: stack.simulator.url });
    expect(counted.input_tokens).toBe(
      (await direct.messages.countTokens({ model: ask.model, messages: ask.messages })).input_tokens,
    );
    const ids: string[] = [];
    for await (const model of client.models.list({ limit: 3 })) ids.push(model.id);
    const directIds: string[] = [];
    for await (const model of direct.models.list({ limit: 50 })) directIds.push(model.id);
    expect(ids).toEqual(directIds);
    expect((await client.models.retrieve('claude-haiku-4-5-20251001')).id).toBe('claude-haiku-4-5-20251001');
    // Paths are matched as sent: a dot segment is not a model id, and the query string is passed on.
    const get = (path: string) =>
      request(`${stack.gateway.url}${path}`, {
        headers: { 'anthropic-version': '2023-06-01', 'x-api-key': stack.key },
      });
    for (const path of ['/v1/models/..', '/v1/models/.', '/v1/models/a/b']) {
      const refused = await get(path);
      expect(refused.statusCode).toBe(404);
      expect(JSON.parse(await refused.body.text()).error.type).toBe('not_found_error');
    }
    const page = await get('/v1/models?limit=2');
    expect(page.statusCode).toBe(200);
    expect((JSON.parse(await page.body.text()) as { data: unknown[] }).data).toHaveLength(2);
    // The absolute form a forward proxy would send reaches the same route.
    const absolute = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const url = new URL(stack.gateway.url);
      const sent = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: 'GET',
          path: `${stack.gateway.url}/v1/models?limit=1`,
          headers: { 'anthropic-version': '2023-06-01', 'x-api-key': stack.key },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      sent.on('error', reject);
      sent.end();
    });
    expect(absolute.status).toBe(200);
    expect((JSON.parse(absolute.text) as { data: unknown[] }).data).toHaveLength(1);
  });

  it('raises each error as the SDK class of its status', async () => {
    const bad = new Anthropic({ apiKey: 'sk-sluice-nope', baseURL: stack.gateway.url, maxRetries: 0 });
    await expect(bad.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const client = stack.sdk();
    await expect(client.messages.create({ ...ask, model: 'claude-nonexistent-1' })).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    // Haiku 4.5 allows 64,000 output tokens: the upstream refuses (streamed: the SDK itself
    // refuses long non-streaming requests).
    await expect(
      client.messages.create({ ...ask, model: 'claude-haiku-4-5', max_tokens: 100_000, stream: true }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    // A retired model is answered as the API would, naming its replacement, without a round trip.
    const retired = client.messages.create({ ...ask, model: 'claude-3-5-haiku' });
    await expect(retired).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(retired).rejects.toThrow(/retired on 2026-02-19; use claude-haiku-5-5/);
    // The key's own cap and model list: Sluice refuses, nothing reaches upstream.
    const { key } = await stack.gateway.keys.create({
      name: 'ci-runner-capped',
      environment: 'ci',
      maxTokens: 100,
      models: ['claude-haiku-4-5'],
    });
    const capped = new Anthropic({ apiKey: key, baseURL: stack.gateway.url, maxRetries: 0 });
    const before = stack.simulator.counters().requests;
    const overCap = await capped.messages.create({ ...ask, max_tokens: 101 }).catch((e: unknown) => e);
    expect(overCap).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String(overCap)).toMatch(/cap of 100/);
    await expect(capped.messages.create({ ...ask, model: 'claude-opus-4-8' })).rejects.toBeInstanceOf(
      Anthropic.PermissionDeniedError,
    );
    expect(stack.simulator.counters().requests).toBe(before);
    stack.simulator.faults.script([{ status: 429, retryAfter: 60 }]);
    await expect(client.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    const overloaded = Array.from({ length: 4 }, () => ({ status: 529 }));
    stack.simulator.faults.script(overloaded);
    const error = await client.messages.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.OverloadedError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect(stack.simulator.counters().byFault['529']).toBeGreaterThanOrEqual(4);
    stack.simulator.faults.clear();
  });
});

describe('pass-through', () => {
  it('streams the same bytes as the upstream sends (message ids aside)', async () => {
    const body = { ...ask, stream: true, max_tokens: 50 };
    const direct = await raw(`${stack.simulator.url}/v1/messages`, body, { 'x-api-key': UPSTREAM_KEY });
    const via = await raw(`${stack.gateway.url}/v1/messages`, body, { 'x-api-key': stack.key });
    const normalize = (text: string) => text.replace(/msg_01[A-Za-z0-9]{22}/g, 'msg_ID');
    expect(via.status).toBe(200);
    expect(via.headers['content-type']).toBe(direct.headers['content-type']);
    expect(normalize(via.text)).toBe(normalize(direct.text));
    expect(via.text).toContain('event: message_stop');
  });

  it('forwards fields it does not know, so the upstream judges them, and swaps the credentials', async () => {
    stack.simulator.resetCounters();
    const response = await raw(
      `${stack.gateway.url}/v1/messages`,
      { ...ask, some_future_field: { nested: [1, 2] } },
      { authorization: `Bearer ${stack.key}`, 'anthropic-beta': 'prompt-caching-2024-07-31' },
    );
    // The upstream (not Sluice) refuses the field: proof that it arrived there unchanged.
    expect(response.status).toBe(400);
    expect(response.text).toContain('some_future_field');
    expect(stack.simulator.counters().requests).toBe(1);
    const ok = await raw(
      `${stack.gateway.url}/v1/messages`,
      { ...ask, top_k: 5, metadata: { user_id: 'u-1' } },
      {
        authorization: `Bearer ${stack.key}`,
      },
    );
    expect(ok.status).toBe(200);
  });

  it('never shows the upstream key in responses, headers or logs', async () => {
    const client = stack.sdk();
    await client.messages.create(ask);
    await client.messages.create({ ...ask, model: 'claude-nope' }).catch(() => undefined);
    const response = await raw(`${stack.gateway.url}/v1/messages`, ask, { 'x-api-key': stack.key });
    const everything = [response.text, JSON.stringify(response.headers), ...stack.logs].join('\n');
    expect(everything).not.toContain(UPSTREAM_KEY);
    expect(everything).not.toContain(stack.key);
    expect(stack.logs.length).toBeGreaterThan(3);
  });
});

describe('cost', () => {
  // Claude Haiku 4.5: $1 input, $5 output per million tokens = 1e6 and 5e6 pico-dollars per token.
  const picoOf = (usage: { input_tokens: number; output_tokens: number }) =>
    BigInt(usage.input_tokens) * 1_000_000n + BigInt(usage.output_tokens) * 5_000_000n;
  const usdToPico = (text: string) => {
    const [whole, fraction = ''] = text.split('.');
    return BigInt(whole!) * 10n ** 12n + BigInt(fraction.padEnd(12, '0'));
  };

  it('adds x-sluice-cost-usd to a JSON answer, exact to the pico-dollar', async () => {
    const { data, response } = await stack.sdk().messages.create(ask).withResponse();
    expect(usdToPico(response.headers.get('x-sluice-cost-usd')!)).toBe(picoOf(data.usage));
  });

  it('writes one log line for the request, with its ids, key, model, status, timings, usage and cost', async () => {
    const { data, response } = await stack.sdk().messages.create(ask).withResponse();
    const id = response.headers.get('x-sluice-request-id')!;
    // Lines of one event-loop turn are written together: wait for the turn to end.
    await new Promise((resolve) => setImmediate(resolve));
    const line = stack.logs
      .join('')
      .split('\n')
      .find((text) => text.includes(`"requestId":"${id}"`));
    const entry = JSON.parse(line!) as Record<string, unknown>;
    expect(Object.keys(entry)).toEqual([
      'level',
      'time',
      'requestId',
      'upstreamRequestId',
      'path',
      'key',
      'environment',
      'requestedModel',
      'model',
      'stream',
      'status',
      'upstreamStatus',
      'attempts',
      'latencyMs',
      'ttftMs',
      'usage',
      'costUsd',
      'priced',
      'msg',
    ]);
    expect(entry).toMatchObject({
      level: 'info',
      upstreamRequestId: response.headers.get('request-id'),
      path: '/v1/messages',
      environment: 'production',
      requestedModel: 'claude-haiku-4-5',
      model: 'claude-haiku-4-5',
      stream: false,
      status: 200,
      upstreamStatus: 200,
      attempts: 1,
      usage: { input_tokens: data.usage.input_tokens, output_tokens: data.usage.output_tokens },
      priced: true,
      msg: 'request',
    });
    // Rounded to the micro-dollar in the log; exact in the header.
    const exact = usdToPico(response.headers.get('x-sluice-cost-usd')!);
    expect(usdToPico(entry.costUsd as string)).toBe(((exact + 500_000n) / 1_000_000n) * 1_000_000n);
    expect(entry.latencyMs as number).toBeGreaterThanOrEqual(entry.ttftMs as number);
  });

  it('sends the cost as one extra SSE event before message_stop when asked, which the SDK ignores', async () => {
    const body = { ...ask, stream: true };
    const plain = await raw(`${stack.gateway.url}/v1/messages`, body, { 'x-api-key': stack.key });
    expect(plain.text).not.toContain('sluice_cost');
    const withCost = await raw(`${stack.gateway.url}/v1/messages`, body, {
      'x-api-key': stack.key,
      'x-sluice-include-cost': 'true',
    });
    const events = [...withCost.text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events.slice(-2)).toEqual(['sluice_cost', 'message_stop']);
    expect(events.filter((e) => e === 'sluice_cost')).toHaveLength(1);
    const data = JSON.parse(/event: sluice_cost\ndata: (.*)\n/.exec(withCost.text)![1]!);
    expect(usdToPico(data.cost_usd)).toBe(picoOf(data.usage));

    const message = await stack
      .sdk()
      .messages.stream(ask, { headers: { 'x-sluice-include-cost': 'true' } })
      .finalMessage();
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe('metrics', () => {
  it('counts requests by route, status, catalog model and environment, with bounded labels', async () => {
    await stack.sdk().messages.create(ask);
    await request(`${stack.gateway.url}/wp-admin/${Math.random()}`, { method: 'POST', body: '{}' }).then(
      (r) => r.body.dump(),
    );
    await raw(
      `${stack.gateway.url}/v1/messages`,
      { ...ask, model: `made-up-${Math.random()}` },
      { 'x-api-key': stack.key },
    );
    const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(text).toMatch(
      /sluice_requests_total\{route="\/v1\/messages",status_class="2xx",model="claude-haiku-4-5-20251001",pool="[^"]+",environment="production"\} \d+/,
    );
    expect(text).toMatch(
      /sluice_requests_total\{route="other",status_class="4xx",model="",pool="",environment=""\} \d+/,
    );
    expect(text).toMatch(
      /sluice_requests_total\{route="\/v1\/messages",status_class="4xx",model="other",pool="",environment="production"\} \d+/,
    );
    expect(text).not.toContain('made-up-');
    expect(text).not.toContain('wp-admin');
    expect(text).toMatch(/sluice_tokens_total\{kind="output",model="claude-haiku-4-5-20251001"\} \d+/);

    // Counts kept between scrapes are added to what earlier scrapes showed.
    const okCount = (metrics: string) =>
      Number(
        /sluice_requests_total\{route="\/v1\/messages",status_class="2xx",model="claude-haiku-4-5-20251001",pool="[^"]+",environment="production"\} (\d+)/.exec(
          metrics,
        )![1],
      );
    const before = okCount(text);
    await stack.sdk().messages.create(ask);
    await stack.sdk().messages.create(ask);
    expect(okCount(await (await fetch(`${stack.gateway.url}/metrics`)).text())).toBe(before + 2);
  });
});
