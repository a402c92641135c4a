import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import { Alerter, type AlertLogger, thresholdMessage } from '../../src/ledger/alerts.js';
import { BudgetEnforcer } from '../../src/ledger/budget-enforcer.js';
import { setBudget } from '../../src/ledger/budget-store.js';
import { postWebhook } from '../../src/ledger/webhook.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { entry, storeKinds } from './stores.js';

interface Receiver {
  url: string;
  bodies: Array<{ text: string; alert: Record<string, unknown> }>;
  /** Status codes to answer with, in order; 200 once they run out. */
  failures: number[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const bodies: Receiver['bodies'] = [];
  const failures: number[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk) => {
      data += chunk;
    });
    req.on('end', () => {
      const status = failures.shift() ?? 200;
      if (status === 200) bodies.push(JSON.parse(data));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    failures,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const quietLogger = (): AlertLogger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, warn: (_f, m) => lines.push(`warn ${m}`), error: (_f, m) => lines.push(`error ${m}`) };
};

describe('alert delivery', () => {
  let receiver: Receiver;
  let store: Store;
  beforeEach(async () => {
    receiver = await startReceiver();
    store = await storeKinds[0]!.open('alerts');
  });
  afterEach(async () => {
    await receiver.close();
    await store.close();
  });

  it('posts each threshold once to the webhook, retrying a failing receiver', async () => {
    receiver.failures.push(503, 500);
    const logger = quietLogger();
    const now = Date.UTC(2026, 9, 15, 10);
    const alerter = new Alerter({
      db: store.db,
      webhookUrl: receiver.url,
      webhook: { baseDelayMs: 5 },
      logger,
      clock: () => now,
    });
    await setBudget(
      store.db,
      { scope: 'environment', subject: 'production', window: 'monthly', usd: '10' },
      'cli',
    );
    const enforcer = new BudgetEnforcer(store.db, { clock: () => now, onThreshold: alerter.budgetThreshold });
    await enforcer.load();
    for (let i = 0; i < 30; i++) {
      const admission = enforcer.reserve({ environment: 'production' }, usdToPico('0.5'));
      if (admission.ok) admission.reservation.settle(usdToPico('0.45'));
    }
    await alerter.idle();
    expect(receiver.bodies.map((b) => b.alert.threshold)).toEqual([50, 80, 100]);
    expect(receiver.bodies[0]!.text).toBe(
      'Sluice: 50% of the monthly budget of environment production ($10) used ($5.40 spent); it resets at 2026-11-01T00:00:00.000Z.',
    );
    expect(receiver.bodies[2]!.alert).toMatchObject({
      kind: 'budget_exhausted',
      budget: 'environment:production:monthly',
    });
    expect(alerter.delivered[0]).toMatchObject({ delivered: true, attempts: 3 });
    expect(logger.lines.filter((l) => l.startsWith('warn budget threshold reached'))).toHaveLength(3);

    // A second instance (or a restart) seeded from the same ledger does not send them again.
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    writer.write(
      entry({ at: now, environment: 'production', usage: { input_tokens: 9_900_000, output_tokens: 0 } }),
    );
    await writer.close();
    const again = new Alerter({
      db: store.db,
      webhookUrl: receiver.url,
      webhook: { baseDelayMs: 5 },
      logger,
      clock: () => now,
    });
    const restarted = new BudgetEnforcer(store.db, { clock: () => now, onThreshold: again.budgetThreshold });
    await restarted.load();
    const small = restarted.reserve({ environment: 'production' }, 0n);
    if (small.ok) small.reservation.settle(0n);
    expect(restarted.reserve({ environment: 'production' }, usdToPico('0.5')).ok).toBe(false);
    await again.idle();
    expect(receiver.bodies).toHaveLength(3);
  });

  it('gives up after its attempts and says so', async () => {
    receiver.failures.push(500, 500, 500);
    const result = await postWebhook(receiver.url, { text: 'x' }, { attempts: 3, baseDelayMs: 1 });
    expect(result).toMatchObject({ delivered: false, attempts: 3, status: 500 });
    receiver.failures.push(404);
    expect(await postWebhook(receiver.url, { text: 'x' }, { attempts: 3, baseDelayMs: 1 })).toMatchObject({
      delivered: false,
      attempts: 1,
      status: 404,
    });
    const closed = await postWebhook(
      'http://127.0.0.1:1/hook',
      { text: 'x' },
      { attempts: 2, baseDelayMs: 1 },
    );
    expect(closed.delivered).toBe(false);
    expect(closed.error).toBeDefined();
  });

  it('alerts once when the last hour spends far above the trailing hourly average', async () => {
    const hour = 3_600_000;
    const now = Date.UTC(2026, 9, 15, 12, 30);
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    // 24 quiet hours at about $0.10 each (100,000 Haiku input tokens), then $3.00 in the last hour.
    for (let h = 2; h <= 25; h++)
      writer.write(
        entry({ at: now - h * hour + 60_000, usage: { input_tokens: 100_000, output_tokens: 0 } }),
      );
    await writer.flush();
    const logger = quietLogger();
    const alerter = new Alerter({
      db: store.db,
      webhookUrl: receiver.url,
      logger,
      clock: () => now,
      anomaly: { multiple: 3, minHourlyUsd: '1' },
    });
    expect(await alerter.checkAnomaly()).toBeUndefined();
    writer.write(entry({ at: now - 10 * 60_000, usage: { input_tokens: 3_000_000, output_tokens: 0 } }));
    await writer.close();
    const event = await alerter.checkAnomaly();
    expect(event).toMatchObject({ lastHourPico: usdToPico('3'), averagePico: usdToPico('0.1') });
    expect(await alerter.checkAnomaly()).toBeUndefined();
    await alerter.idle();
    expect(receiver.bodies.map((b) => b.alert.kind)).toEqual(['spend_anomaly']);
    expect(receiver.bodies[0]!.text).toContain('$3.00 in the last hour');
  });
});

describe('webhook payload, version 1', () => {
  it('has the fields docs/change-feed.md documents, naming the key by name and its id second', () => {
    const doc = readFileSync(new URL('../../docs/change-feed.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Alert webhook payload'));
    const documented = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]!);
    const message = thresholdMessage({
      budget: {
        id: 'key:key_d27e:total',
        scope: 'key',
        subject: 'key_d27e',
        subjectName: 'dev-bars-alerts',
        window: 'total',
        limitPico: usdToPico('0.02'),
        thresholds: [50, 80],
        source: 'cli',
      },
      threshold: 80,
      spentPico: usdToPico('0.0163'),
      reservedPico: 0n,
      windowStart: 0,
      windowEnd: null,
      refused: false,
    });
    expect(Object.keys(message).sort()).toEqual(Object.keys(documented).sort());
    expect(Object.keys(message.alert).sort()).toEqual(Object.keys(documented.alert).sort());
    expect(message).toMatchObject({ version: 1, text: documented.text });
    expect(message.alert).toMatchObject({
      kind: 'budget_threshold',
      subject: 'dev-bars-alerts',
      subject_id: 'key_d27e',
      budget_name: 'total (prepaid) budget of key dev-bars-alerts ($0.02)',
    });
  });
});
