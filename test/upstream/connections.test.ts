import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type Stack, startStack } from '../helpers/stack.js';

const STREAMS = 300;
// Streams of ~30 s: with too few upstream connections, the ones beyond the pool wait for a whole
// stream to end; the test stops them all as soon as it has seen what it needs.
const latency = { ttftMs: 100, tokensPerSecond: 1 };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    simulator: { latency, outputTokens: 30 },
    // Admission control is tested in test/limits; here the upstream connections alone are measured.
    yaml: { limits: { enabled: false } },
  });
});
afterAll(() => stack.close());

/** A stream, read until aborted; resolves with when its first body bytes came (ms from t0), if they did. */
async function stream(t0: number, signal: AbortSignal, onFirst: () => void): Promise<number | undefined> {
  let first: number | undefined;
  try {
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
      signal,
    });
    expect(response.statusCode).toBe(200);
    for await (const _chunk of response.body) {
      if (first === undefined) {
        first = performance.now() - t0;
        onFirst();
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  return first;
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

  it(`runs ${STREAMS} concurrent slow streams at once, each with its first byte`, async () => {
    const abort = new AbortController();
    // One signal ends all the streams: one listener each is expected, not a leak.
    setMaxListeners(STREAMS + 10, abort.signal);
    const t0 = performance.now();
    let started = 0;
    let peak = 0;
    const streams = Array.from({ length: STREAMS }, () => stream(t0, abort.signal, () => started++));
    // Every stream under way at the upstream at the same time, long before any of them could end.
    const deadline = Date.now() + 20_000;
    while (started < STREAMS && Date.now() < deadline) {
      peak = Math.max(peak, stack.simulator.counters().inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    peak = Math.max(peak, stack.simulator.counters().inFlight);
    abort.abort();
    const firsts = (await Promise.all(streams)).filter((t) => t !== undefined).sort((a, b) => a - b);
    console.log(
      `${STREAMS} streams: ${firsts.length} had their first byte (median ${Math.round(firsts[Math.floor(firsts.length / 2)] ?? -1)} ms, max ${Math.round(firsts.at(-1) ?? -1)} ms); at most ${peak} at once upstream`,
    );
    expect(firsts).toHaveLength(STREAMS);
    expect(peak).toBe(STREAMS);
  }, 40_000);
});
