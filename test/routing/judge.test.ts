import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import type { Call } from '../../src/pipeline/types.js';
import { classify } from '../../src/routing/classify.js';
import { compileRouting } from '../../src/routing/config.js';
import { formatRouteHeader } from '../../src/routing/header.js';
import { createUpstreamJudge, judgeRequestBody, parseVerdict } from '../../src/routing/judge.js';
import { routeRequest } from '../../src/routing/resolve.js';
import { TIERS, tierRank } from '../../src/routing/tiers.js';
import { viewRequest } from '../../src/routing/view.js';
import { openStore } from '../../src/store/database.js';
import { type Stack, startStack } from '../helpers/stack.js';

const SURE = 'What is the capital of Portugal?';
const UNSURE = 'Can you help me with my thing?';
const ask = (prompt: string) => ({
  model: 'auto',
  max_tokens: 50,
  messages: [{ role: 'user', content: prompt }],
});
// A threshold between the two prompts' confidences, read from the shipped model, so the test holds
// whatever a retrained model's exact figures are.
const sure = classify(ask(SURE), { threshold: 0 });
const unsure = classify(ask(UNSURE), { threshold: 0 });
const THRESHOLD = (sure.confidence + unsure.confidence) / 2;
const ESCALATED = TIERS[tierRank(unsure.modelTier) + 1]!;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function stackWithJudge(
  judge: Record<string, unknown>,
): Promise<{ stack: Stack; databaseUrl: string }> {
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-judge-')), 'sluice.db')}`;
  const stack = await startStack({
    databaseUrl,
    yaml: { routing: { confidence: { threshold: THRESHOLD }, judge: { enabled: true, ...judge } } },
  });
  let closed = false;
  const closeStack = stack.close.bind(stack);
  const close = async () => {
    if (!closed) {
      closed = true;
      await closeStack();
    }
  };
  cleanups.push(close);
  stack.close = close;
  return { stack, databaseUrl };
}

async function send(stack: Stack, prompt: string) {
  return stack
    .sdk()
    .messages.create({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: prompt }] })
    .withResponse();
}

describe('routing judge against the simulator', () => {
  it('has one confident and one uncertain prompt to work with', () => {
    expect(sure.confidence - unsure.confidence).toBeGreaterThan(0.04);
    expect(unsure.modelTier).not.toBe('critical');
  });

  it('is called only below the threshold, and its call is priced and in the ledger against the same key', async () => {
    const { stack, databaseUrl } = await stackWithJudge({ timeoutMs: 5000 });
    const before = stack.simulator.counters().requests;
    const confident = await send(stack, SURE);
    expect(stack.simulator.counters().requests - before).toBe(1);
    const sureHeader = confident.response.headers.get('x-sluice-route')!;
    expect(sureHeader).toContain('decided=model');
    expect(sureHeader).not.toContain('judge=');

    const uncertain = await send(stack, UNSURE);
    // One judge call, then the request itself.
    expect(stack.simulator.counters().requests - before).toBe(3);
    const header = uncertain.response.headers.get('x-sluice-route')!;
    expect(header).toMatch(/confidence=0\.\d\d; /);
    // The simulator answers filler text, never a tier word: the judge is unclear and the tier goes up one.
    expect(header).toMatch(/decided=escalation; judge=unclear; judge-ms=\d+/);
    expect(header).toContain(`tier=${ESCALATED}`);
    const mainId = uncertain.response.headers.get('x-sluice-request-id')!;
    await stack.close();

    const store = await openStore(databaseUrl);
    const rows = await store.db.selectFrom('ledger').selectAll().execute();
    await store.close();
    const judged = rows.filter((row) => row.requested_model === 'sluice-judge');
    expect(judged).toHaveLength(1);
    const judgeRow = judged[0]!;
    const mainRow = rows.find((row) => row.request_id === mainId)!;
    expect(judgeRow.key_id).toBe(mainRow.key_id);
    expect(judgeRow.model).toBe(defaultCatalog().routingDefaults.fast);
    expect(judgeRow.priced).toBe(1);
    expect(judgeRow.output_tokens).toBeGreaterThan(0);
    expect(judgeRow.output_tokens).toBeLessThanOrEqual(5);
    const expected = costOf(
      {
        input_tokens: judgeRow.input_tokens,
        output_tokens: judgeRow.output_tokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      judgeRow.model,
      new Date(Number(judgeRow.at)),
      { catalog: defaultCatalog() },
    );
    expect(BigInt(judgeRow.cost_pico)).toBe(expected.pico);
    expect(BigInt(judgeRow.cost_pico)).toBeGreaterThan(0n);
  });

  it('falls back to escalation when the judge times out, within the timeout', async () => {
    const { stack } = await stackWithJudge({ timeoutMs: 200 });
    stack.simulator.faults.script([{ kind: 'delay', ms: 2000 }]);
    const started = performance.now();
    const response = await send(stack, UNSURE);
    const header = response.response.headers.get('x-sluice-route')!;
    expect(header).toContain(`tier=${ESCALATED}`);
    expect(header).toContain('decided=escalation');
    const judgeMs = Number(/judge=timeout; judge-ms=(\d+)/.exec(header)?.[1]);
    expect(judgeMs).toBeGreaterThanOrEqual(150);
    expect(judgeMs).toBeLessThan(1500);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(response.data.model).toBe(defaultCatalog().routingDefaults[ESCALATED]);
  });
});

describe('routing judge', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('decides the tier when it names one, with max_tokens at most 5 and the fixed prompt', async () => {
    const seen: Array<Record<string, unknown>> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            content: [{ type: 'text', text: 'Fast.' }],
            usage: {
              input_tokens: 120,
              output_tokens: 2,
              cache_creation_input_tokens: 0,
              cache_read_input_tokens: 0,
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const recorded: Call[] = [];
    const routing = compileRouting({ confidence: { threshold: THRESHOLD }, judge: { enabled: true } });
    const judge = createUpstreamJudge({
      config: routing.judge,
      model: routing.models.fast,
      url,
      upstreamKey: () => 'sk-ant-test',
      catalog: defaultCatalog(),
      price: (call) => {
        call.cost = costOf(call.usage!, call.body.model, new Date(call.startedAtMs));
      },
      record: (call) => recorded.push(call),
    });
    const input = {
      body: { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: UNSURE }] },
      headers: {},
      keyName: 'app',
      environment: 'production',
    };
    const decision = await routeRequest(input, routing, judge);
    expect(decision).toMatchObject({ kind: 'routed', tier: 'fast', decided: 'judge' });
    expect(formatRouteHeader(decision)).toMatch(
      /decided=judge; judge=answered; judge-ms=\d+; reasons=judge:fast/,
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]!.max_tokens).toBeLessThanOrEqual(5);
    expect(seen[0]!.model).toBe(routing.models.fast);
    expect(String(seen[0]!.system)).toContain('Reply with exactly one word');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.requestedModel).toBe('sluice-judge');
    expect(recorded[0]!.cost!.pico).toBeGreaterThan(0n);

    // Confident requests never reach the judge.
    const confident = await routeRequest(
      { ...input, body: { ...input.body, messages: [{ role: 'user', content: SURE }] } },
      routing,
      judge,
    );
    expect(confident).toMatchObject({ tier: 'fast', decided: 'model', needsJudge: false });
    expect(seen).toHaveLength(1);
  });

  it('builds a short fixed request and reads the first tier word of the answer', () => {
    const long = 'word '.repeat(50_000);
    const body = judgeRequestBody(
      viewRequest({ model: 'auto', max_tokens: 1, messages: [{ role: 'user', content: long }] }),
      'claude-haiku-5-5',
      5,
    );
    expect(body.max_tokens).toBe(5);
    expect(JSON.stringify(body).length).toBeLessThan(5000);
    expect(parseVerdict('Critical')).toBe('critical');
    expect(parseVerdict('the tier is: reasoning')).toBe('reasoning');
    expect(parseVerdict('lorem ipsum')).toBeUndefined();
  });
});
