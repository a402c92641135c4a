/**
 * Cost of each piece of the gateway's hot path, measured alone in this process (µs per call),
 * to see where per-request CPU goes: `npm run build && tsx bench/support/hot-path.ts`.
 */
import { pino } from 'pino';

const dist = (p: string) => new URL(`../../dist/${p}`, import.meta.url).href;
const { createLogger, requestLogWriter } = await import(dist('server/logger.js'));
const { logLineJson } = await import(dist('pipeline/account.js'));
const { Metrics } = await import(dist('server/metrics.js'));
const { costOf, worstCaseCost } = await import(dist('catalog/cost.js'));
const { defaultCatalog } = await import(dist('catalog/catalog.js'));
const { Limiter } = await import(dist('limits/limiter.js'));
const { upstreamRequestHeaders, responseHeaders } = await import(dist('pipeline/forward.js'));
const { usageFromJson } = await import(dist('upstream/sse-usage.js'));
const { entryFromCall, toLedgerRow } = await import(dist('ledger/entry.js'));

const time = async (name: string, n: number, fn: () => unknown) => {
  for (let i = 0; i < 2000; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(name.padEnd(28), (((performance.now() - t0) * 1000) / n).toFixed(2), 'µs');
};
const catalog = defaultCatalog();
const model = catalog.model('claude-haiku-5-5');
const usage = {
  input_tokens: 20,
  output_tokens: 32,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};
const body = {
  model: 'claude-haiku-5-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
};
const headers = {
  host: 'x',
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': 'sk-sluice-xxxx',
  'content-length': '120',
  connection: 'keep-alive',
};
// biome-ignore lint/suspicious/noExplicitAny: a hand-built Call with only what these pieces read.
const call: any = {
  id: 'req_1',
  receivedAt: 1,
  startedAtMs: Date.now(),
  path: '/v1/messages',
  headers,
  body,
  rawBody: Buffer.from(JSON.stringify(body)),
  bodyChanged: false,
  priority: 'interactive',
  holds: [],
  principal: { keyId: 'k', name: 'prod-x-y', environment: 'production' },
  model,
  usage,
  status: 200,
  upstream: { status: 200, attempts: 1, requestId: 'req_x' },
  finishedAt: 5,
  firstByteAt: 4,
  requestedModel: 'claude-haiku-5-5',
};
// As deployed: the buffered writer, here to /dev/null.
const quiet = pino.destination({ dest: '/dev/null', minLength: 4096, sync: false });
const logger = createLogger('info', quiet);
const requestLog = requestLogWriter(logger);
await time('log line', 50000, () => requestLog(logLineJson(call)));
const metrics = new Metrics();
await time('metrics.observe', 50000, () => metrics.observe(call));
await time('costOf', 50000, () => costOf(usage, 'claude-haiku-5-5', new Date(), { catalog }));
await time('worstCaseCost', 50000, () =>
  worstCaseCost('claude-haiku-5-5', new Date(), { inputTokens: 20, maxTokens: 64 }, { catalog }),
);
const limiter = new Limiter({ config: { rpm: 1e9, itpm: 1e12, otpm: 1e12 }, catalog, probeUnlearned: false });
await time('limiter admit+settle', 50000, async () => {
  // biome-ignore lint/suspicious/noExplicitAny: the admitted branch of the result.
  const a: any = await limiter.admit({
    credentialId: '*',
    pool: 'haiku-4-5',
    tokenizer: 'claude-v1',
    keyId: 'k',
    environment: 'production',
    priority: 'interactive',
    estimatedInputTokens: 20,
    maxTokens: 64,
  });
  await a.settle(usage);
});
await time('estimate input', 50000, () => limiter.estimateInputTokens(body, 'claude-v1'));
await time('request headers', 50000, () => upstreamRequestHeaders(call, 'sk-ant-x', 100));
const upstreamHeaders: Record<string, string> = {};
for (const k of [
  'request-id',
  'anthropic-organization-id',
  'content-type',
  'date',
  'connection',
  'keep-alive',
  'content-length',
])
  upstreamHeaders[k] = 'v';
for (const k of ['requests', 'tokens', 'input-tokens', 'output-tokens'])
  for (const f of ['limit', 'remaining', 'reset'])
    upstreamHeaders[`anthropic-ratelimit-${k}-${f}`] = '2026-11-26T11:46:37Z';
await time('response headers', 50000, () => responseHeaders(call, upstreamHeaders));
const resp = JSON.stringify({
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-5-5',
  content: [{ type: 'text', text: 'lorem ipsum '.repeat(12) }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: {
    ...usage,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    service_tier: 'standard',
  },
});
const respBytes = Buffer.from(resp);
await time('usageFromJson', 50000, () => usageFromJson(respBytes));
await time('JSON.parse request', 50000, () => JSON.parse(call.rawBody.toString('utf8')));
await time('AbortController+listener', 50000, () => {
  const c = new AbortController();
  c.signal.addEventListener('abort', () => {});
});
call.cost = costOf(usage, 'claude-haiku-5-5', new Date(), { catalog });
await time('ledger row', 50000, () => toLedgerRow(entryFromCall(call)));
