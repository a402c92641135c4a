import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import { spendTotal } from '../../src/ledger/queries.js';
import { openStore } from '../../src/store/database.js';
import { createPostgresDatabase, redisPrefix, redisUrl } from '../helpers/services.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * Prompts in scripts a character-based estimate undercounts (the simulator counts each CJK
 * character, emoji and punctuation mark as a token, as the catalog's tokenizers roughly do).
 */
const prompts: Record<string, (i: number) => string> = {
  english: (i) => `Question ${i}: summarise the history of the printing press in Europe. `.repeat(50),
  cjk: (i) => `第${i}問：ヨーロッパにおける活版印刷の歴史を要約してください。東京大学図書館。`.repeat(80),
  code: (i) =>
    `function f${i}(a, b) { return a.map((x) => x * b[i % b.length]).filter(Boolean); }\n`.repeat(40),
  emoji: (i) => `${i} 🚀🔥✨👍🏽🎉😀🌍📚🖨️💡 `.repeat(200),
};

const budgetUsd = '0.30';
const model = 'claude-opus-4-8';

async function ask(stack: Stack, prompt: string): Promise<number> {
  const response = await fetch(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
    },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: prompt }] }),
  });
  await response.text();
  return response.status;
}

/** 50 concurrent requests per gateway; returns how many were answered and how many refused (429). */
async function load(
  stacks: Stack[],
  prompt: (i: number) => string,
): Promise<{ ok: number; refused: number }> {
  const statuses = await Promise.all(
    stacks.flatMap((stack, s) => Array.from({ length: 50 }, (_, i) => ask(stack, prompt(s * 50 + i)))),
  );
  for (const status of statuses) expect([200, 429]).toContain(status);
  return {
    ok: statuses.filter((s) => s === 200).length,
    refused: statuses.filter((s) => s === 429).length,
  };
}

describe.each(Object.keys(prompts))('a $0.30 budget under 100 concurrent Opus requests in %s', (language) => {
  it('two gateways on one PostgreSQL + Redis: the ledger ends within the budget', async () => {
    const database = await createPostgresDatabase('overspend');
    const prefix = redisPrefix('overspend');
    const yaml = {
      limits: { enabled: false },
      ledger: { flushIntervalMs: 50 },
      budgets: {
        store: { backend: 'redis', url: redisUrl, prefix, failOpen: false },
        limits: [{ scope: 'global', window: 'daily', usd: budgetUsd }],
      },
    };
    const stacks: Stack[] = [];
    try {
      for (const keyName of ['overspend-a-v1', 'overspend-b-v1'])
        stacks.push(
          await startStack({
            databaseUrl: database.url,
            keyName,
            yaml,
            env: { SLUICE_LEDGER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'sluice-spool-')) },
          }),
        );
      const { ok, refused } = await load(stacks, prompts[language]!);
      for (const stack of stacks.splice(0)) await stack.close();
      const store = await openStore(database.url);
      const spent = await spendTotal(store.db);
      await store.close();
      expect(ok).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
      expect(spent).toBeLessThanOrEqual(usdToPico(budgetUsd));
      // The budget is used, not refused wholesale: more than a third of it is spent.
      expect(spent).toBeGreaterThan(usdToPico(budgetUsd) / 3n);
    } finally {
      for (const stack of stacks) await stack.close();
      await database.drop();
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);

  it('one gateway on SQLite with counters in memory: the ledger ends within the budget', async () => {
    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-overspend-')), 'sluice.db')}`;
    const stack = await startStack({
      databaseUrl,
      yaml: {
        limits: { enabled: false },
        budgets: { limits: [{ scope: 'global', window: 'daily', usd: budgetUsd }] },
      },
    });
    let result: { ok: number; refused: number };
    try {
      result = await load([stack, stack], prompts[language]!);
    } finally {
      await stack.close();
    }
    const store = await openStore(databaseUrl);
    const spent = await spendTotal(store.db);
    await store.close();
    expect(result.ok).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(usdToPico(budgetUsd));
    expect(spent).toBeGreaterThan(usdToPico(budgetUsd) / 3n);
  }, 60_000);
});
