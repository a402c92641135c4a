import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const ADMIN = 'admin-token-for-tests-0123456789';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function send(path: string, body?: string, method = body === undefined ? 'GET' : 'POST') {
  const response = await request(`${stack.gateway.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
      'x-sluice-admin-token': ADMIN,
    },
    body,
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    json: JSON.parse(text) as { type: string; error?: { type: string } },
  };
}

const base = '"model":"claude-haiku-4-5","max_tokens":16';
const hi = '[{"role":"user","content":"hi"}]';
const nested = (levels: number, leaf = '1') => '['.repeat(levels) + leaf + ']'.repeat(levels);
const nestedObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('client mistakes are answered 400, not 500', () => {
  const cases: Array<[string, string]> = [
    ['tools not an array', `{${base},"messages":${hi},"tools":{}}`],
    ['tools with null', `{${base},"messages":${hi},"tools":[null]}`],
    ['messages: [null]', `{${base},"messages":[null]}`],
    ['a message without content', `{${base},"messages":[{"role":"user"}]}`],
    ['a content block that is null', `{${base},"messages":[{"role":"user","content":[null]}]}`],
    ['system as a number', `{${base},"messages":${hi},"system":5}`],
    ['metadata nested 20,000 deep', `{${base},"messages":${hi},"metadata":${nestedObject(20_000)}}`],
    ['tools nested 20,000 deep', `{${base},"messages":${hi},"tools":${nested(20_000)}}`],
    [
      'tool_result content nested 20,000 deep',
      `{${base},"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":${nested(20_000)}}]}]}`,
    ],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const before = stack.simulator.counters().requests;
      const answer = await send('/v1/messages', body);
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect(stack.simulator.counters().requests).toBe(before);
    });
  }

  it('still forwards a body nested as deep as real requests go', async () => {
    const answer = await send(
      '/v1/messages',
      `{${base},"messages":${hi},"metadata":{"user_id":"u"},"tools":[{"name":"t","input_schema":{"type":"object","properties":{"a":{"type":"array","items":${nested(50, '{}')}}}}}]}`,
    );
    expect(answer.status).toBe(200);
  });

  it('bad percent-encoding in an admin path', async () => {
    for (const path of ['/admin/keys/%zz', '/admin/keys/%e2%82', '/admin/keys/%zz/revoke']) {
      const answer = await send(path, path.endsWith('revoke') ? '' : undefined);
      expect(answer.status, path).toBe(400);
      expect(answer.json.error?.type).toBe('invalid_request_error');
    }
  });
});

describe('encoded dot segments are never forwarded', () => {
  for (const path of [
    '/v1/models/%2e%2e%2ffiles',
    '/v1/models/..%2ffiles',
    '/v1/models/%2E%2E',
    '/v1/models/%2e',
    '/v1/models/claude%2f..%2f..%2fv1%2ffiles',
    '/v1/models/..%5cfiles',
    '/v1/models/%zz',
  ]) {
    it(path, async () => {
      const before = stack.simulator.counters().requests;
      const answer = await send(path);
      expect([400, 404]).toContain(answer.status);
      expect(answer.json.type).toBe('error');
      expect(stack.simulator.counters().requests).toBe(before);
    });
  }

  it('a model id, encoded or not, is still looked up upstream', async () => {
    expect((await send('/v1/models/claude-haiku-4-5')).status).toBe(200);
    expect((await send('/v1/models/claude%2Dhaiku-4-5')).status).toBe(200);
  });
});

/** Writes raw bytes to the gateway and reads the whole answer (the gateway closes the connection). */
function raw(bytes: string): Promise<string> {
  const url = new URL(stack.gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('parser-level rejections are Anthropic-shaped', () => {
  const cases: Array<[string, string, number]> = [
    ['bad header bytes', 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Bad\u0001: y\r\n\r\n', 400],
    [
      'bad chunking',
      'POST /v1/messages HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    ['oversize headers', `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    [
      'content-length and chunked',
      'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
  ];
  it('bad chunking after the request was already refused: one answer, not two', async () => {
    const answer = await raw(
      'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    );
    expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.type).toBe('invalid_request_error');
  });

  for (const [name, bytes, status] of cases) {
    it(name, async () => {
      const answer = await raw(bytes);
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        type: string;
        error: { type: string; message: string };
      };
      expect(body.type).toBe('error');
      expect(typeof body.error.type).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(0);
    });
  }
});
