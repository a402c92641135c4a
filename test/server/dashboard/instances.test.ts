import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../helpers/services.js';
import { type Stack, startStack } from '../../helpers/stack.js';

/** Two gateways on one PostgreSQL database, as deployed for more than one instance. */
const TOKEN = 'admin-token-for-tests-0123456789';
let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let a: Stack;
let b: Stack;
beforeAll(async () => {
  database = await createPostgresDatabase('dashboard');
  a = await startStack({ databaseUrl: database.url, keyName: 'prod-instance-a' });
  b = await startStack({ databaseUrl: database.url, keyName: 'prod-instance-b' });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await database?.drop();
});

async function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const response = await request(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 20,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

describe('the dashboard on two instances sharing a database', () => {
  it('keeps a session started on one instance on the other, with the same numbers and changes in force on both', async () => {
    const login = await call(`${a.gateway.url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TOKEN}`,
    });
    expect(login.status).toBe(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;

    await a.sdk().messages.create(ask);
    await a.sdk().messages.create(ask);
    b.simulator.faults.script([1, 2, 3, 4].map(() => ({ status: 529 })));
    await expect(b.sdk().messages.create(ask)).rejects.toBeInstanceOf(Anthropic.InternalServerError);

    // Read through instance B with the session from A: both instances' requests, from the shared ledger.
    const deadline = Date.now() + 10_000;
    let activity: { totals: Record<string, number> } = { totals: {} };
    while (Date.now() < deadline) {
      const answer = await call(`${b.gateway.url}/dashboard/admin/requests/activity?since=1h`, {
        headers: { cookie },
      });
      expect(answer.status).toBe(200);
      activity = JSON.parse(answer.text);
      if (activity.totals.requests === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(activity.totals).toMatchObject({
      requests: 3,
      ok: 2,
      upstream_529: 1,
      upstream_429: 0,
      retries: 3,
    });
    const viaToken = await call(`${a.gateway.url}/admin/requests/activity?since=1h`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(JSON.parse(viaToken.text).totals).toEqual(activity.totals);
    const series = JSON.parse(
      (await call(`${b.gateway.url}/dashboard/admin/spend/series?since=1h&by=key`, { headers: { cookie } }))
        .text,
    );
    // Largest first: B's only request failed upstream, so it cost nothing.
    expect(
      series.series.map((s: { name: string; cost_usd: string }) => [s.name, s.cost_usd === '0.000000']),
    ).toEqual([
      ['prod-instance-a', false],
      ['prod-instance-b', true],
    ]);
    const recent = JSON.parse(
      (await call(`${a.gateway.url}/dashboard/admin/requests/recent?limit=5`, { headers: { cookie } })).text,
    );
    expect(recent.data.map((r: { outcome: string }) => r.outcome)).toEqual(['upstream_529', 'ok', 'ok']);

    // A key revoked on B's page is refused on A within the change feed's bound.
    const page = (await call(`${b.gateway.url}/dashboard`, { headers: { cookie } })).text;
    const csrf = /name="sluice-csrf" content="([^"]+)"/.exec(page)![1]!;
    const revoked = await call(`${b.gateway.url}/dashboard/admin/keys/prod-instance-a/revoke`, {
      method: 'POST',
      headers: { cookie, 'x-sluice-csrf': csrf },
    });
    expect(revoked.status).toBe(200);
    expect(JSON.parse(revoked.text).status).toBe('revoked');
    const refusedBy = Date.now() + 3000;
    let refused = false;
    while (!refused && Date.now() < refusedBy) {
      refused = await a
        .sdk()
        .messages.create(ask)
        .then(
          () => false,
          (error) => error instanceof Anthropic.AuthenticationError,
        );
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toBe(true);
  }, 60_000);
});
