import { describe, expect, it } from 'vitest';
import { type RawResponse, send, simulator, testKey, userMessage } from './helpers.js';

function expectError(response: RawResponse, status: number, type: string, message?: string | RegExp): void {
  expect(response.status).toBe(status);
  const requestId = response.headers.get('request-id');
  expect(requestId).toMatch(/^req_/);
  expect(response.json).toMatchObject({ type: 'error', error: { type }, request_id: requestId });
  if (typeof message === 'string') expect(response.json.error.message).toBe(message);
  else if (message) expect(response.json.error.message).toMatch(message);
}

describe('authentication and headers', () => {
  it('accepts x-api-key or a Bearer token starting sk-ant- when no keys are configured', async () => {
    const sim = await simulator();
    expect((await send(sim, '/v1/models')).status).toBe(200);
    const bearer = await send(sim, '/v1/models', undefined, {
      headers: { 'x-api-key': undefined, authorization: `Bearer ${testKey}` },
    });
    expect(bearer.status).toBe(200);
    expectError(
      await send(sim, '/v1/models', undefined, { headers: { 'x-api-key': 'sk-other' } }),
      401,
      'authentication_error',
      'invalid x-api-key',
    );
    expectError(
      await send(sim, '/v1/models', undefined, { headers: { 'x-api-key': undefined } }),
      401,
      'authentication_error',
    );
  });

  it('accepts only the configured keys when given', async () => {
    const sim = await simulator({ apiKeys: ['sk-ant-api03-only-this-one'] });
    expectError(await send(sim, '/v1/models'), 401, 'authentication_error');
    const ok = await send(sim, '/v1/models', undefined, {
      headers: { 'x-api-key': 'sk-ant-api03-only-this-one' },
    });
    expect(ok.status).toBe(200);
  });

  it('requires anthropic-version', async () => {
    const sim = await simulator();
    expectError(
      await send(sim, '/v1/messages', userMessage('hi'), { headers: { 'anthropic-version': undefined } }),
      400,
      'invalid_request_error',
      'anthropic-version: header is required',
    );
  });

  it('answers unknown paths with not_found_error', async () => {
    const sim = await simulator();
    expectError(await send(sim, '/v1/nothing'), 404, 'not_found_error');
  });
});

describe('request validation', () => {
  const cases: Array<[string, unknown, string | RegExp]> = [
    ['missing messages', { model: 'claude-haiku-4-5', max_tokens: 10 }, 'messages: Field required'],
    [
      'missing max_tokens',
      { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] },
      'max_tokens: Field required',
    ],
    [
      'missing model',
      { max_tokens: 10, messages: [{ role: 'user', content: 'x' }] },
      'model: Field required',
    ],
    ['empty messages', userMessage('x', { messages: [] }), 'messages: at least one message is required'],
    [
      'bad role',
      userMessage('x', { messages: [{ role: 'tool', content: 'x' }] }),
      "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ],
    [
      'negative max_tokens',
      userMessage('x', { max_tokens: -1 }),
      'max_tokens: Input should be greater than or equal to 0',
    ],
    [
      'temperature above 1',
      userMessage('x', { temperature: 1.5 }),
      'temperature: Input should be less than or equal to 1',
    ],
    ['unknown field', userMessage('x', { colour: 'blue' }), 'colour: Extra inputs are not permitted'],
    [
      'empty text block',
      userMessage('x', { messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }),
      'messages: text content blocks must be non-empty',
    ],
    [
      'thinking budget too small',
      userMessage('x', { thinking: { type: 'enabled', budget_tokens: 500 } }),
      'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024',
    ],
    [
      'thinking budget not below max_tokens',
      userMessage('x', { max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 2000 } }),
      /^`max_tokens` must be greater than `thinking.budget_tokens`/,
    ],
    [
      'tool_use without tool_result',
      userMessage('x', {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 't', input: {} }] },
          { role: 'user', content: 'no result' },
        ],
      }),
      /tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/,
    ],
    [
      'too many breakpoints',
      userMessage('x', {
        system: Array.from({ length: 5 }, () => ({
          type: 'text',
          text: 's',
          cache_control: { type: 'ephemeral' },
        })),
      }),
      'A maximum of 4 blocks with cache_control may be provided. Found 5.',
    ],
    [
      'tool_choice naming an unknown tool',
      userMessage('x', {
        tools: [{ name: 'a', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 'b' },
      }),
      /Tool 'b' not found/,
    ],
  ];
  it.each(cases)('rejects %s', async (_name, body, message) => {
    const sim = await simulator();
    expectError(await send(sim, '/v1/messages', body), 400, 'invalid_request_error', message);
    expect(sim.counters().byStatus).toEqual({ '400': 1 });
  });

  it('rejects invalid JSON', async () => {
    const sim = await simulator();
    expectError(
      await send(sim, '/v1/messages', '{"model": '),
      400,
      'invalid_request_error',
      /parsing the body/,
    );
  });

  it('limits max_tokens to the model output limit from the catalog', async () => {
    const sim = await simulator();
    expectError(
      await send(sim, '/v1/messages', userMessage('x', { max_tokens: 100000 })),
      400,
      'invalid_request_error',
      'max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5-20251001',
    );
    expect((await send(sim, '/v1/messages', userMessage('x', { max_tokens: 64000 }))).status).toBe(200);
  });

  it('rejects a prompt longer than the context window', async () => {
    const sim = await simulator();
    // Each "abcd " is one token with the claude-v1 tokenizer.
    const response = await send(sim, '/v1/messages', userMessage('abcd '.repeat(200_000)));
    expectError(response, 400, 'invalid_request_error', /^prompt is too long: \d+ tokens > 200000 maximum$/);
    const tokens = Number(/: (\d+) tokens/.exec(response.json.error.message)![1]);
    expect(tokens).toBeGreaterThan(200_000);
  });

  it('answers an unknown model with not_found_error', async () => {
    const sim = await simulator();
    expectError(
      await send(sim, '/v1/messages', userMessage('x', { model: 'claude-xyz' })),
      404,
      'not_found_error',
      'model: claude-xyz',
    );
    expectError(
      await send(sim, '/v1/messages/count_tokens', {
        model: 'claude-xyz',
        messages: [{ role: 'user', content: 'x' }],
      }),
      404,
      'not_found_error',
    );
  });

  it('refuses bodies over 32 MB with request_too_large', async () => {
    const sim = await simulator();
    const huge = JSON.stringify(userMessage('a'.repeat(33 * 1024 * 1024)));
    expectError(await send(sim, '/v1/messages', huge), 413, 'request_too_large');
  });
});
