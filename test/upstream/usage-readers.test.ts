import { describe, expect, it } from 'vitest';
import { OpenAiStreamTap, openAiUsage, usageFromOpenAi } from '../../src/upstream/usage-readers.js';

const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

describe('the OpenAI-shape usage reader', () => {
  it('moves cached prompt tokens to cache reads and keeps the rest as input', () => {
    expect(
      usageFromOpenAi({
        prompt_tokens: 120,
        completion_tokens: 30,
        prompt_tokens_details: { cached_tokens: 100 },
      }),
    ).toMatchObject({
      input_tokens: 20,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 0,
      output_tokens: 30,
    });
    // Nonsense counts are not trusted: more cached than prompt, negatives, strings.
    expect(
      usageFromOpenAi({
        prompt_tokens: 10,
        completion_tokens: -3,
        prompt_tokens_details: { cached_tokens: 50 },
      }),
    ).toMatchObject({ input_tokens: 0, cache_read_input_tokens: 10, output_tokens: 0 });
    expect(usageFromOpenAi(undefined)).toBeUndefined();
  });

  it('reads a JSON answer', () => {
    const body = Buffer.from(
      JSON.stringify({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } }),
    );
    expect(openAiUsage.json(body)).toMatchObject({ input_tokens: 7, output_tokens: 3 });
    expect(openAiUsage.json(Buffer.from('not json'))).toBeUndefined();
  });

  it('reads the usage chunk of a stream cut at any byte, and its end', () => {
    const text =
      chunk({ choices: [{ index: 0, delta: { content: 'Hel "usage" lo' } }] }) +
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
      chunk({
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 2 } },
      }) +
      'data: [DONE]\n\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const tap = new OpenAiStreamTap();
      tap.push(bytes.subarray(0, cut));
      tap.push(bytes.subarray(cut));
      tap.flush();
      expect(tap.usage).toMatchObject({ input_tokens: 10, cache_read_input_tokens: 2, output_tokens: 5 });
      expect(tap.sawMessageStart).toBe(true);
      expect(tap.sawMessageStop).toBe(true);
    }
  });

  it('notices a stream without usage, one cut before its end, and an error in it', () => {
    const tap = new OpenAiStreamTap();
    tap.push(Buffer.from(chunk({ choices: [{ index: 0, delta: { content: 'Hi' } }] })));
    tap.push(Buffer.from(chunk({ error: { type: 'overloaded_error', message: 'Overloaded' } })));
    tap.flush();
    expect(tap.sawMessageStart).toBe(false);
    expect(tap.sawMessageStop).toBe(false);
    expect(tap.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
  });
});
