import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { type Stack, startStack, UPSTREAM_KEY } from '../helpers/stack.js';

let stack: Stack;
let databaseUrl: string;
/** A second key of the same environment: it must not see the first key's objects. */
let otherKey: string;
/** A key limited to one model and 50 output tokens. */
let narrowKey: string;

beforeAll(async () => {
  databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-endpoints-')), 'sluice.db')}`;
  stack = await startStack({
    databaseUrl,
    yaml: { limits: { enabled: false } },
    simulator: { uploadsDownloadable: true },
  });
  otherKey = (await stack.gateway.keys.create({ name: 'prod-other-v1', environment: 'production' })).key;
  narrowKey = (
    await stack.gateway.keys.create({
      name: 'prod-narrow-v1',
      environment: 'production',
      models: ['claude-haiku-4-5'],
      maxTokens: 50,
    })
  ).key;
});
let closed = false;
afterAll(() => (closed ? undefined : stack?.close()));

const sdkFor = (key: string) => new Anthropic({ apiKey: key, baseURL: stack.gateway.url, maxRetries: 0 });

async function call(method: string, path: string, key: string | undefined, body?: string) {
  const headers: Record<string, string> = { 'anthropic-version': '2023-06-01' };
  if (key) headers['x-api-key'] = key;
  if (body) headers['content-type'] = 'application/json';
  const response = await request(`${stack.gateway.url}${path}`, { method: method as 'GET', headers, body });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: () => JSON.parse(text) };
}

describe('Files through the gateway with the official SDK', () => {
  let fileId: string;

  it('uploads, lists, retrieves and downloads a file; the upstream saw the upstream key', async () => {
    const client = stack.sdk();
    const content = 'Quarterly numbers: 42 widgets.\n'.repeat(100);
    const uploaded = await client.files.upload({
      file: await toFile(Buffer.from(content), 'report.txt', { type: 'text/plain' }),
    });
    fileId = uploaded.id;
    expect(uploaded).toMatchObject({ type: 'file', filename: 'report.txt', size_bytes: content.length });
    expect(uploaded.id).toMatch(/^file_/);

    const listed = await client.files.list();
    expect(listed.data.map((f) => f.id)).toContain(fileId);
    const metadata = await client.files.retrieveMetadata(fileId);
    expect(metadata.size_bytes).toBe(content.length);
    const download = await client.files.download(fileId);
    expect(await download.text()).toBe(content);
  });

  it('uses an uploaded file id in a Messages request of the same key', async () => {
    const message = await stack.sdk().messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 40,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'file', file_id: fileId } },
            { type: 'text', text: 'Summarise the report.' },
          ],
        },
      ],
    });
    expect(message.type).toBe('message');
  });

  it("answers another key's file ids 404 as if absent, and nothing reaches the upstream", async () => {
    const before = stack.simulator.counters().requests;
    const other = sdkFor(otherKey);
    await expect(other.files.retrieveMetadata(fileId)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.files.download(fileId)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.files.delete(fileId)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    const messages = await call(
      'POST',
      '/v1/messages',
      otherKey,
      JSON.stringify({
        model: 'claude-haiku-4-5',
        max_tokens: 20,
        messages: [
          { role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: fileId } }] },
        ],
      }),
    );
    expect(messages.status).toBe(404);
    expect(messages.json().error).toMatchObject({
      type: 'not_found_error',
      message: `File not found: ${fileId}`,
    });
    expect(stack.simulator.counters().requests).toBe(before);

    // Its list is filtered to its own files: it has none.
    const listed = await other.files.list();
    expect(listed.data.map((f) => f.id)).not.toContain(fileId);
    expect(stack.simulator.counters().requests).toBe(before + 1);
  });

  it('deletes the file; it is then absent for its own key too', async () => {
    const client = stack.sdk();
    const deleted = await client.files.delete(fileId);
    expect(deleted).toMatchObject({ id: fileId, type: 'file_deleted' });
    const before = stack.simulator.counters().requests;
    await expect(client.files.retrieveMetadata(fileId)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    expect(stack.simulator.counters().requests).toBe(before);
  });

  it('refuses an upload declared over the catalog limit with 413 before the upstream', async () => {
    const limit = stack.gateway.catalog.uploadLimitBytes('files')!;
    expect(limit).toBe(500 * 1024 * 1024);
    const before = stack.simulator.counters().requests;
    // Declared length only: the client is cut off before sending the rest.
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${stack.gateway.url}/v1/files`, {
        method: 'POST',
        headers: {
          'x-api-key': stack.key,
          'anthropic-version': '2023-06-01',
          'content-type': 'multipart/form-data; boundary=x',
          'content-length': String(limit + 1),
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode!, text });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.write('x'.repeat(1000));
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).error).toMatchObject({ type: 'request_too_large' });
    expect(JSON.parse(answer.text).error.message).toContain('500 MB');
    expect(stack.simulator.counters().requests).toBe(before);
  });

  it('refuses an upload that grows past the limit while it streams (chunked, no length declared)', async () => {
    const catalog = stack.gateway.catalog;
    const original = catalog.document;
    catalog.replace({
      ...original,
      uploads: { ...original.uploads, files: { ...original.uploads!.files!, maxBytes: 1024 * 1024 } },
    });
    try {
      async function* body() {
        yield Buffer.from('--x\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n');
        for (let i = 0; i < 4; i++) yield Buffer.alloc(512 * 1024, 97);
        yield Buffer.from('\r\n--x--\r\n');
      }
      const response = await request(`${stack.gateway.url}/v1/files`, {
        method: 'POST',
        headers: {
          'x-api-key': stack.key,
          'anthropic-version': '2023-06-01',
          'content-type': 'multipart/form-data; boundary=x',
        },
        body: Readable.from(body()),
      });
      const text = await response.body.text();
      expect(response.statusCode).toBe(413);
      expect(JSON.parse(text).error.type).toBe('request_too_large');
      expect(JSON.parse(text).error.message).toContain('1 MB');
      // The upstream got a cut upload and stored nothing.
      expect((await stack.sdk().files.list()).data.map((f) => f.filename)).not.toContain('big.bin');
    } finally {
      catalog.replace(original);
    }
  });
});

describe('Skills through the gateway', () => {
  it('creates a skill and a version, and keeps them from other keys', async () => {
    const skillMd = '---\nname: greeting\ndescription: Greets people politely\n---\nSay hello.\n';
    const client = stack.sdk();
    const skill = await client.skills.create({
      display_name: 'Greeting',
      files: [await toFile(Buffer.from(skillMd), 'greeting/SKILL.md', { type: 'text/markdown' })],
    });
    expect(skill).toMatchObject({ type: 'skill', display_name: 'Greeting', source: { type: 'custom' } });
    const version = await client.skills.versions.create(skill.id, {
      files: [await toFile(Buffer.from(skillMd), 'greeting/SKILL.md', { type: 'text/markdown' })],
    });
    expect(version).toMatchObject({ type: 'skill_version', skill_id: skill.id, name: 'greeting' });
    expect((await client.skills.retrieve(skill.id)).latest_version_id).toBe(version.id);
    const versions = await client.skills.versions.list(skill.id);
    expect(versions.data).toHaveLength(2);

    const other = sdkFor(otherKey);
    const before = stack.simulator.counters().requests;
    await expect(other.skills.retrieve(skill.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.skills.versions.list(skill.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(other.skills.delete(skill.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    expect(stack.simulator.counters().requests).toBe(before);
    // Anthropic's own skills are everyone's; the custom one is its creator's only.
    const otherList = (await other.skills.list()).data.map((s) => s.id);
    expect(otherList).not.toContain(skill.id);
    expect(otherList).toContain('pptx');
    expect((await client.skills.list()).data.map((s) => s.id)).toContain(skill.id);
  });
});

describe('paths Sluice answers itself', () => {
  it('refuses the Admin API with 403 permission_error and never forwards it', async () => {
    const before = stack.simulator.counters().requests;
    for (const path of ['/v1/organizations/api_keys', '/v1/organizations/usage_report/messages?x=1']) {
      const answer = await call('GET', path, stack.key);
      expect(answer.status).toBe(403);
      expect(answer.json().error.type).toBe('permission_error');
      expect(answer.json().error.message).toMatch(/Admin API/);
    }
    expect(stack.simulator.counters().requests).toBe(before);
  });

  it('refuses Managed Agents explicitly, and an unknown /v1 path with the list of supported ones', async () => {
    const before = stack.simulator.counters().requests;
    const agents = await call('POST', '/v1/agents?beta=true', stack.key, '{}');
    expect(agents.status).toBe(403);
    expect(agents.json().error.message).toMatch(/Managed Agents/);
    const unknown = await call('GET', '/v1/whatever', stack.key);
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.type).toBe('not_found_error');
    for (const path of [
      'POST /v1/messages',
      'POST /v1/files',
      'GET /v1/files/{file_id}/content',
      'POST /v1/chat/completions',
    ])
      expect(unknown.json().error.message).toContain(path);
    expect(stack.simulator.counters().requests).toBe(before);
  });

  it('answers a known path with the wrong method 405, naming the right one', async () => {
    const answer = await call('PUT', '/v1/files', stack.key, '{}');
    expect(answer.status).toBe(405);
    expect(answer.json().error.message).toMatch(/use POST or GET/);
  });
});

describe('logs, metrics and the legacy endpoint', () => {
  it('passes /v1/complete through, and logs and counts every endpoint by its pattern, with no key in clear', async () => {
    const completion = await call(
      'POST',
      '/v1/complete',
      stack.key,
      JSON.stringify({
        model: 'claude-haiku-4-5',
        prompt: '\n\nHuman: Hello\n\nAssistant:',
        max_tokens_to_sample: 20,
      }),
    );
    expect(completion.status).toBe(200);
    expect(completion.json().type).toBe('completion');

    const lines = stack.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean);
    const paths = lines.map((line) => JSON.parse(line).path);
    for (const path of ['/v1/files', '/v1/complete', '/v1/organizations/api_keys'])
      expect(paths).toContain(path);
    const text = lines.join('\n');
    expect(text).not.toContain(stack.key);
    expect(text).not.toContain(otherKey);
    expect(text).not.toContain(UPSTREAM_KEY);

    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_requests_total\{route="\/v1\/files\/\{file_id\}",status_class="4xx",/);
    expect(metrics).toMatch(/sluice_requests_total\{route="\/v1\/organizations\/\*",status_class="4xx",/);
    expect(metrics).not.toMatch(/file_011C/);
  });
});

describe('the OpenAI-compatible layer with the openai client', () => {
  const openai = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0 });
  const ids: Array<{ id: string; prompt: number; completion: number }> = [];

  it('answers a chat completion, key as Bearer, and the ledger prices its usage', async () => {
    const { data, response } = await openai(stack.key)
      .chat.completions.create({
        model: 'claude-haiku-4-5',
        max_tokens: 40,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Say hello.' },
        ],
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toBeTruthy();
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    ids.push({
      id: response.headers.get('x-sluice-request-id')!,
      prompt: data.usage!.prompt_tokens,
      completion: data.usage!.completion_tokens,
    });
  });

  it('streams a chat completion; the tap reads the usage chunk', async () => {
    const stream = await openai(stack.key)
      .chat.completions.create({
        model: 'claude-haiku-4-5',
        max_completion_tokens: 40,
        stream: true,
        messages: [{ role: 'user', content: 'Stream a greeting.' }],
      })
      .withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream.data) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    ids.push({
      id: stream.response.headers.get('x-sluice-request-id')!,
      prompt: usage!.prompt_tokens,
      completion: usage!.completion_tokens,
    });
  });

  it("applies the key's model allow-list and max_tokens cap before the upstream", async () => {
    const before = stack.simulator.counters().requests;
    const narrow = openai(narrowKey);
    const other = narrow.chat.completions.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    await expect(other).rejects.toMatchObject({ status: 403 });
    const tooMany = narrow.chat.completions.create({
      model: 'claude-haiku-4-5',
      max_completion_tokens: 500,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    await expect(tooMany).rejects.toMatchObject({ status: 400 });
    expect(stack.simulator.counters().requests).toBe(before);
  });

  it('records one priced ledger row per completion, at the catalog price of its usage', async () => {
    expect(ids).toHaveLength(2);
    await stack.close();
    closed = true;
    const store = await openStore(databaseUrl);
    const rows = await store.db.selectFrom('ledger').selectAll().execute();
    await store.close();
    // Haiku 4.5: $1 / $5 per million tokens = 1e6 / 5e6 pico-dollars per token.
    for (const { id, prompt, completion } of ids) {
      const row = rows.find((r) => r.request_id === id);
      expect(row, id).toBeDefined();
      expect(row!.priced).toBe(1);
      expect(row!.model).toBe('claude-haiku-4-5-20251001');
      expect(Number(row!.input_tokens)).toBe(prompt);
      expect(Number(row!.output_tokens)).toBe(completion);
      expect(BigInt(row!.cost_pico)).toBe(BigInt(prompt) * 1_000_000n + BigInt(completion) * 5_000_000n);
    }
    console.log(
      `chat completions in the ledger: ${ids.map(({ prompt, completion }) => `${prompt} in / ${completion} out`).join('; ')}`,
    );
  });
});
