import { describe, expect, it } from 'vitest';
import { developerSlug, helperTtlMs } from '../../src/cli/keys-developer.js';
import { isValidVirtualKey } from '../../src/keys/format.js';
import { openStore } from '../../src/store/database.js';
import { cli, cliWorkspace } from '../helpers/cli.js';

const { databaseUrl } = cliWorkspace('keys-developer');

/** The first JSON object printed in a text. */
function jsonIn(text: string): Record<string, unknown> {
  const start = text.indexOf('{\n');
  const end = text.indexOf('\n}', start);
  return JSON.parse(text.slice(start, end + 2));
}

describe('sluice keys create-developer', () => {
  it("prints the settings.json env block and the shell exports with the developer's key", async () => {
    const result = await cli(
      'keys',
      'create-developer',
      'alice@example.com',
      '--url',
      'https://sluice.example.com/',
    );
    expect(result.error).toBeUndefined();
    expect(result.out).toMatch(
      /^Created claude-code-alice-example-com for developer alice@example\.com \(development\)\./,
    );
    const settings = jsonIn(result.out) as { env: Record<string, string> };
    const key = settings.env.ANTHROPIC_AUTH_TOKEN!;
    expect(isValidVirtualKey(key)).toBe(true);
    expect(settings.env).toEqual({
      ANTHROPIC_BASE_URL: 'https://sluice.example.com',
      ANTHROPIC_AUTH_TOKEN: key,
      CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
    });
    expect(result.out).toContain(
      `export ANTHROPIC_BASE_URL=https://sluice.example.com\nexport ANTHROPIC_AUTH_TOKEN=${key}\n`,
    );
    // Listed with its developer, never its secret.
    const list = await cli('keys', 'list');
    expect(list.out).toMatch(
      /claude-code-alice-example-com\s+development\s+active\s+sk-sluice-…\w{4}\s+never\s+never\s+developer alice@example\.com/,
    );
    expect(list.out).not.toContain(key);
  });

  it('with --helper, makes an exchange credential and prints apiKeyHelper settings without ANTHROPIC_AUTH_TOKEN', async () => {
    const result = await cli(
      'keys',
      'create-developer',
      'bob',
      '--helper',
      '--ttl',
      '30m',
      '--url',
      'http://10.0.0.5:8787',
      '--guard',
      'session.rpm=60',
    );
    expect(result.error).toBeUndefined();
    const credential = /^(sk-sluice-\w+)$/m.exec(result.out)![1]!;
    expect(isValidVirtualKey(credential)).toBe(true);
    const settings = jsonIn(result.out.slice(result.out.indexOf('3. '))) as {
      apiKeyHelper: string;
      env: Record<string, string>;
    };
    expect(settings).toEqual({
      apiKeyHelper: 'sh ~/.claude/sluice-key-helper.sh',
      env: {
        ANTHROPIC_BASE_URL: 'http://10.0.0.5:8787',
        CLAUDE_CODE_API_KEY_HELPER_TTL_MS: String(25 * 60_000),
        CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
        CLAUDE_CODE_SKIP_FAST_MODE_ORG_CHECK: '1',
      },
    });
    expect(result.out).toContain(
      'sluice keys helper-script --url http://10.0.0.5:8787 --ttl 30m > ~/.claude/sluice-key-helper.sh',
    );
    const view = JSON.parse((await cli('keys', 'list', '--json')).out).find(
      (k: { name: string }) => k.name === 'claude-code-bob-helper',
    );
    expect(view).toMatchObject({ kind: 'exchange', developer: 'bob', guards: { session: { rpm: 60 } } });
    expect(
      (await cli('keys', 'update', 'claude-code-bob-helper', '--guard', 'default', '--json')).out,
    ).toContain('"guards": null');
    const bad = await cli('keys', 'update', 'claude-code-bob-helper', '--guard', 'session.rps=1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/scope\.field=value/);
  });

  it('prints a helper script, and refuses names it cannot make', async () => {
    const script = await cli('keys', 'helper-script', '--url', 'https://gw.example.com', '--ttl', '2h');
    expect(script.out).toMatch(/^#!\/bin\/sh\n/);
    expect(script.out).toContain('"$url/sluice/v1/keys/exchange?ttl=2h"');
    expect(script.out).toContain('-H @-');
    expect((await cli('keys', 'create-developer', '@@@')).error?.message).toBe(
      '"@@@" has no letters or digits to name a key after',
    );
    const badTtl = await cli('keys', 'helper-script', '--ttl', 'forever');
    expect(badTtl.code).toBe(2);
    expect(badTtl.err).toMatch(/"forever" is not a duration/);
    expect(developerSlug(' Zoë.Smith ')).toBe('zo-smith');
    expect(helperTtlMs(3_600_000)).toBe(3_300_000);
    expect(helperTtlMs(120_000)).toBe(60_000);
  });

  it('groups spend by developer', async () => {
    const store = await openStore(databaseUrl);
    const keys = await store.db.selectFrom('virtual_keys').select(['id', 'developer']).execute();
    const row = (keyId: string, i: number) => ({
      request_id: `req_dev_${i}`,
      at: Date.now() - 1000,
      key_id: keyId,
      environment: 'development',
      requested_model: 'claude-haiku-4-5',
      model: 'claude-haiku-4-5',
      status: 200,
      retries: 0,
      latency_ms: 10,
      input_tokens: 100,
      output_tokens: 10,
      cache_write_5m_tokens: 0,
      cache_write_1h_tokens: 0,
      cache_read_tokens: 0,
      cost_pico: 1_000_000,
      priced: 1,
      batch: 0,
    });
    const alice = keys.find((k) => k.developer === 'alice@example.com')!.id;
    const bob = keys.find((k) => k.developer === 'bob')!.id;
    await store.db
      .insertInto('ledger')
      .values([row(alice, 1), row(alice, 2), row(bob, 3), row('', 4)])
      .execute();
    await store.close();
    const report = JSON.parse((await cli('spend', '--by', 'developer', '--json')).out) as {
      groups: Array<{ group: string; requests: number }>;
    };
    expect(report.groups.map((g) => [g.group, g.requests])).toEqual([
      ['alice@example.com', 2],
      ['', 1],
      ['bob', 1],
    ]);
    const text = (await cli('spend', '--by', 'developer')).out;
    expect(text).toMatch(/^developer\s+requests/m);
    expect(text).toMatch(/^alice@example\.com\s+2\s/m);
  });
});
