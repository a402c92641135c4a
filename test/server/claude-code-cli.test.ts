/**
 * The real Claude Code CLI (npm `@anthropic-ai/claude-code`, its native Linux binary) and the
 * real Agent SDK (`@anthropic-ai/claude-agent-sdk`) against Sluice in front of the simulator:
 * `ANTHROPIC_BASE_URL` at the gateway, `ANTHROPIC_AUTH_TOKEN` a virtual key. Recording proxies
 * on both sides of the gateway show what the client sent and what reached the upstream.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RecordedRequest,
  type RecordingProxy,
  startRecordingProxy,
} from '../helpers/recording-proxy.js';
import { type Stack, startStack, UPSTREAM_KEY } from '../helpers/stack.js';

/** The native binary of this platform's package (present after `npm ci`, whether or not postinstall ran). */
function claudeBinary(): string {
  const platform = `${process.platform}-${process.arch}`;
  const candidates = [
    join('node_modules', '@anthropic-ai', `claude-code-${platform}`, 'claude'),
    join('node_modules', '@anthropic-ai', 'claude-code', 'bin', 'claude.exe'),
  ].map((path) => join(process.cwd(), path));
  const found = candidates.find((path) => existsSync(path) && statSync(path).size > 1_000_000);
  if (!found)
    throw new Error(
      `no Claude Code binary for ${platform} under node_modules (looked at ${candidates.join(', ')}): run npm ci`,
    );
  return found;
}

let stack: Stack;
let client: RecordingProxy; // between Claude Code and the gateway
let upstream: RecordingProxy; // between the gateway and the simulator

beforeAll(async () => {
  upstream = await startRecordingProxy();
  stack = await startStack({ env: { SLUICE_UPSTREAM_URL: upstream.url }, keyName: 'dev-coding-alice' });
  upstream.retarget(stack.simulator.url);
  client = await startRecordingProxy(stack.gateway.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.close();
  await upstream?.close();
});

/** A clean environment: a temporary HOME, no telemetry, no update checks, nothing inherited. */
function claudeEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: client.url,
    ANTHROPIC_AUTH_TOKEN: stack.key,
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What this run sent to the gateway. */
  sent: RecordedRequest[];
}

async function claude(prompt: string, cwd: string): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), 'sluice-claude-home-'));
  const before = client.requests.length;
  const child = spawn(claudeBinary(), ['-p', prompt], {
    cwd,
    env: claudeEnv(home),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr, sent: client.requests.slice(before) };
}

const messagesCalls = (requests: RecordedRequest[]) =>
  requests.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/messages'));

// biome-ignore lint/suspicious/noExplicitAny: request JSON, checked by the assertions
const bodyOf = (request: RecordedRequest): any => JSON.parse(request.body.toString('utf8'));

async function ledgerRows() {
  await new Promise((resolve) => setTimeout(resolve, 400)); // the ledger is written in batches
  return stack.gateway.store.db.selectFrom('ledger').selectAll().orderBy('at').execute();
}

describe('Claude Code CLI through Sluice', () => {
  it('answers a plain prompt with text, exit 0, in at most a few upstream requests', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-claude-cwd-'));
    const upstreamBefore = upstream.requests.length;
    const run = await claude('Say hello in one short sentence.', cwd);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim().length).toBeGreaterThan(0);
    const calls = messagesCalls(upstream.requests.slice(upstreamBefore));
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(3);
    // Claude Code talks to the beta Messages endpoint, with mid-conversation system turns.
    expect(calls[0]!.url).toBe('/v1/messages?beta=true');
    expect(bodyOf(calls[0]!).messages.some((m: { role: string }) => m.role === 'system')).toBe(true);
  }, 150_000);

  it('reads a file in its working directory in one tool round trip, then ends', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-claude-cwd-'));
    writeFileSync(join(cwd, 'notes.txt'), 'The secret word is pelican.\n');
    const upstreamBefore = upstream.requests.length;
    const run = await claude('Read the file notes.txt and tell me the secret word.', cwd);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().length).toBeGreaterThan(0);
    const calls = messagesCalls(upstream.requests.slice(upstreamBefore)).map(bodyOf);
    // The first answer calls Read on the file; the next request carries its content; that answer ends the run.
    const withResult = calls.filter((body) =>
      JSON.stringify(body.messages).includes('The secret word is pelican.'),
    );
    expect(withResult).toHaveLength(1);
    const conversation = withResult[0]!.messages;
    const toolUses = conversation.flatMap((m: { content: unknown }) =>
      Array.isArray(m.content) ? m.content.filter((b: { type: string }) => b.type === 'tool_use') : [],
    );
    expect(toolUses).toHaveLength(1);
    expect(toolUses[0]).toMatchObject({ name: 'Read', input: { file_path: join(cwd, 'notes.txt') } });
    expect(calls.length).toBeLessThanOrEqual(3);
  }, 150_000);

  it('records priced ledger rows with the developer key, the session and the client', async () => {
    const rows = await ledgerRows();
    const calls = messagesCalls(client.requests);
    expect(rows.length).toBe(calls.length);
    const view = (await stack.gateway.keys.list()).find((k) => k.name === 'dev-coding-alice')!;
    const sessions = new Set(calls.map((c) => c.headers['x-claude-code-session-id']));
    expect(sessions.size).toBe(2); // one per run
    for (const row of rows) {
      expect(row.key_id).toBe(view.id);
      expect(sessions.has(row.session_id)).toBe(true);
      expect(row).toMatchObject({ client: 'claude-cli', client_version: '2.1.332', status: 200, priced: 1 });
      expect(Number(row.cost_pico)).toBeGreaterThan(0);
    }
  });

  it('forwards the body and the named headers exactly as Claude Code sent them, apart from the credential', async () => {
    const sent = messagesCalls(client.requests);
    const received = messagesCalls(upstream.requests);
    expect(received.length).toBe(sent.length);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const [i, request] of sent.entries()) {
      const up = received[i]!;
      expect(up.url).toBe(request.url);
      expect(up.body.equals(request.body), `body of request ${i}`).toBe(true);
      const named = Object.keys(request.headers).filter(
        (name) => name.startsWith('anthropic-') || name.startsWith('x-claude-code-') || name === 'user-agent',
      );
      expect(named).toEqual(
        expect.arrayContaining(['anthropic-version', 'anthropic-beta', 'x-claude-code-session-id']),
      );
      for (const name of named) expect(up.headers[name], name).toBe(request.headers[name]);
      expect(request.headers.authorization).toBe(`Bearer ${stack.key}`);
      expect(up.headers.authorization).toBeUndefined();
      expect(up.headers['x-api-key']).toBe(UPSTREAM_KEY);
    }
  });
});

describe('Agent SDK through Sluice', () => {
  it('runs a query to a successful result, recorded with the SDK entrypoint', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-agent-home-'));
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-agent-cwd-'));
    const before = client.requests.length;
    const messages = [];
    for await (const message of query({
      prompt: 'Say hello in one short sentence.',
      // The SDK's env replaces the process environment: only what the agent needs.
      options: { cwd, env: claudeEnv(home), maxTurns: 3 },
    })) {
      messages.push(message);
    }
    const result = messages.find((m) => m.type === 'result');
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false });
    expect(String((result as { result?: string }).result ?? '').length).toBeGreaterThan(0);
    const calls = messagesCalls(client.requests.slice(before));
    expect(calls[0]!.headers['user-agent']).toMatch(
      /^claude-cli\/2\.1\.332 \(external, sdk-ts, agent-sdk\/0\.3\.332/,
    );
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(3);
    const rows = (await ledgerRows()).slice(-calls.length);
    for (const row of rows) {
      expect(row.session_id).toBe(calls[0]!.headers['x-claude-code-session-id']);
      expect(row.client).toBe('claude-cli');
      expect(row.client_entrypoint).toBe('sdk-ts');
      expect(row.priced).toBe(1);
    }
  }, 150_000);
});

describe('Claude Code and what Sluice refuses or lists', () => {
  let limited: Stack;
  let front: RecordingProxy;
  beforeAll(async () => {
    // A daily budget no request fits: every Messages request is stopped by Sluice.
    limited = await startStack({
      keyName: 'dev-coding-bob',
      yaml: { budgets: { limits: [{ scope: 'global', window: 'daily', usd: '0.000001' }] } },
    });
    front = await startRecordingProxy(limited.gateway.url);
  });
  afterAll(async () => {
    await front?.close();
    await limited?.close();
  });

  async function run(prompt: string, extraEnv: Record<string, string> = {}) {
    const home = mkdtempSync(join(tmpdir(), 'sluice-claude-home-'));
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-claude-cwd-'));
    const child = spawn(claudeBinary(), ['-p', prompt], {
      cwd,
      env: {
        ...claudeEnv(home),
        ANTHROPIC_BASE_URL: front.url,
        ANTHROPIC_AUTH_TOKEN: limited.key,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    return { code, output };
  }

  it('shows a budget stop without retrying it, and discovers only the models the key may use', async () => {
    const { key } = await limited.gateway.keys.create({
      name: 'dev-coding-carol',
      environment: 'production',
      models: ['claude-opus-5-5', 'claude-haiku-4-5'],
    });
    const started = performance.now();
    const result = await run('Say hello in one short sentence.', {
      ANTHROPIC_AUTH_TOKEN: key,
      CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
    });
    const seconds = (performance.now() - started) / 1000;
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/budget/i);
    const calls = messagesCalls(front.requests);
    expect(calls).toHaveLength(1); // x-should-retry: false: Claude Code did not retry
    expect(seconds).toBeLessThan(60);
    expect(limited.simulator.counters().byPath['POST /v1/messages']).toBeUndefined();
    // Model discovery asked the gateway, with the key; what it was shown is the key's two models.
    const discovery = front.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/v1/models'));
    expect(discovery.map((r) => r.url)).toContain('/v1/models?limit=1000');
    const listed = await fetch(`${limited.gateway.url}/v1/models?limit=1000`, {
      headers: { ...discovery[0]!.headers, host: undefined } as unknown as Record<string, string>,
    });
    const page = (await listed.json()) as { data: Array<{ id: string }> };
    expect(page.data.map((m) => m.id).sort()).toEqual(['claude-haiku-4-5-20251001', 'claude-opus-5-5']);
  }, 150_000);
});
