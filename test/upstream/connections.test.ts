import { tmpdir } from 'node:os';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type Stack, startStack } from '../helpers/stack.js';

const STREAMS = 300;
// Each stream takes ~3 s after its first token: a stream kept waiting for a connection gets its
// first byte only after some other stream ended.
const latency = { ttftMs: 100, tokensPerSecond: 10 };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    simulator: { latency, outputTokens: 30 },
    // Admission control is tested in test/limits; here the upstream connections alone are measured.
    yaml: { limits: { enabled: false } },
  });
});
afterAll(() => stack.close());

/** When the stream's first body bytes came and when it ended, in ms from `t0`. */
async function stream(t0: number): Promise<{ first: number; end: number }> {
  const response = await request(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
    },
    body: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'Tell me a story' }],
    }),
  });
  expect(response.statusCode).toBe(200);
  let first: number | undefined;
  for await (const _chunk of response.body) first ??= performance.now() - t0;
  return { first: first!, end: performance.now() - t0 };
}

describe('upstream connections', () => {
  it('defaults to enough connections for hundreds of concurrent streams, and is configurable', () => {
    expect(stack.gateway.loaded.config.upstream.connections).toBeGreaterThanOrEqual(1024);
    const loaded = loadConfig({ cwd: tmpdir(), env: { SLUICE_UPSTREAM_CONNECTIONS: '4096' } });
    expect(loaded.config.upstream.connections).toBe(4096);
    expect(() => loadConfig({ cwd: tmpdir(), env: { SLUICE_UPSTREAM_CONNECTIONS: 'many' } })).toThrow(
      /SLUICE_UPSTREAM_CONNECTIONS/,
    );
  });

  it(`gives ${STREAMS} concurrent slow streams their first byte promptly`, async () => {
    const t0 = performance.now();
    const streams = await Promise.all(Array.from({ length: STREAMS }, () => stream(t0)));
    const firsts = streams.map((s) => s.first).sort((a, b) => a - b);
    const median = firsts[Math.floor(firsts.length / 2)]!;
    const last = firsts.at(-1)!;
    const firstEnd = Math.min(...streams.map((s) => s.end));
    console.log(
      `${STREAMS} streams, first byte: median ${Math.round(median)} ms, max ${Math.round(last)} ms; first stream ended at ${Math.round(firstEnd)} ms`,
    );
    // A stream that waited for a connection starts only once another stream has ended.
    expect(last).toBeLessThan(firstEnd);
    expect(stack.simulator.counters().inFlight).toBe(0);
  }, 30_000);
});
