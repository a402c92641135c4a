import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { helperScript } from '../../src/cli/keys-developer.js';
import { isValidVirtualKey } from '../../src/keys/format.js';
import { spendReport } from '../../src/ledger/reports.js';
import { createPostgresDatabase } from '../helpers/services.js';
import { type Stack, startStack } from '../helpers/stack.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

const stacks: Stack[] = [];
afterEach(async () => {
  while (stacks.length > 0) await stacks.pop()!.close();
});

async function stack(options: Parameters<typeof startStack>[0] = {}): Promise<Stack> {
  const started = await startStack(options);
  stacks.push(started);
  return started;
}

/** Two gateways on one database (a SQLite file unless given), as two instances of one deployment. */
async function twoInstances(
  env: Record<string, string> = {},
  databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-short-lived-')), 'sluice.db')}`,
) {
  const a = await stack({ databaseUrl, env });
  const b = await stack({ databaseUrl, env, keyName: 'prod-backend-v2' });
  return { a, b };
}

/** A Messages request as Claude Code sends it with an apiKeyHelper: the key in both headers. */
async function ask(url: string, key: string): Promise<{ status: number; message?: string }> {
  const response = await fetch(`${url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${key}`,
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  const body = (await response.json()) as { error?: { type: string; message: string } };
  return { status: response.status, message: body.error?.message };
}

async function exchange(url: string, credential: string, query = '', accept = 'application/json') {
  const response = await fetch(`${url}/sluice/v1/keys/exchange${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, accept },
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** Polls until `check` holds; the milliseconds it took, or undefined after `ms`. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

async function credentialFor(s: Stack, developer = 'alice') {
  return s.gateway.keys.create({
    name: `claude-code-${developer}-helper`,
    environment: 'development',
    developer,
    kind: 'exchange',
  });
}

describe('short-lived keys for apiKeyHelper', () => {
  it('buys a key that works, acts as its credential in the ledger, and cannot be bought with anything else', async () => {
    const s = await stack();
    const { key: credential, view: credentialView } = await credentialFor(s);

    const bought = await exchange(s.gateway.url, credential);
    expect(bought.status).toBe(201);
    const json = JSON.parse(bought.text) as Record<string, unknown>;
    expect(isValidVirtualKey(json.key as string)).toBe(true);
    expect(json).toMatchObject({ developer: 'alice', ttl_seconds: 3600 });
    expect(json.name).toMatch(/^claude-code-alice-helper-sl-[0-9a-f]{10}$/);
    expect(Date.parse(json.expires_at as string) - Date.now()).toBeGreaterThan(3_590_000);

    // text/plain: the key alone, as apiKeyHelper must print it.
    const plain = await exchange(s.gateway.url, credential, '?ttl=10m', 'text/plain');
    expect(plain.status).toBe(201);
    expect(plain.type).toMatch(/^text\/plain/);
    expect(isValidVirtualKey(plain.text)).toBe(true);

    expect(await ask(s.gateway.url, plain.text)).toEqual({ status: 200, message: undefined });
    // The credential itself calls nothing.
    const refused = await ask(s.gateway.url, credential);
    expect(refused.status).toBe(401);
    expect(refused.message).toMatch(/exchange credential: it only buys short-lived keys/);
    // Only an exchange credential buys keys; a short-lived key does not buy more.
    for (const other of [s.key, plain.text, 'sk-sluice-nonsense']) {
      const answer = await exchange(s.gateway.url, other);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.text)).toMatchObject({
        type: 'error',
        error: { type: 'authentication_error' },
      });
    }
    const noCredential = await fetch(`${s.gateway.url}/sluice/v1/keys/exchange`, { method: 'POST' });
    expect(noCredential.status).toBe(401);
    // A lifetime above the cap (12h by default) or not a duration is refused.
    expect((await exchange(s.gateway.url, credential, '?ttl=13h')).text).toMatch(/above the cap of 43200 s/);
    expect((await exchange(s.gateway.url, credential, '?ttl=soon')).status).toBe(400);
    expect((await fetch(`${s.gateway.url}/sluice/v1/keys/exchange`)).status).toBe(405);

    // The ledger row is the credential's: spend by key and by developer are the developer's.
    const spend = (by: 'developer' | 'key') =>
      spendReport(s.gateway.store.db, {
        since: new Date(Date.now() - 60_000),
        by,
        catalog: s.gateway.catalog,
      });
    expect(await within(5000, async () => (await spend('developer')).total.requests === 1)).toBeDefined();
    const report = await spend('developer');
    expect(report.groups.map((g) => [g.group, g.requests])).toEqual([['alice', 1]]);
    const byKey = await spend('key');
    expect(byKey.groups.map((g) => g.group)).toEqual([credentialView.id]);
    // No secret in any log line.
    const logs = s.logs.join('');
    for (const secret of [credential, plain.text, json.key as string]) expect(logs).not.toContain(secret);
  });

  it('expires on time, and a revoked one is refused within a second on every instance', async () => {
    const { a, b } = await twoInstances({ SLUICE_SHORT_LIVED_TTL: '3s' });
    const { key: credential } = await credentialFor(a);

    // Expiry: the default lifetime here is 3 s.
    const shortOne = (await exchange(a.gateway.url, credential, '', 'text/plain')).text;
    expect((await ask(b.gateway.url, shortOne)).status).toBe(200);
    const expiredAfter = await within(6000, async () => (await ask(b.gateway.url, shortOne)).status === 401);
    expect(expiredAfter).toBeDefined();
    expect((await ask(a.gateway.url, shortOne)).message).toBe('this API key has expired');

    // Revoking one short-lived key (bought on b, revoked through a's store: no local shortcut).
    const bought = JSON.parse((await exchange(b.gateway.url, credential, '?ttl=1h')).text) as {
      key: string;
      name: string;
    };
    expect((await ask(a.gateway.url, bought.key)).status).toBe(200);
    expect((await ask(b.gateway.url, bought.key)).status).toBe(200);
    const revokedAt = Date.now();
    await a.gateway.keys.revoke(bought.name);
    const seen = await Promise.all(
      [a, b].map((s) =>
        within(
          3000,
          async () => (await ask(s.gateway.url, bought.key)).message === 'this API key has been revoked',
        ),
      ),
    );
    for (const took of seen) {
      expect(took).toBeDefined();
      expect(took!).toBeLessThan(1000);
    }
    expect(Date.now() - revokedAt).toBeLessThan(2000);

    // Revoking the credential ends every key it bought, on every instance.
    const kept = (await exchange(a.gateway.url, credential, '', 'text/plain')).text;
    expect((await ask(b.gateway.url, kept)).status).toBe(200);
    await b.gateway.keys.revoke('claude-code-alice-helper');
    for (const s of [a, b]) {
      const took = await within(3000, async () => (await ask(s.gateway.url, kept)).status === 401);
      expect(took).toBeLessThan(1000);
    }
    expect((await exchange(a.gateway.url, credential)).status).toBe(401);
    const listed = await a.gateway.keys.list({ shortLived: true });
    expect(listed.filter((k) => k.kind === 'short_lived').map((k) => k.status)).toEqual([
      'expired',
      'revoked',
      'revoked',
    ]);
    expect((await a.gateway.keys.list()).some((k) => k.kind === 'short_lived')).toBe(false);
  });

  it('on PostgreSQL: a revoked short-lived key is refused within a second by both instances', async () => {
    const database = await createPostgresDatabase('short_lived');
    const { a, b } = await twoInstances({}, database.url);
    stacks.unshift({ close: () => database.drop() } as Stack);
    const { key: credential } = await credentialFor(a);
    const bought = JSON.parse((await exchange(a.gateway.url, credential, '?ttl=5m')).text) as {
      key: string;
      name: string;
    };
    expect((await ask(b.gateway.url, bought.key)).status).toBe(200);
    expect((await ask(a.gateway.url, bought.key)).status).toBe(200);
    await b.gateway.keys.revoke(bought.name);
    for (const s of [a, b]) {
      const took = await within(3000, async () => (await ask(s.gateway.url, bought.key)).status === 401);
      expect(took).toBeDefined();
      expect(took!).toBeLessThan(1000);
    }
  });

  it('caps the keys alive per credential', async () => {
    const s = await stack({ yaml: { keys: { shortLived: { maxActive: 2 } } } });
    const { key: credential } = await credentialFor(s);
    expect((await exchange(s.gateway.url, credential)).status).toBe(201);
    expect((await exchange(s.gateway.url, credential)).status).toBe(201);
    const third = await exchange(s.gateway.url, credential);
    expect(third.status).toBe(429);
    expect(JSON.parse(third.text).error.message).toMatch(
      /already has 2 short-lived keys alive \(keys\.shortLived\.maxActive\)/,
    );
  });

  it('works as Claude Code runs it: the helper script and `sluice keys exchange` print the key and nothing else', async () => {
    const s = await stack();
    const { key: credential } = await credentialFor(s);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-helper-'));
    const credentialFile = join(dir, 'credential');
    writeFileSync(credentialFile, `${credential}\n`, { mode: 0o600 });
    const script = join(dir, 'helper.sh');
    writeFileSync(script, helperScript(s.gateway.url, '20m', credentialFile));

    // apiKeyHelper runs through the system shell.
    const run = promisify(execFile);
    const fromScript = await run('sh', ['-c', `sh ${script}`], {
      env: { PATH: process.env.PATH!, HOME: dir },
    });
    expect(isValidVirtualKey(fromScript.stdout)).toBe(true);
    expect(fromScript.stderr).toBe('');
    expect((await ask(s.gateway.url, fromScript.stdout)).status).toBe(200);

    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          tsx,
          main,
          'keys',
          'exchange',
          '--url',
          s.gateway.url,
          '--credential-file',
          credentialFile,
          '--ttl',
          '5m',
        ],
        { env: { PATH: process.env.PATH! } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(isValidVirtualKey(cli.stdout)).toBe(true);
    expect((await ask(s.gateway.url, cli.stdout)).status).toBe(200);

    // A failing helper prints nothing on stdout (Claude Code would take it as the key).
    writeFileSync(credentialFile, 'sk-sluice-wrong\n');
    const failed = await run('sh', [script], { env: { PATH: process.env.PATH!, HOME: dir } }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed.stdout).toBe('');
    expect((failed as { code: number }).code).not.toBe(0);
  }, 90_000); // a CLI process compiling TypeScript on start, and two shells running curl
});
