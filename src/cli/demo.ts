import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import type { Command } from 'commander';
import { defaultCatalog } from '../catalog/catalog.js';
import { loadConfig } from '../config/load.js';
import { spendReport } from '../ledger/reports.js';
import { type Gateway, startGateway } from '../server/gateway.js';
import { createLogger } from '../server/logger.js';
import { gatewayPlugins } from '../server/plugins.js';
import { startSimulator } from '../simulator/index.js';
import { openStore } from '../store/database.js';

// A throwaway upstream key of the real shape; only the local simulator accepts it.
const DEMO_UPSTREAM_KEY = `sk-ant-api03-${'demo'.repeat(23)}dAA`;

interface Row {
  step: string;
  model: string;
  status: string;
  tokens: string;
  cost: string;
  ms: number;
  note: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the gateway against the built-in simulator and show what it does')
    .option('--latency <profile>', 'simulator latency: none or realistic', 'realistic')
    .action(async (flags: { latency: 'none' | 'realistic' }) => {
      await runDemo(flags.latency);
    });
}

export async function runDemo(latency: 'none' | 'realistic'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  const simulator = await startSimulator({ apiKeys: [DEMO_UPSTREAM_KEY], tier: 'evaluation', latency });
  const loaded = loadConfig({
    cwd: dir,
    env: {
      ANTHROPIC_AUTH_TOKEN: DEMO_UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: simulator.url,
      SLUICE_DATABASE_URL: `sqlite:${join(dir, 'sluice.db')}`,
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const gateway: Gateway = await startGateway({
    loaded,
    logger: createLogger('info', quiet),
    plugins: (core) => gatewayPlugins(core, { tier: 'evaluation' }),
  });
  const out = (line = '') => process.stdout.write(`${line}\n`);
  try {
    out(`Simulator (Anthropic API, Evaluation tier limits: 50 requests/min) at ${simulator.url}`);
    out(`Sluice gateway at ${gateway.url}\n`);
    const { key, view } = await gateway.keys.create({
      name: 'dev-demo-app',
      environment: 'development',
      maxTokens: 512,
    });
    out(`Created virtual key ${view.name} (${view.hint}); the app never sees the sk-ant- key.\n`);
    const client = new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 2 });
    const rows: Row[] = [];
    const timed = async (
      step: string,
      work: () => Promise<{ model: string; usage: Anthropic.Usage; cost?: string | null; note?: string }>,
    ) => {
      const started = performance.now();
      try {
        const r = await work();
        rows.push({
          step,
          model: r.model,
          status: 'ok',
          tokens: `${r.usage.input_tokens} in / ${r.usage.output_tokens} out`,
          cost: r.cost ? `$${r.cost}` : '',
          ms: Math.round(performance.now() - started),
          note: r.note ?? '',
        });
      } catch (error) {
        const status = error instanceof Anthropic.APIError ? String(error.status) : 'error';
        rows.push({
          step,
          model: '',
          status,
          tokens: '',
          cost: '',
          ms: Math.round(performance.now() - started),
          note: (error as Error).message.slice(0, 60),
        });
      }
    };
    const ask = (content: string) => [{ role: 'user' as const, content }];

    await timed('plain request', async () => {
      const { data, response } = await client.messages
        .create({ model: 'claude-haiku-5-5', max_tokens: 100, messages: ask('Say hello in French.') })
        .withResponse();
      return { model: data.model, usage: data.usage, cost: response.headers.get('x-sluice-cost-usd') };
    });
    await timed('streaming', async () => {
      const message = await client.messages
        .stream({ model: 'claude-haiku-5-5', max_tokens: 120, messages: ask('Write a haiku about rivers.') })
        .finalMessage();
      return { model: message.model, usage: message.usage };
    });
    await timed('tool call', async () => {
      // Forced tool use: Haiku 5.5 allows it (Opus and Sonnet 5.5 refuse a forced tool_choice).
      const message = await client.messages.create({
        model: 'claude-haiku-5-5',
        max_tokens: 200,
        tools: [
          {
            name: 'get_weather',
            description: 'Current weather',
            input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        ],
        tool_choice: { type: 'any' },
        messages: ask('What is the weather in Lyon?'),
      });
      const use = message.content.find((b) => b.type === 'tool_use');
      return {
        model: message.model,
        usage: message.usage,
        note: use ? `tool_use ${JSON.stringify(use.input)}` : '',
      };
    });
    for (const [label, prompt] of [
      ['auto: small talk', 'Hi! How is your day going?'],
      [
        'auto: code',
        'Refactor this function to be async and add error handling:\n```ts\nfunction load(p){return fs.readFileSync(p)}\n```',
      ],
      [
        'auto: high stakes',
        'Our hospital must decide whether to change the dosage protocol for pediatric patients. Weigh the clinical evidence, legal liability and risks, and recommend a decision.',
      ],
    ] as const) {
      await timed(label, async () => {
        const { data, response } = await client.messages
          .create({ model: 'auto', max_tokens: 150, messages: ask(prompt) })
          .withResponse();
        return {
          model: data.model,
          usage: data.usage,
          cost: response.headers.get('x-sluice-cost-usd'),
          note: response.headers.get('x-sluice-route') ?? '',
        };
      });
    }
    await timed('over the key cap', async () => {
      const data = await client.messages.create({
        model: 'claude-haiku-5-5',
        max_tokens: 4096,
        messages: ask('Long essay please'),
      });
      return { model: data.model, usage: data.usage };
    });

    const burst = 60;
    out(`Sending a burst of ${burst} requests at once (the tier allows 50 a minute)…`);
    simulator.resetCounters();
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: burst }, (_, i) =>
        client.messages.create({
          model: 'claude-haiku-5-5',
          max_tokens: 20,
          messages: ask(`Burst request ${i}`),
        }),
      ),
    );
    const burstMs = Math.round(performance.now() - started);
    const okCount = results.filter((r) => r.status === 'fulfilled').length;
    const counters = simulator.counters();

    out('');
    out(table(rows));
    out('');
    out(
      `Burst: ${okCount}/${burst} succeeded in ${burstMs} ms (the SDK retrying as told); the upstream answered ${counters.byStatus['429'] ?? 0} × 429.`,
    );
  } finally {
    await gateway.close();
    await simulator.close();
  }
  // The gateway has stopped and written every ledger row: read them back as `sluice spend` does.
  const databaseUrl = `sqlite:${join(dir, 'sluice.db')}`;
  const store = await openStore(databaseUrl);
  try {
    const report = await spendReport(store.db, {
      since: new Date(0),
      by: 'model',
      catalog: defaultCatalog(),
    });
    // Requests whose wait in Sluice's queue would have passed the maximum got a 429 with the exact retry-after.
    const queuedOut = await store.db
      .selectFrom('ledger')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 429)
      .executeTakeFirstOrThrow();
    out(
      `Sluice queued the burst; ${Number(queuedOut.n)} requests would have waited past the 10 s maximum and`,
    );
    out(`got 429 with the precise retry-after instead (the SDK waits that long, then retries).`);
    out('');
    out(`Ledger: ${report.total.requests} requests recorded, $${report.total.cost_usd} in all:`);
    for (const group of report.groups) {
      out(`  ${group.group.padEnd(28)} ${String(group.requests).padStart(4)} requests  $${group.cost_usd}`);
    }
    out('');
    out(`See it again: SLUICE_DATABASE_URL=${databaseUrl} npx sluice spend --by model`);
  } finally {
    await store.close();
  }
}

function table(rows: Row[]): string {
  const headers: Row = {
    step: 'step',
    model: 'model',
    status: 'status',
    tokens: 'tokens',
    cost: 'cost',
    ms: 0,
    note: 'note',
  };
  const all = [headers, ...rows];
  const width = (key: keyof Row) =>
    Math.max(...all.map((r) => String(key === 'ms' && r === headers ? 'ms' : r[key]).length));
  const keys: Array<keyof Row> = ['step', 'model', 'status', 'tokens', 'cost', 'ms', 'note'];
  return all
    .map((r) =>
      keys
        .map((k) => String(k === 'ms' && r === headers ? 'ms' : r[k]).padEnd(width(k)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
