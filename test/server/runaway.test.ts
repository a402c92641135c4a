import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';
import { webhookReceiver } from '../helpers/webhook.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A webhook receiver, closed after the test. */
async function receiver() {
  const hook = await webhookReceiver();
  cleanup.push(hook.close);
  return hook;
}

/** A Claude Code request: session header, metadata.user_id, the key as a bearer token. */
async function claudeCode(url: string, key: string, session: string, viaMetadata = false) {
  const response = await fetch(`${url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${key}`,
      'anthropic-version': '2023-06-01',
      ...(viaMetadata ? {} : { 'x-claude-code-session-id': session }),
    },
    body: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'go on' }],
      metadata: { user_id: JSON.stringify({ device_id: 'dev-1', account_uuid: '', session_id: session }) },
    }),
  });
  const body = (await response.json()) as { type: string; error?: { type: string; message: string } };
  return {
    status: response.status,
    body,
    retryAfter: response.headers.get('retry-after'),
    guard: response.headers.get('x-sluice-guard'),
  };
}

describe('runaway protection through the gateway', () => {
  it('a looping session trips its guard at the default ceiling while another developer keeps flowing', async () => {
    const hook = await receiver();
    const s: Stack = await startStack({ env: { SLUICE_ALERT_WEBHOOK_URL: hook.url } });
    cleanup.push(() => s.close());
    const alice = await s.gateway.keys.create({
      name: 'claude-code-alice',
      environment: 'development',
      developer: 'alice',
    });
    const bob = await s.gateway.keys.create({
      name: 'claude-code-bob',
      environment: 'development',
      developer: 'bob',
    });

    // Bob works at a human pace during Alice's loop; every one of his requests must be answered.
    let looping = true;
    const bobStatuses: number[] = [];
    const bobWorks = (async () => {
      while (looping) {
        bobStatuses.push((await claudeCode(s.gateway.url, bob.key, 'bob-session')).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Alice's agent loops as in issue 17, one request after another, until refused.
    let answered = 0;
    let refused: Awaited<ReturnType<typeof claudeCode>> | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const result = await claudeCode(s.gateway.url, alice.key, 'alice-loop', i % 2 === 1);
      if (result.status === 200) answered++;
      else refused = result;
    }
    // Alice's other session is not stopped either.
    const aliceOther = await claudeCode(s.gateway.url, alice.key, 'alice-second-window');
    looping = false;
    await bobWorks;

    // The default session ceiling is 120 requests a minute (the header and metadata.user_id name one session).
    expect(answered).toBe(120);
    expect(refused!.status).toBe(429);
    expect(refused!.body.type).toBe('error');
    expect(refused!.body.error!.type).toBe('rate_limit_error');
    expect(refused!.guard).toBe('session.rpm');
    expect(refused!.body.error!.message).toMatch(
      /^Sluice runaway guard \(session requests\): session alice-loop of key claude-code-alice sent 120 requests in the last minute \(ceiling 120 a minute, limits\.runaway\.session\.rpm\); its requests are refused until .+Z \(in \d+ s\)\./,
    );
    expect(Number(refused!.retryAfter)).toBeGreaterThan(30);
    expect(Number(refused!.retryAfter)).toBeLessThanOrEqual(64);
    expect(aliceOther.status).toBe(200);
    expect(bobStatuses.length).toBeGreaterThan(0);
    expect(bobStatuses.every((status) => status === 200)).toBe(true);
    // Refused requests never reached the upstream.
    expect(s.simulator.counters().requests).toBe(120 + 1 + bobStatuses.length);

    // One alert for the trip, naming key, developer, session and guard; a metric.
    for (let i = 0; i < 100 && hook.alerts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(hook.alerts).toHaveLength(1);
    expect(hook.alerts[0]!.alert).toMatchObject({
      kind: 'runaway_guard',
      scope: 'session',
      guard: 'requests',
      subject: 'claude-code-alice',
      developer: 'alice',
      session: 'alice-loop',
      limit: '120',
    });
    expect(hook.alerts[0]!.text).toBe(refused!.body.error!.message);
    const metrics = await (await fetch(`${s.gateway.url}/metrics`)).text();
    expect(metrics).toContain('sluice_runaway_trips_total{scope="session",guard="requests"} 1');
    expect(metrics).toMatch(/sluice_runaway_refusals_total\{scope="session",guard="requests"\} 1\n/);
    // No secret in the logs or the alert.
    for (const secret of [alice.key, bob.key]) {
      expect(s.logs.join('')).not.toContain(secret);
      expect(JSON.stringify(hook.alerts)).not.toContain(secret);
    }
  });

  it("follows a key's own --guard settings and the SLUICE_RUNAWAY_* variables", async () => {
    const s: Stack = await startStack({ env: { SLUICE_RUNAWAY_KEY_RPM: '4' } });
    cleanup.push(() => s.close());
    const carol = await s.gateway.keys.create({
      name: 'claude-code-carol',
      environment: 'development',
      developer: 'carol',
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await claudeCode(s.gateway.url, carol.key, `s${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);

    // The key says off: its requests are never refused by a runaway guard (the cache is dropped at once here).
    const ci = await s.gateway.keys.create({
      name: 'claude-code-ci',
      environment: 'development',
      developer: 'ci',
      guards: { off: true },
    });
    for (let i = 0; i < 8; i++) expect((await claudeCode(s.gateway.url, ci.key, 'same')).status).toBe(200);

    // A service key (no developer) is not guarded per key by default.
    for (let i = 0; i < 8; i++) expect((await claudeCode(s.gateway.url, s.key, `svc${i}`)).status).toBe(200);
  });
});
