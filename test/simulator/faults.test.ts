import { describe, expect, it } from 'vitest';
import { send, simulator, userMessage } from './helpers.js';

async function control(
  url: string,
  path: string,
  body?: unknown,
  method = body === undefined ? 'GET' : 'POST',
) {
  const response = await fetch(`${url}/_sim/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response JSON, checked by the assertions
  return { status: response.status, json: (await response.json()) as any };
}

describe('faults and counters', () => {
  it('plays a script posted to the control endpoint in order, then serves normally', async () => {
    const sim = await simulator();
    const posted = await control(sim.url, 'faults', {
      script: [
        { status: 429, retryAfter: 2 },
        { status: 529 },
        { status: 500 },
        { status: 504 },
        { kind: 'delay', ms: 50 },
      ],
    });
    expect(posted).toEqual({ status: 200, json: { pending: 5, rates: {} } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await send(sim, '/v1/messages', userMessage(`n${i}`));
      statuses.push(response.status);
      if (i === 0) {
        expect(response.headers.get('retry-after')).toBe('2');
        expect(response.json.error.type).toBe('rate_limit_error');
      }
      if (i === 1) expect(response.json.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    }
    expect(statuses).toEqual([429, 529, 500, 504, 200, 200]);
    const counters = (await control(sim.url, 'counters')).json;
    expect(counters.byFault).toEqual({ '429': 1, '529': 1, '500': 1, '504': 1, delay: 1 });
    expect(counters.byStatus).toEqual({ '429': 1, '529': 1, '500': 1, '504': 1, '200': 2 });
    expect(counters.byPath).toEqual({ 'POST /v1/messages': 6 });
    expect(counters.requests).toBe(6);
  });

  it('resets the connection without an answer', async () => {
    const sim = await simulator();
    sim.faults.script([{ kind: 'reset' }]);
    const failure = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': 'sk-ant-x',
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify(userMessage('reset me')),
    }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect(sim.counters().byFault).toEqual({ reset: 1 });
    expect(sim.counters().abortedByClient).toBe(0);
    expect((await send(sim, '/v1/messages', userMessage('next'))).status).toBe(200);
  });

  it('injects random faults at the set rates, the same sequence for the same seed', async () => {
    const run = async () => {
      const sim = await simulator({ seed: 7, faults: { rates: { '529': 0.3, '500': 0.2 } } });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await send(sim, '/v1/messages', userMessage('x'))).status);
      return statuses;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    const overloaded = first.filter((s) => s === 529).length;
    const internal = first.filter((s) => s === 500).length;
    expect(overloaded).toBeGreaterThan(3);
    expect(internal).toBeGreaterThan(1);
    expect(first.filter((s) => s === 200).length).toBe(40 - overloaded - internal);
  });

  it('rejects an invalid fault and clears faults', async () => {
    const sim = await simulator();
    const bad = await control(sim.url, 'faults', { script: [{ kind: 'explode' }] });
    expect(bad.status).toBe(400);
    expect(bad.json.type).toBe('error');
    const badRates = await control(sim.url, 'faults', { rates: { '529': 0.8, '500': 0.5 } });
    expect(badRates.status).toBe(400);
    await control(sim.url, 'faults', { script: [{ status: 529 }] });
    expect((await control(sim.url, 'faults', undefined, 'DELETE')).json.pending).toBe(0);
    expect((await send(sim, '/v1/messages', userMessage('x'))).status).toBe(200);
  });

  it('resets counters and state over HTTP, without counting control requests', async () => {
    const sim = await simulator();
    await send(sim, '/v1/messages', userMessage('x'));
    await send(sim, '/v1/models');
    const before = sim.counters();
    expect(before.requests).toBe(2);
    expect(before.inputTokens).toBeGreaterThan(0);
    expect(before.outputTokens).toBe(32);
    expect((await control(sim.url, 'reset', {})).status).toBe(200);
    const after = sim.counters();
    expect(after).toMatchObject({
      requests: 0,
      byPath: {},
      byStatus: {},
      inputTokens: 0,
      outputTokens: 0,
      spendUsd: '0',
    });
  });

  it('does not require an API key on control endpoints, and keeps them apart from the API', async () => {
    const sim = await simulator({ apiKeys: ['sk-ant-api03-secret'] });
    expect((await control(sim.url, 'health')).json).toEqual({ ok: true });
    const api = await send(sim, '/v1/models');
    expect(api.status).toBe(401);
    expect((await control(sim.url, 'unknown')).status).toBe(404);
  });
});
