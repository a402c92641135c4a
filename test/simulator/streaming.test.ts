import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { apiHeaders, send, simulator, userMessage } from './helpers.js';

interface Event {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: response JSON, checked by the assertions
  data: any;
}

/** Parses SSE text, insisting on the exact framing `event: X\ndata: {...}\n\n`. */
function parseFrames(text: string): Event[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((frame) => {
      const match = /^event: ([a-z_]+)\ndata: (\{.*\})$/.exec(frame);
      expect(match, `frame ${JSON.stringify(frame)}`).not.toBeNull();
      const data = JSON.parse(match![2]!);
      if (match![1] !== 'error') expect(data.type).toBe(match![1]);
      return { event: match![1]!, data };
    });
}

describe('streaming', () => {
  it('frames events byte for byte and in the reference order', async () => {
    const sim = await simulator();
    const response = await send(sim, '/v1/messages', userMessage('Stream please', { stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).not.toBeNull();
    const events = parseFrames(response.text);
    const names = events.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(names.slice(3, -3).every((n) => n === 'content_block_delta')).toBe(true);

    const start = events[0]!.data.message;
    expect(start.content).toEqual([]);
    expect(start.stop_reason).toBeNull();
    expect(start.usage.input_tokens).toBeGreaterThan(0);
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => e.data.delta.text)
      .join('');
    const delta = events.at(-2)!.data;
    expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    expect(delta.usage.output_tokens).toBe(32);
    expect(delta.usage.input_tokens).toBe(start.usage.input_tokens);

    const plain = await send(sim, '/v1/messages', userMessage('Stream please'));
    expect(plain.json.content[0].text).toBe(text);
    expect(plain.json.usage.output_tokens).toBe(delta.usage.output_tokens);
  });

  it('streams thinking deltas, then the signature, then text', async () => {
    const sim = await simulator();
    const response = await send(
      sim,
      '/v1/messages',
      userMessage('Think', {
        stream: true,
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
      }),
    );
    const events = parseFrames(response.text);
    const starts = events
      .filter((e) => e.event === 'content_block_start')
      .map((e) => e.data.content_block.type);
    expect(starts).toEqual(['thinking', 'text']);
    const thinkingDeltas = events.filter((e) => e.data.index === 0 && e.event === 'content_block_delta');
    expect(thinkingDeltas.at(-1)!.data.delta.type).toBe('signature_delta');
    expect(thinkingDeltas.slice(0, -1).every((e) => e.data.delta.type === 'thinking_delta')).toBe(true);
  });

  it('ends a stream with an error event after the scripted number of events', async () => {
    const sim = await simulator();
    sim.faults.script([{ kind: 'stream-error', afterEvents: 3 }]);
    const response = await send(sim, '/v1/messages', userMessage('Fail midway', { stream: true }));
    expect(response.status).toBe(200);
    const events = parseFrames(response.text);
    expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'error']);
    expect(events[3]!.data).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    expect(sim.counters().byFault).toEqual({ 'stream-error': 1 });
  });

  it('stalls a stream, and counts the client that gives up as aborted', async () => {
    const sim = await simulator();
    sim.faults.script([{ kind: 'stall', afterEvents: 2 }]);
    const body = JSON.stringify(userMessage('Stall', { stream: true }));
    const received = await new Promise<string>((resolve, reject) => {
      const req = request(`${sim.url}/v1/messages`, { method: 'POST', headers: apiHeaders }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('event: ping')) {
            // Both events arrived and nothing more will: give up as a client would on a stall.
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.end(body);
    });
    expect(parseFrames(received).map((e) => e.event)).toEqual(['message_start', 'ping']);
    await expect.poll(() => sim.counters().abortedByClient).toBe(1);
    expect(sim.counters().inFlight).toBe(0);
  });

  it('counts a client that disconnects during a slow response as aborted, and in flight until then', async () => {
    const sim = await simulator({ latency: { ttftMs: 5_000, tokensPerSecond: 10 } });
    const controller = new AbortController();
    const pending = fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: apiHeaders,
      body: JSON.stringify(userMessage('slow')),
      signal: controller.signal,
    }).catch((error: Error) => error);
    await expect.poll(() => sim.counters().inFlight).toBe(1);
    controller.abort();
    await pending;
    await expect.poll(() => sim.counters().abortedByClient).toBe(1);
    expect(sim.counters().inFlight).toBe(0);
    expect(sim.counters().byStatus).toEqual({});
  });
});
