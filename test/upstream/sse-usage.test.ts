import { describe, expect, it } from 'vitest';
import { SseUsageTap, usageFromJson } from '../../src/upstream/sse-usage.js';

const stream = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-haiku-4-5-20251001","usage":{"input_tokens":12,"cache_creation_input_tokens":2048,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":2048},"output_tokens":1}}}\n\n',
  'event: ping\ndata: {"type":"ping"}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo \\"usage\\": {\\"output_tokens\\": 999}"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":37}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join('');

describe('SseUsageTap', () => {
  it('reads cumulative usage whatever the chunking, even split inside a multi-byte character', () => {
    const bytes = Buffer.from(stream);
    // Both ways of reading: collecting whole events (for the cost event) and only watching.
    for (const [size, collect] of [1, 3, 7, 64, bytes.length].flatMap((n) => [
      [n, true] as const,
      [n, false] as const,
    ])) {
      const tap = new SseUsageTap();
      const events: string[] = [];
      for (let i = 0; i < bytes.length; i += size)
        events.push(...tap.push(bytes.subarray(i, i + size), collect));
      expect(events.join('')).toBe(collect ? stream : '');
      expect(tap.flush()).toBe('');
      expect(tap.usage).toEqual({
        input_tokens: 12,
        output_tokens: 37,
        cache_creation_input_tokens: 2048,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 2048 },
      });
      expect(tap.stopReason).toBe('end_turn');
      expect(tap.sawMessageStop).toBe(true);
      expect(tap.model).toBe('claude-haiku-4-5-20251001');
    }
  });

  it('records an error event in the middle of a stream', () => {
    const tap = new SseUsageTap();
    tap.push(Buffer.from(stream.split('event: content_block_stop')[0]!));
    tap.push(
      Buffer.from(
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
      ),
    );
    expect(tap.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    expect(tap.sawMessageStop).toBe(false);
    expect(tap.usage.input_tokens).toBe(12);
  });

  it('reads usage from a JSON body and tolerates garbage', () => {
    expect(usageFromJson('{"model":"m","usage":{"input_tokens":5,"output_tokens":6}}').usage).toEqual({
      input_tokens: 5,
      output_tokens: 6,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    expect(usageFromJson('not json').usage).toBeUndefined();
  });

  it('reads the trailing usage object without being fooled by text that mentions usage', () => {
    const body = JSON.stringify({
      id: 'msg_1',
      content: [
        { type: 'text', text: 'the "usage": {"output_tokens": 999} field, a brace } and 日本語 ✓ 🎉' },
      ],
      usage: {
        input_tokens: 7,
        output_tokens: 9,
        cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 0 },
        service_tier: 'standard',
      },
    });
    // As text and as the bytes the gateway reads (multi-byte characters before the usage).
    for (const given of [body, Buffer.from(body)]) {
      expect(usageFromJson(given).usage).toMatchObject({
        input_tokens: 7,
        output_tokens: 9,
        cache_creation: { ephemeral_5m_input_tokens: 3 },
      });
    }
    // usage written before the content: the whole-body parse still finds the right one
    const reordered = JSON.stringify({
      usage: { input_tokens: 1, output_tokens: 2 },
      content: [{ type: 'text', text: '"usage":{"input_tokens":5} ✓' }],
    });
    for (const given of [reordered, Buffer.from(reordered)]) {
      expect(usageFromJson(given).usage).toMatchObject({ input_tokens: 1, output_tokens: 2 });
    }
  });
});
