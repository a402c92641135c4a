import { Readable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, UPSTREAM_KEY } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { ANTHROPIC_TIMEOUT_MS: '1500' },
    // Scripted upstream 429s would pause Sluice's own buckets (as real ones must); this suite tests
    // forwarding, so admission control is off here and tested in test/limits.
    yaml: {
      upstream: { fallback: { 'claude-opus-4-8': ['claude-sonnet-4-6'] } },
      limits: { enabled: false },
    },
  });
});
afterAll(() => stack.close());

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Hello there' }],
};

async function post(body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const response = await request(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
      ...headers,
    },
    body: typeof body === 'string' || body instanceof Readable ? body : JSON.stringify(body),
    signal,
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

function fresh() {
  stack.simulator.faults.clear();
  stack.simulator.resetCounters();
}

describe('retries', () => {
  it('retries 500, 529, 429 and a connection reset, then succeeds', async () => {
    fresh();
    stack.simulator.faults.script([{ status: 500 }, { status: 529 }, { kind: 'reset' }]);
    const response = await post(ask);
    expect(response.status).toBe(200);
    const counters = stack.simulator.counters();
    expect(counters.byFault).toEqual({ '500': 1, '529': 1, reset: 1 });
    expect(counters.requests).toBe(4);
    expect(stack.logs.at(-1)).toContain('"attempts":4');
  });

  it('waits at least what retry-after asks', async () => {
    fresh();
    stack.simulator.faults.script([{ status: 429, retryAfter: 1 }]);
    const started = performance.now();
    const response = await post(ask);
    const waited = performance.now() - started;
    expect(response.status).toBe(200);
    expect(waited).toBeGreaterThanOrEqual(1000);
  });

  it('gives the client the upstream error and its retry-after when retries run out', async () => {
    fresh();
    stack.simulator.faults.script([
      { status: 529 },
      { status: 529 },
      { status: 500 },
      { status: 429, retryAfter: 7 },
    ]);
    const response = await post(ask);
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('7');
    expect(JSON.parse(response.text).error.type).toBe('rate_limit_error');
    expect(stack.simulator.counters().requests).toBe(4);
  });

  it('does not wait for a retry-after longer than the configured maximum', async () => {
    fresh();
    stack.simulator.faults.script([{ status: 429, retryAfter: 120 }]);
    const started = performance.now();
    const response = await post(ask);
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('120');
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(stack.simulator.counters().requests).toBe(1);
  });

  it('never retries other 4xx or a spend-cap 429', async () => {
    fresh();
    stack.simulator.faults.script([{ status: 409 }]);
    expect((await post(ask)).status).toBe(409);
    expect(stack.simulator.counters().requests).toBe(1);

    fresh();
    stack.simulator.setSpendCap(0);
    const capped = await post(ask);
    stack.simulator.setSpendCap(undefined);
    expect(capped.status).toBe(429);
    expect(capped.text).toContain('enforced_spend_limit_reached');
    expect(capped.headers['retry-after']).toBeUndefined();
    expect(stack.simulator.counters().requests).toBe(1);
  });

  it('retries an upstream that does not answer within ANTHROPIC_TIMEOUT_MS', async () => {
    fresh();
    stack.simulator.faults.script([{ kind: 'delay', ms: 2500 }]);
    const response = await post(ask);
    expect(response.status).toBe(200);
    expect(stack.simulator.counters().requests).toBe(2);
    expect(stack.logs.at(-1)).toContain('"attempts":2');
  });

  it('answers 502 in Anthropic shape when the upstream cannot be reached at all', async () => {
    const { startStack: start } = await import('../helpers/stack.js');
    const unreachable = await start({
      env: { SLUICE_UPSTREAM_URL: 'http://127.0.0.1:9' },
      yaml: { limits: { enabled: false } },
    });
    try {
      const response = await request(`${unreachable.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
          'x-api-key': unreachable.key,
        },
        body: JSON.stringify(ask),
      });
      expect(response.statusCode).toBe(502);
      const body = JSON.parse(await response.body.text());
      expect(body.error.type).toBe('api_error');
      expect(body.error.message).toMatch(/upstream unreachable \(ECONNREFUSED\)/);
      expect(unreachable.logs.at(-1)).toContain('"attempts":4');
    } finally {
      await unreachable.close();
    }
  });

  it('falls back to the next model on 529 when configured, and says so', async () => {
    fresh();
    stack.simulator.faults.script([{ status: 529 }]);
    const response = await post({ ...ask, model: 'claude-opus-4-8' });
    expect(response.status).toBe(200);
    expect(response.headers['x-sluice-fallback']).toBe('claude-opus-4-8 -> claude-sonnet-4-6');
    expect(JSON.parse(response.text).model).toMatch(/sonnet-4-6/);
  });
});

describe('streams', () => {
  it('passes a mid-stream error through as the SSE error event, without retrying', async () => {
    fresh();
    stack.simulator.faults.script([{ kind: 'stream-error', afterEvents: 3 }]);
    const response = await post({ ...ask, stream: true });
    expect(response.status).toBe(200);
    expect(response.text).toContain('event: error\ndata: {"type":"error","error":{"type":"overloaded_error"');
    expect(stack.simulator.counters().requests).toBe(1);
    const sdk = stack.sdk();
    stack.simulator.faults.script([{ kind: 'stream-error', afterEvents: 3 }]);
    await expect(sdk.messages.stream(ask).finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
  });

  it('ends a stalled stream with an error event once the upstream timeout passes', async () => {
    fresh();
    stack.simulator.faults.script([{ kind: 'stall', afterEvents: 2 }]);
    const response = await post({ ...ask, stream: true });
    expect(response.text).toContain('event: message_start');
    expect(response.text).toMatch(/event: error\ndata: .*"type":"(api_error|timeout_error)"/);
  });

  it('aborts the upstream request at once when the client disconnects', async () => {
    fresh();
    stack.simulator.faults.script([{ kind: 'delay', ms: 1000 }]);
    const controller = new AbortController();
    const pending = post(ask, {}, controller.signal).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stack.simulator.counters().inFlight).toBe(1);
    controller.abort();
    await pending;
    for (let i = 0; i < 50 && stack.simulator.counters().abortedByClient === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const counters = stack.simulator.counters();
    expect(counters.abortedByClient).toBe(1);
    expect(counters.inFlight).toBe(0);
    expect(counters.requests).toBe(1);
  });
});

describe('bad input', () => {
  const cases: Array<[string, unknown, Record<string, string>, number, RegExp]> = [
    ['malformed JSON', '{"model": "claude-haiku-4-5",', {}, 400, /not valid JSON/],
    ['a body that is not an object', '[1,2]', {}, 400, /JSON object/],
    ['model of the wrong type', { ...ask, model: 42 }, {}, 400, /model/],
    ['messages missing', { model: 'claude-haiku-4-5', max_tokens: 5 }, {}, 400, /messages/],
    ['max_tokens not an integer', { ...ask, max_tokens: 'many' }, {}, 400, /max_tokens/],
    ['stream not a boolean', { ...ask, stream: 'yes' }, {}, 400, /stream/],
    ['no anthropic-version', ask, { 'anthropic-version': '' }, 400, /anthropic-version/],
    ['bad priority header', ask, { 'x-sluice-priority': 'urgent' }, 400, /x-sluice-priority/],
    ['no key', ask, { 'x-api-key': '' }, 401, /x-api-key/],
  ];
  for (const [name, body, headers, status, message] of cases) {
    it(`answers ${name} with ${status} in Anthropic's shape and forwards nothing`, async () => {
      fresh();
      const response = await post(body, headers);
      expect(response.status).toBe(status);
      const parsed = JSON.parse(response.text);
      expect(parsed.type).toBe('error');
      expect(parsed.error.message).toMatch(message);
      expect(parsed.request_id).toMatch(/^req_/);
      expect(stack.simulator.counters().requests).toBe(0);
    });
  }

  it('refuses a body over 32 MB with 413 and keeps serving', async () => {
    fresh();
    const big = JSON.stringify({
      ...ask,
      messages: [{ role: 'user', content: 'x'.repeat(33 * 1024 * 1024) }],
    });
    const response = await post(big);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).error.type).toBe('request_too_large');
    expect((await post(ask)).status).toBe(200);
  });

  it('refuses a chunked body (no content-length) once it passes 32 MB, and keeps serving', async () => {
    fresh();
    const megabyte = Buffer.alloc(1024 * 1024, 'x');
    async function* chunks() {
      yield Buffer.from('{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"');
      for (let i = 0; i < 40; i++) yield megabyte;
      yield Buffer.from('"}]}');
    }
    // The rest of the body is drained, so the client finishes sending and reads the 413.
    const response = await post(Readable.from(chunks()));
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).error.type).toBe('request_too_large');
    expect(stack.simulator.counters().requests).toBe(0);
    expect((await post(ask)).status).toBe(200);
  });

  it('answers unknown paths and methods with 404 / 405', async () => {
    const unknown = await request(`${stack.gateway.url}/v1/no-such-endpoint`, { method: 'POST', body: '{}' });
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(await unknown.body.text()).error.type).toBe('not_found_error');
    const wrongMethod = await request(`${stack.gateway.url}/v1/messages`, { method: 'GET' });
    expect(wrongMethod.statusCode).toBe(405);
    await wrongMethod.body.dump();
    expect((await post(ask)).status).toBe(200);
  });
});

describe('a client that reads slowly', () => {
  let long: Stack;
  beforeAll(async () => {
    // Long answers (tens of MB of SSE), so the client's socket fills and Sluice must pause the upstream.
    long = await startStack({ yaml: { limits: { enabled: false } }, simulator: { outputTokens: 60_000 } });
  });
  afterAll(() => long.close());

  it('gets every byte of a stream it stopped reading for a while, in order', async () => {
    const body = JSON.stringify({ ...ask, max_tokens: 64_000, stream: true });
    const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
    const viaGateway = await request(`${long.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { ...headers, 'x-api-key': long.key },
      body,
    });
    // Not read for a while: the client's buffers fill, then the gateway's, then the upstream waits.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const received = await viaGateway.body.text();
    const direct = await request(`${long.simulator.url}/v1/messages`, {
      method: 'POST',
      headers: { ...headers, 'x-api-key': UPSTREAM_KEY },
      body,
    });
    const expected = await direct.body.text();
    expect(received.length).toBeGreaterThan(1_500_000);
    // Byte for byte the same stream, message ids aside.
    const withoutIds = (text: string) => text.replace(/"id":"msg_[^"]+"/g, '"id":"msg"');
    expect(withoutIds(received)).toBe(withoutIds(expected));
    expect(received.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
  }, 30_000);
});
