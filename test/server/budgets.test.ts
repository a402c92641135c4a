import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import { moneyDb } from '../../src/ledger/tables.js';
import { openStore } from '../../src/store/database.js';
import { startStack } from '../helpers/stack.js';
import { webhookReceiver } from '../helpers/webhook.js';

describe('budgets through the gateway', () => {
  it('holds a $0.01 budget under 50 concurrent requests and alerts once per threshold', async () => {
    const receiver = await webhookReceiver();
    const { alerts } = receiver;
    const stack = await startStack({
      env: { SLUICE_ALERT_WEBHOOK_URL: receiver.url },
      yaml: { budgets: { limits: [{ scope: 'global', window: 'total', usd: '0.01' }] } },
    });
    try {
      const client = stack.sdk();
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          client.messages
            .create({
              model: 'claude-opus-4-8',
              max_tokens: 100,
              messages: [{ role: 'user', content: `question ${i}` }],
            })
            .withResponse()
            .then(
              ({ response }) => ({
                ok: true as const,
                pico: usdToPico(response.headers.get('x-sluice-cost-usd')!),
              }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
        ),
      );
      const spent = outcomes.reduce((sum, o) => sum + (o.ok ? o.pico : 0n), 0n);
      const refused = outcomes.filter((o) => !o.ok);
      expect(spent).toBeLessThanOrEqual(10_000_000_000n); // $0.01 in pico-dollars
      expect(outcomes.filter((o) => o.ok).length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      for (const o of refused) {
        expect(o.error).toBeInstanceOf(Anthropic.RateLimitError);
        expect((o.error as InstanceType<typeof Anthropic.APIError>).type).toBe('billing_error');
        expect(String((o.error as Error).message)).toMatch(/budget/i);
      }
      // Refused requests never reached the upstream.
      expect(stack.simulator.counters().requests).toBe(outcomes.filter((o) => o.ok).length);
      // The first refusal sends one "exhausted" alert (not one per threshold), and no more follow.
      for (let i = 0; i < 100 && alerts.length < 1; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.text).toMatch(/total \(prepaid\) budget of the gateway \(\$0\.01\) is exhausted/);
    } finally {
      await stack.close();
      await receiver.close();
    }
  });
});

describe('budgets and a model without a price', () => {
  it('hold a $0.01 budget under 50 concurrent requests, counted at the worst case, the rows saying why', async () => {
    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-unpriced-')), 'sluice.db')}`;
    const stack = await startStack({
      databaseUrl,
      yaml: { budgets: { limits: [{ scope: 'global', window: 'total', usd: '0.01' }] } },
    });
    const model = 'claude-mythos-preview';
    let answered = 0;
    try {
      const client = stack.sdk();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          client.messages.create({
            model,
            max_tokens: 100,
            messages: [{ role: 'user', content: `question ${i}` }],
          }),
        ),
      );
      answered = outcomes.filter((o) => o.status === 'fulfilled').length;
      expect(answered).toBeGreaterThan(0);
      expect(answered).toBeLessThan(50);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(String((o.reason as Error).message)).toMatch(/budget/i);
    } finally {
      await stack.close();
    }
    const store = await openStore(databaseUrl);
    const rows = await moneyDb(store.db).selectFrom('ledger').selectAll().where('status', '=', 200).execute();
    await store.close();
    expect(rows).toHaveLength(answered);
    const spent = rows.reduce((sum, row) => sum + BigInt(row.cost_pico), 0n);
    expect(spent).toBeGreaterThan(0n);
    expect(spent).toBeLessThanOrEqual(10_000_000_000n); // $0.01
    for (const row of rows) expect(row).toMatchObject({ priced: 0, unpriced_reason: 'no price' });
  });
});

describe('budget thresholds, one request at a time', () => {
  it('alerts at 50 % and 80 % as spend crosses them, then once when requests are refused', async () => {
    const receiver = await webhookReceiver();
    const stack = await startStack({
      env: { SLUICE_ALERT_WEBHOOK_URL: receiver.url },
      yaml: {
        budgets: {
          limits: [{ scope: 'environment', environment: 'production', window: 'daily', usd: '0.01' }],
        },
      },
    });
    try {
      const client = stack.sdk();
      let refusal: unknown;
      for (let i = 0; i < 40 && !refusal; i++) {
        await client.messages
          .create({
            model: 'claude-opus-4-8',
            max_tokens: 40,
            messages: [{ role: 'user', content: `q${i}` }],
          })
          .catch((error: unknown) => {
            refusal = error;
          });
        await new Promise((resolve) => setTimeout(resolve, 30)); // let the webhook deliveries land in order
      }
      expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
      expect((refusal as InstanceType<typeof Anthropic.APIError>).headers?.get('x-should-retry')).toBe(
        'false',
      );
      expect(String((refusal as Error).message)).toMatch(/resets at \d{4}-\d{2}-\d{2}T00:00:00/);
      for (let i = 0; i < 100 && receiver.alerts.length < 3; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const alerts = receiver.alerts.map((a) => a.text);
      expect(alerts).toHaveLength(3);
      expect(alerts[0]).toMatch(/^Sluice: 50% of the daily budget of environment production/);
      expect(alerts[1]).toMatch(/^Sluice: 80% /);
      expect(alerts[2]).toMatch(/is exhausted and requests are refused/);
    } finally {
      await stack.close();
      await receiver.close();
    }
  });
});
