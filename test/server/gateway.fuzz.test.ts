import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../src/server/http-io.js';
import { createLogger } from '../../src/server/logger.js';
import { gatewayPlugins } from '../../src/server/plugins.js';
import { matchRoute } from '../../src/server/routes.js';
import { fuzzParameters, referenceReading, upstreamStream } from '../helpers/fuzz.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';

// With the SSE tap's 6,000 streams (test/upstream/sse-usage.fuzz.test.ts), over 10,000 generated
// inputs per run.
const HTTP_RUNS = 3600;
const STREAM_RUNS = 400;
const RAW_RUNS = 300;
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

/** What the upstream received: every request the gateway forwarded. */
interface Forwarded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let upstream: Server;
const forwarded: Forwarded[] = [];
/** The stream the upstream answers the next streaming request with (else a short default one). */
let nextStream: Buffer[] | undefined;
let gateway: Gateway;
let key: string;
const logs: string[] = [];
const agent = new Agent({ connections: 8 });

const DEFAULT_STREAM = Buffer.from(
  'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}\n\n' +
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n' +
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
);

beforeAll(async () => {
  // A recording upstream: answers as the API would for a well-formed request, and keeps what it got.
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      forwarded.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const json = (value: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstream' });
        res.end(JSON.stringify(value));
      };
      if (req.url!.startsWith('/v1/models')) return json({ data: [], has_more: false });
      if (req.url!.startsWith('/v1/messages/count_tokens')) return json({ input_tokens: 5 });
      let stream = false;
      try {
        stream = (JSON.parse(body.toString()) as { stream?: unknown }).stream === true;
      } catch {}
      if (!stream)
        return json({
          id: 'msg_fuzz',
          type: 'message',
          role: 'assistant',
          content: [{ type: 'text', text: 'ok' }],
          usage: { input_tokens: 4, output_tokens: 2 },
        });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const parts = nextStream ?? [DEFAULT_STREAM];
      nextStream = undefined;
      // Each part written on its own, so the gateway reads the stream in these pieces (or fewer).
      const write = (i: number) => {
        if (i === parts.length) return res.end();
        res.write(parts[i]);
        setImmediate(() => write(i + 1));
      };
      write(0);
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));
  // A budget, so its reservation (which estimates the request) runs on every Messages call.
  writeFileSync(
    join(cwd, 'sluice.yaml'),
    stringifyYaml({ budgets: { limits: [{ scope: 'global', window: 'monthly', usd: '1000000' }] } }),
  );
  const loaded = loadConfig({
    cwd,
    env: {
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as { port: number }).port}`,
      SLUICE_DATABASE_URL: 'sqlite::memory:',
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
      SLUICE_LEDGER_SPOOL_DIR: join(cwd, 'spool'),
      // Limits far above what the suite sends: admission runs (and estimates every body) but never waits.
      SLUICE_RPM: '100000000',
      SLUICE_ITPM: '100000000000',
      SLUICE_OTPM: '100000000000',
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      if (logs.length > 200) logs.splice(0, 100);
      done();
    },
  });
  gateway = await startGateway({
    loaded,
    logger: createLogger('info', sink),
    plugins: (core) => gatewayPlugins(core),
  });
  ({ key } = await gateway.keys.create({ name: 'prod-fuzz-v1', environment: 'production' }));
});

afterAll(async () => {
  await gateway.close();
  await agent.close();
  await new Promise((resolve) => upstream.close(resolve));
});

// ---- what is sent -------------------------------------------------------------------------

const printable = (max: number) =>
  fc.string({ maxLength: max }).map((s) => s.replace(/[^\x21-\x7e]/g, '').replace(/[#?/]/g, ''));

/** A path segment: names, encoded dot segments and slashes, bad percent-encoding, arbitrary bytes encoded. */
const segment = fc.oneof(
  fc.constantFrom(
    'claude-haiku-4-5',
    '%2e%2e%2ffiles',
    '..%2f..%2fv1%2ffiles',
    '%2E%2E',
    '%2e',
    '..',
    '.',
    '%zz',
    '%e2%82',
    '%2F',
    'a%00b',
    '..%5cfiles',
    '%252e%252e%252f',
    'prod-backend-v9',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }).map(encodeURIComponent),
  printable(12).filter((s) => s.length > 0),
);

const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: printable(20).map((s) => `?${s}`) },
);

const path = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constant('/v1/messages') },
      { weight: 2, arbitrary: fc.constant('/v1/messages/count_tokens') },
      { weight: 1, arbitrary: fc.constant('/v1/models') },
      { weight: 2, arbitrary: segment.map((s) => `/v1/models/${s}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/admin/keys',
          '/admin/budgets',
          '/admin/spend',
          '/admin/tier',
          '/admin/spend/series',
          '/admin/requests/activity',
          '/admin/requests/recent',
        ),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom('/admin/keys/', '/admin/budgets/'),
            segment,
            fc.constantFrom('', '/revoke', '/rotate'),
          )
          .map((parts) => parts.join('')),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/v1/../admin/keys',
          '/v1/messages/../models',
          '//v1/messages',
          '/v1/files',
          '/v1/messages/',
          '/',
          '/healthz',
          '/admin/',
          '/admin/../v1/messages',
        ),
      },
    ),
    query,
  )
  .map(([p, q]) => p + q);

const DEEP = '\u0000deep:';

/**
 * Any JSON value, some of them deep. A deep one is a marker string, expanded into `levels`
 * nested arrays or objects once the body is text (serialising the value itself would take
 * the test's own stack).
 */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: MAX_JSON_DEPTH - 5, max: 30_000 }), fc.boolean())
      .map(([levels, objects]) => `${DEEP}${objects ? 'o' : 'a'}${levels}`),
  },
);
function serialise(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0000deep:([ao])(\d+)"/g, (_m, kind: string, levels: string) => {
    const n = Number(levels);
    return kind === 'a' ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  });
}

const block = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.string() }),
  fc.record({ type: fc.constant('tool_result'), tool_use_id: fc.string(), content: value }),
  fc.record({ type: fc.constant('tool_use'), id: fc.string(), name: fc.string(), input: value }),
  fc.record({ type: fc.constant('image'), source: value }),
  fc.record({ type: fc.constant('document'), source: value }),
  value,
);
const content = fc.oneof(fc.string(), fc.array(block, { maxLength: 3 }), value);
const message = fc.oneof(
  { weight: 5, arbitrary: fc.record({ role: fc.constantFrom('user', 'assistant'), content }) },
  { weight: 1, arbitrary: value },
);
const messagesBody = fc.record(
  {
    model: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.constantFrom(
          'claude-haiku-4-5',
          'claude-sonnet-4-6',
          'claude-opus-4-8',
          'auto',
          'fast',
          'nope',
        ),
      },
      { weight: 1, arbitrary: value },
    ),
    max_tokens: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 8192 }) },
      { weight: 1, arbitrary: value },
    ),
    messages: fc.oneof(
      { weight: 6, arbitrary: fc.array(message, { maxLength: 4 }) },
      { weight: 1, arbitrary: value },
    ),
    system: fc.oneof(fc.string(), fc.array(block, { maxLength: 2 }), value),
    tools: fc.oneof(fc.array(fc.record({ name: fc.string(), input_schema: value }), { maxLength: 2 }), value),
    tool_choice: value,
    metadata: value,
    thinking: value,
    stream: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: value }),
    inference_geo: value,
    temperature: value,
  },
  { requiredKeys: ['model', 'messages'] },
);

/** A body of the right shape with arbitrary text: what most clients send, and what reaches the upstream. */
const wellFormedBody = fc.record(
  {
    model: fc.constantFrom(
      'claude-haiku-4-5',
      'claude-sonnet-4-6',
      'claude-opus-4-8',
      'auto',
      'fast',
      'nope',
    ),
    max_tokens: fc.integer({ min: 1, max: 8192 }),
    messages: fc.array(
      fc.record({
        role: fc.constantFrom('user', 'assistant'),
        content: fc.oneof(
          fc.string({ unit: 'grapheme' }),
          fc.array(
            fc.oneof(
              fc.record({ type: fc.constant('text'), text: fc.string({ unit: 'grapheme' }) }),
              fc.record({ type: fc.constant('tool_result'), tool_use_id: fc.string(), content: fc.string() }),
            ),
            { maxLength: 3 },
          ),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    system: fc.string(),
    tools: fc.array(
      fc.record({
        name: fc.string(),
        input_schema: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
      }),
      {
        maxLength: 2,
      },
    ),
    metadata: fc.record({ user_id: fc.string() }),
    stream: fc.boolean(),
  },
  { requiredKeys: ['model', 'max_tokens', 'messages'] },
);

const body = fc.oneof(
  { weight: 6, arbitrary: wellFormedBody.map((b) => JSON.stringify(b)) },
  { weight: 6, arbitrary: messagesBody.map(serialise) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant('') },
);

const headerText = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 4 });

const requestArbitrary = fc.record({
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constant('expected') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') },
  ),
  path,
  body,
  version: fc.oneof(
    { weight: 6, arbitrary: fc.constant('2023-06-01') },
    { weight: 1, arbitrary: maybe(headerText) },
  ),
  apiKey: fc.oneof(
    { weight: 8, arbitrary: fc.constant('valid') },
    { weight: 1, arbitrary: fc.constantFrom('none', 'upstream', 'garbage') },
  ),
  admin: fc.constantFrom('valid', 'valid', 'valid', 'none', 'wrong'),
  priority: maybe(fc.oneof(fc.constantFrom('batch', 'interactive'), headerText)),
  beta: maybe(headerText),
});

// ---- what must hold -----------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function expectAnthropicError(status: number, text: string): void {
  const parsed = JSON.parse(text) as { type?: unknown; error?: { type?: unknown; message?: unknown } };
  expect(parsed.type, `${status} ${text}`).toBe('error');
  expect(typeof parsed.error?.type).toBe('string');
  expect(typeof parsed.error?.message).toBe('string');
}

/** What reached the upstream is a request Sluice would stand behind. */
function expectValidForward(sent: Forwarded, clientKey: string): void {
  const [pathPart] = sent.url.split('?');
  // Only what the route table serves is forwarded, on the path rebuilt from checked ids.
  const match = matchRoute(sent.method, pathPart!);
  expect(match.kind, `${sent.method} ${sent.url}`).toBe('route');
  if (match.kind !== 'route') return;
  expect(match.path).toBe(pathPart);
  expect(pathPart).not.toContain('..');
  expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
  expect(sent.headers.authorization).toBeUndefined();
  expect(JSON.stringify(sent.headers)).not.toContain(clientKey);
  expect(sent.headers['anthropic-version']).toBeTruthy();
  if (sent.method === 'GET' || sent.method === 'DELETE') {
    expect(sent.body.length).toBe(0);
    return;
  }
  // Uploads are passed through as they come, unparsed.
  if (match.route.body === 'upload') return;
  expect(jsonDepthExceeds(sent.body, MAX_JSON_DEPTH)).toBe(false);
  const parsed = JSON.parse(sent.body.toString()) as Record<string, unknown>;
  expect(isObject(parsed)).toBe(true);
  if (pathPart !== '/v1/messages') return;
  // The shape the stages read, as the guard checks it.
  expect(typeof parsed.model).toBe('string');
  expect(Array.isArray(parsed.messages)).toBe(true);
  for (const m of parsed.messages as unknown[]) {
    expect(isObject(m) && typeof m.role === 'string').toBe(true);
    const c = (m as { content: unknown }).content;
    expect(typeof c === 'string' || (Array.isArray(c) && c.every(isObject))).toBe(true);
  }
  if (parsed.tools !== undefined)
    expect(Array.isArray(parsed.tools) && parsed.tools.every(isObject)).toBe(true);
  if (parsed.max_tokens !== undefined) expect(Number.isInteger(parsed.max_tokens)).toBe(true);
}

function expectedMethod(p: string): string {
  if (p.startsWith('/v1/models')) return 'GET';
  if (/\/admin\/keys\/[^/]+$/.test(p.split('?')[0]!)) return 'PATCH';
  if (/\/admin\/budgets\/[^/?]+/.test(p)) return 'DELETE';
  if (/\/admin\/(spend|tier|requests)/.test(p)) return 'GET';
  return 'POST';
}

describe('the HTTP surface under generated input', () => {
  it(`never crashes, never answers client input with 5xx, answers every error in Anthropic's shape and forwards nothing invalid (${HTTP_RUNS} requests)`, async () => {
    const statuses = new Map<number, number>();
    let reachedUpstream = 0;
    await fc.assert(
      fc.asyncProperty(requestArbitrary, async (r) => {
        const method = r.method === 'expected' ? expectedMethod(r.path) : r.method;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (r.version !== undefined) headers['anthropic-version'] = r.version;
        if (r.apiKey === 'valid') headers['x-api-key'] = key;
        if (r.apiKey === 'upstream') headers['x-api-key'] = UPSTREAM_KEY;
        if (r.apiKey === 'garbage') headers['x-api-key'] = `sk-sluice-${r.path.length}x`;
        if (r.admin !== 'none')
          headers['x-sluice-admin-token'] = r.admin === 'valid' ? ADMIN_TOKEN : 'wrong-token-0123456789';
        if (r.priority !== undefined) headers['x-sluice-priority'] = r.priority;
        if (r.beta !== undefined) headers['anthropic-beta'] = r.beta;
        const before = forwarded.length;
        const response = await request(`${gateway.url}${r.path}`, {
          method,
          headers,
          body: method === 'GET' || method === 'DELETE' ? undefined : r.body,
          dispatcher: agent,
        });
        const text = await response.body.text();
        const status = response.statusCode;
        expect(status, `${method} ${r.path} → ${status} ${text.slice(0, 300)}`).toBeLessThan(500);
        if (status >= 400) expectAnthropicError(status, text);
        for (const sent of forwarded.slice(before)) expectValidForward(sent, key);
        if (forwarded.length > before) reachedUpstream++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        forwarded.length = 0;
      }),
      fuzzParameters(HTTP_RUNS),
    );
    console.log(
      `fuzz: ${reachedUpstream} of ${HTTP_RUNS} requests forwarded; answers by status ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    // The generator reaches both sides: the upstream, and every kind of refusal.
    expect(reachedUpstream).toBeGreaterThan(HTTP_RUNS / 10);
    for (const status of [200, 400, 401, 404, 405]) expect(statuses.get(status)).toBeGreaterThan(0);
    const health = await request(`${gateway.url}/healthz`, { dispatcher: agent });
    expect(health.statusCode).toBe(200);
    await health.body.text();
  }, 120_000);

  it(`passes generated upstream streams through byte for byte and records the usage a by-the-spec parse reads (${STREAM_RUNS} streams)`, async () => {
    await fc.assert(
      fc.asyncProperty(upstreamStream, async ({ text, chunks }) => {
        nextStream = chunks;
        const response = await request(`${gateway.url}/v1/messages`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'anthropic-version': '2023-06-01',
            'x-api-key': key,
          },
          body: JSON.stringify({
            model: 'claude-haiku-4-5',
            max_tokens: 32,
            stream: true,
            messages: [{ role: 'user', content: 'hi' }],
          }),
          dispatcher: agent,
        });
        expect(response.statusCode).toBe(200);
        expect(await response.body.text()).toBe(text);
        const requestId = String(response.headers['x-sluice-request-id']);
        const line = await logLineOf(requestId);
        const reference = referenceReading(text);
        expect(line.usage).toEqual(reference.sawMessageStart ? reference.usage : undefined);
        forwarded.length = 0;
      }),
      fuzzParameters(STREAM_RUNS),
    );
  }, 120_000);
});

/** The request's log line (written when its accounting ran, just after the answer ended). */
async function logLineOf(requestId: string): Promise<{ usage?: unknown }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // The writer hands over the lines of one event-loop turn together: one chunk, several lines.
    const line = logs
      .flatMap((chunk) => chunk.split('\n'))
      .findLast((l) => l.includes(`"requestId":"${requestId}"`));
    if (line) return JSON.parse(line) as { usage?: unknown };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no log line for ${requestId}`);
}

// ---- below HTTP: what Node's parser refuses -----------------------------------------------

/** Header bytes, including ones HTTP forbids (control characters, bytes above 0x7f). */
const rawHeaderValue = fc.oneof(
  { weight: 3, arbitrary: headerText },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 12 }).map((bytes) =>
      Buffer.from(bytes)
        .toString('latin1')
        .replace(/[\r\n]/g, ''),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 17_000, max: 40_000 }).map((n) => 'a'.repeat(n)) },
);
const chunkedBody = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.nat({ max: 40 }).map((n) => n.toString(16)),
        printable(4),
      ),
      fc.string({ maxLength: 20 }),
    ),
    {
      maxLength: 3,
    },
  )
  .map((chunks) => `${chunks.map(([size, data]) => `${size}\r\n${data}\r\n`).join('')}0\r\n\r\n`);

const rawRequest = fc
  .record({
    method: fc.oneof(fc.constantFrom('POST', 'GET'), printable(6)),
    target: fc.oneof(
      fc.constantFrom('/v1/messages', '/v1/models', '/admin/keys'),
      printable(20).map((s) => `/${s}`),
    ),
    headerName: fc.oneof(
      fc.constant('x-test'),
      fc.string({ unit: 'binary-ascii', maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, '') || 'x'),
    ),
    headerValue: rawHeaderValue,
    chunked: fc.boolean(),
    body: chunkedBody,
  })
  .map((r) =>
    Buffer.from(
      `${r.method} ${r.target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nanthropic-version: 2023-06-01\r\n` +
        `${r.headerName}: ${r.headerValue}\r\n` +
        (r.chunked ? `Transfer-Encoding: chunked\r\n\r\n${r.body}` : 'Content-Length: 0\r\n\r\n'),
      'latin1',
    ),
  );

/** Sends raw bytes and reads what comes back until the gateway closes, or a short wait passes. */
function rawExchange(bytes: Buffer): Promise<string> {
  const { port, hostname } = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 1000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('error', done);
  });
}

/** The body of a raw HTTP/1.1 answer, de-chunked when it was sent chunked. */
function bodyOf(answer: string): string {
  const at = answer.indexOf('\r\n\r\n');
  const head = answer.slice(0, at).toLowerCase();
  let rest = answer.slice(at + 4);
  if (!head.includes('transfer-encoding: chunked')) return rest;
  let body = '';
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!size) return body;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

describe("what Node's HTTP parser refuses", () => {
  it(`is answered in Anthropic's error shape, never 5xx (${RAW_RUNS} raw requests)`, async () => {
    await fc.assert(
      fc.asyncProperty(rawRequest, async (bytes) => {
        const answer = await rawExchange(bytes);
        if (answer === '') return; // nothing to judge: the connection was closed unanswered
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]);
        expect(status, answer.slice(0, 200)).toBeGreaterThanOrEqual(200);
        expect(status).toBeLessThan(500);
        if (status >= 400) expectAnthropicError(status, bodyOf(answer));
      }),
      fuzzParameters(RAW_RUNS),
    );
  }, 120_000);
});
