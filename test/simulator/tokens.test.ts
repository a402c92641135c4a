import { describe, expect, it } from 'vitest';
import { fillerText } from '../../src/simulator/generate.js';
import { createRng } from '../../src/simulator/random.js';
import { countPromptTokens, countTextTokens, tokenCosts } from '../../src/simulator/tokens.js';
import { longText, send, simulator, userMessage } from './helpers.js';

describe('token counting', () => {
  it('counts letter runs, digit runs and symbols, whitespace joining the next token', () => {
    expect(countTextTokens('', 'claude-v1')).toBe(0);
    expect(countTextTokens('hello world', 'claude-v1')).toBe(4); // hell|o| worl|d
    expect(countTextTokens('hello world', 'claude-v2')).toBe(4); // hel|lo| wor|ld
    expect(countTextTokens('abcd', 'claude-v1')).toBe(1);
    expect(countTextTokens('abcd', 'claude-v2')).toBe(2);
    expect(countTextTokens('12345, ok!', 'claude-v1')).toBe(5); // 123|45|,| ok|!
    expect(countTextTokens('trailing   ', 'claude-v1')).toBe(3);
  });

  it('gives the newer tokenizer roughly 30 % more tokens on English text', () => {
    const text = longText(2000);
    const ratio = countTextTokens(text, 'claude-v2') / countTextTokens(text, 'claude-v1');
    expect(ratio).toBeGreaterThan(1.2);
    expect(ratio).toBeLessThan(1.45);
  });

  it('generates text whose token count is exactly the requested length, with either tokenizer', () => {
    for (const length of [0, 1, 7, 32, 501]) {
      const text = fillerText(createRng(length), length);
      expect(countTextTokens(text, 'claude-v1')).toBe(length);
      expect(countTextTokens(text, 'claude-v2')).toBe(length);
    }
  });

  it('counts tools, system, tool blocks and images in the prompt', () => {
    const base = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    const plain = countPromptTokens(base, 'claude-v1');
    expect(plain).toBe(tokenCosts.prompt + tokenCosts.message + 1);
    const withSystem = countPromptTokens({ ...base, system: 'be brief' }, 'claude-v1');
    expect(withSystem).toBe(plain + countTextTokens('be brief', 'claude-v1'));
    const withImage = countPromptTokens(
      {
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x'.repeat(9999) } }] },
        ],
      },
      'claude-v1',
    );
    expect(withImage).toBe(tokenCosts.prompt + tokenCosts.message + tokenCosts.image);
    const tool = { name: 'lookup', input_schema: { type: 'object' } };
    expect(countPromptTokens({ ...base, tools: [tool] }, 'claude-v1')).toBe(
      plain + tokenCosts.toolDefinition + countTextTokens(JSON.stringify(tool), 'claude-v1'),
    );
  });

  it('answers count_tokens with exactly the usage.input_tokens of the same prompt', async () => {
    const sim = await simulator();
    const prompts = [
      userMessage('Hello there'),
      userMessage(longText(700), { system: [{ type: 'text', text: 'You are terse.' }] }),
      {
        model: 'claude-opus-4-7',
        max_tokens: 300,
        tools: [{ name: 'get_weather', description: 'Weather now', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'Weather in Oslo?' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '3 degrees, rain' }],
          },
        ],
      },
    ];
    for (const prompt of prompts) {
      const { max_tokens: _unused, ...countBody } = prompt;
      const counted = await send(sim, '/v1/messages/count_tokens', countBody);
      const created = await send(sim, '/v1/messages', prompt);
      expect(counted.status).toBe(200);
      expect(created.status).toBe(200);
      expect(created.json.usage.input_tokens).toBe(counted.json.input_tokens);
      expect(counted.json.input_tokens).toBeGreaterThan(tokenCosts.prompt);
    }
  });

  it('counts the same text higher for a claude-v2 model than a claude-v1 model', async () => {
    const sim = await simulator();
    const text = longText(500);
    const v1 = await send(sim, '/v1/messages/count_tokens', {
      model: 'claude-opus-4-6',
      messages: [{ role: 'user', content: text }],
    });
    const v2 = await send(sim, '/v1/messages/count_tokens', {
      model: 'claude-opus-4-7',
      messages: [{ role: 'user', content: text }],
    });
    expect(v2.json.input_tokens).toBeGreaterThan(v1.json.input_tokens * 1.2);
  });
});
