import { afterEach, describe, expect, it } from 'vitest';
import { type RecordingProxy, startRecordingProxy } from '../helpers/recording-proxy.js';
import { type Stack, startStack, UPSTREAM_KEY } from '../helpers/stack.js';

let stack: Stack | undefined;
let upstream: RecordingProxy | undefined;
afterEach(async () => {
  await stack?.close();
  await upstream?.close();
  stack = undefined;
  upstream = undefined;
});

/** A stack whose gateway reaches the simulator through a proxy that records what goes up. */
async function recordedStack(options: Parameters<typeof startStack>[0] = {}) {
  upstream = await startRecordingProxy();
  stack = await startStack({ ...options, env: { ...options.env, SLUICE_UPSTREAM_URL: upstream.url } });
  upstream.retarget(stack.simulator.url);
  return { stack, upstream };
}

/** Claude Code's request headers (2.1.332, as seen on the wire), the credential left to the caller. */
const claudeHeaders = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'anthropic-beta':
    'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24',
  'anthropic-dangerous-direct-browser-access': 'true',
  'x-claude-code-session-id': 'af6ba21a-713a-4c58-89e7-898172f8dfad',
  'x-claude-code-agent-id': 'agent-explore-1',
  'x-claude-code-request-class': 'main',
  'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)',
  'x-app': 'cli',
};

// Spacing, escapes and number spellings a re-serialiser would change.
const claudeBody = `{"model":"claude-opus-5-5","messages":[{"role":"user","content":[{"type":"text","text":"caf\\u00e9 \\u2014 hi","cache_control":{"type":"ephemeral","scope":"global"}}]},{"role":"system","content":"# Environment"}],
 "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.332.58d; cc_entrypoint=sdk-cli;"},{"type":"text","text":"You are an agent.","cache_control":{"type":"ephemeral"}}],
 "tools":[],"metadata":{"user_id":"{\\"device_id\\":\\"d\\",\\"account_uuid\\":\\"\\",\\"session_id\\":\\"af6ba21a-713a-4c58-89e7-898172f8dfad\\"}"},
 "max_tokens":1000,"thinking":{"type":"adaptive","display":"omitted"},"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
 "output_config":{"effort":"medium"},"stream":true,"future_field":1.50}`;

describe("Claude Code's gateway protocol", () => {
  it('forwards the body byte for byte, ?beta=true, anthropic-* and x-claude-code-* headers; only the credential changes', async () => {
    const { stack, upstream } = await recordedStack();
    const sent = { ...claudeHeaders, authorization: `Bearer ${stack.key}` };
    // The simulator refuses unknown fields, so the future field is sent through a gateway whose upstream answers;
    // the upstream's verdict is not the point: what reached it is.
    const response = await fetch(`${stack.gateway.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: sent,
      body: claudeBody,
    });
    await response.text();
    expect(upstream.requests).toHaveLength(1);
    const [up] = upstream.requests;
    expect(up!.url).toBe('/v1/messages?beta=true');
    expect(up!.body.equals(Buffer.from(claudeBody))).toBe(true);
    for (const [name, value] of Object.entries(claudeHeaders)) {
      if (name === 'content-type') continue;
      expect(up!.headers[name], name).toBe(value);
    }
    // The virtual key never reaches the upstream; the upstream key replaces it.
    expect(up!.headers.authorization).toBeUndefined();
    expect(up!.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(JSON.stringify(up!.headers)).not.toContain(stack.key);
  });

  it("records the key's session, agent and client on the priced ledger row", async () => {
    const { stack } = await recordedStack();
    const body = claudeBody.replace(',"future_field":1.50', '');
    const response = await fetch(`${stack.gateway.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { ...claudeHeaders, authorization: `Bearer ${stack.key}` },
      body,
    });
    expect(response.status).toBe(200);
    await response.text();
    const row = await ledgerRow(stack);
    expect(row).toMatchObject({
      session_id: 'af6ba21a-713a-4c58-89e7-898172f8dfad',
      agent_id: 'agent-explore-1',
      client: 'claude-cli',
      client_version: '2.1.332',
      client_entrypoint: 'sdk-cli',
      priced: 1,
      status: 200,
    });
    expect(Number(row.cost_pico)).toBeGreaterThan(0);
  });

  it('answers HEAD / and HEAD /api/hello at once, without a key and without the upstream', async () => {
    const { stack, upstream } = await recordedStack();
    for (const path of ['/', '/api/hello']) {
      const response = await fetch(`${stack.gateway.url}${path}`, { method: 'HEAD' });
      expect(response.status, path).toBe(200);
    }
    expect(upstream.requests).toHaveLength(0);
    // Other methods on those paths are not API endpoints.
    expect((await fetch(`${stack.gateway.url}/`, { method: 'POST' })).status).toBe(404);
  });

  it('lists only the models a key may use, for discovery and for one model', async () => {
    const { stack } = await recordedStack();
    const { key } = await stack.gateway.keys.create({
      name: 'dev-coding-alice',
      environment: 'production',
      models: ['claude-haiku-4-5', 'claude-opus-5-5'],
    });
    const get = (path: string, token: string) =>
      fetch(`${stack.gateway.url}${path}`, {
        headers: { 'anthropic-version': '2023-06-01', authorization: `Bearer ${token}` },
      });
    const limited = (await (await get('/v1/models?limit=1000', key)).json()) as ModelPage;
    expect(limited.data.map((m) => m.id).sort()).toEqual(['claude-haiku-4-5-20251001', 'claude-opus-5-5']);
    expect(limited.first_id).toBe(limited.data[0]!.id);
    const all = (await (await get('/v1/models?limit=1000', stack.key)).json()) as ModelPage;
    expect(all.data.length).toBeGreaterThan(2);
    expect((await get('/v1/models/claude-haiku-4-5', key)).status).toBe(200);
    const hidden = await get('/v1/models/claude-sonnet-5-5', key);
    expect(hidden.status).toBe(404);
    expect(((await hidden.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
    expect((await get('/v1/models/claude-sonnet-5-5', stack.key)).status).toBe(200);
  });

  it('stops a request over budget with a 429 billing_error that the SDK does not retry', async () => {
    // A daily budget too small for any request: every request is refused before the upstream.
    const { stack, upstream } = await recordedStack({
      yaml: { budgets: { limits: [{ scope: 'global', window: 'daily', usd: '0.000001' }] } },
    });
    // A client with the SDK's default retries.
    const client = stack.sdk({ maxRetries: 2 });
    const refused = await client.messages
      .create({ model: 'claude-opus-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (error: { status?: number; type?: string; headers?: Headers }) => error,
      );
    expect(refused?.status).toBe(429);
    expect(refused?.type).toBe('billing_error');
    expect(refused?.headers?.get('x-should-retry')).toBe('false');
    expect(Number(refused?.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(upstream.requests).toHaveLength(0);
    await ledgerRow(stack);
    await new Promise((resolve) => setTimeout(resolve, 500)); // time for a retry to show, were there one
    const rows = await stack.gateway.store.db.selectFrom('ledger').select('status').execute();
    expect(rows).toEqual([{ status: 429 }]); // one attempt: not retried
  });
});

interface ModelPage {
  data: Array<{ id: string }>;
  first_id: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: a ledger row, checked by the assertions
async function ledgerRow(stack: Stack): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const row = await stack.gateway.store.db.selectFrom('ledger').selectAll().executeTakeFirst();
    if (row) return row;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no ledger row');
}
