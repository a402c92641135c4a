import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { chatToMessages } from '../../src/simulator/openai.js';

let simulator: Simulator;
beforeAll(async () => {
  simulator = await startSimulator();
});
afterAll(() => simulator.close());

async function chat(body: unknown) {
  const response = await request(`${simulator.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-ant-test', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

describe("the simulator's OpenAI-compatible endpoint", () => {
  it('follows the compatibility rules: n is 1, temperature capped at 1, system messages hoisted and joined', () => {
    expect(() => chatToMessages({ model: 'm', n: 2, messages: [{ role: 'user', content: 'x' }] })).toThrow(
      /n: only 1/,
    );
    const { request: converted } = chatToMessages({
      model: 'claude-haiku-4-5',
      temperature: 1.7,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'developer', content: 'Be kind.' },
      ],
    });
    expect(converted.temperature).toBe(1);
    expect(converted.system).toBe('Be brief.\nBe kind.');
    expect(converted.messages).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('answers without anthropic-version, with usage in the OpenAI shape and the organization header', async () => {
    const answer = await chat({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['anthropic-organization-id']).toBeTruthy();
    const body = JSON.parse(answer.text);
    expect(body.object).toBe('chat.completion');
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(20);
  });

  it('streams chunks, with the usage chunk only when asked for', async () => {
    const ask = {
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      stream: true,
      messages: [{ role: 'user', content: 'Hi' }],
    };
    const plain = await chat(ask);
    expect(plain.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(plain.text).not.toContain('"usage"');
    const withUsage = await chat({ ...ask, stream_options: { include_usage: true } });
    const usageChunk = withUsage.text
      .split('\n\n')
      .filter((event) => event.includes('"usage"'))
      .map((event) => JSON.parse(event.slice('data: '.length)));
    expect(usageChunk).toHaveLength(1);
    expect(usageChunk[0].choices).toEqual([]);
    expect(usageChunk[0].usage.completion_tokens).toBeGreaterThan(0);
  });

  it('refuses n other than 1 over HTTP in the API error shape', async () => {
    const answer = await chat({
      model: 'claude-haiku-4-5',
      n: 3,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error.type).toBe('invalid_request_error');
  });
});
