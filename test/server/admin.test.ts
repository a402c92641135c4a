import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const TOKEN = 'admin-token-for-tests-0123456789';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function admin(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const response = await request(`${stack.gateway.url}${path}`, {
    method: method as 'GET',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined, text };
}

describe('admin API', () => {
  it('requires the admin token', async () => {
    expect((await admin('GET', '/admin/keys', undefined, null)).status).toBe(401);
    const wrong = await admin('GET', '/admin/keys', undefined, `${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.type).toBe('authentication_error');
  });

  it('creates, lists, updates, rotates and revokes keys, taking effect at once', async () => {
    const created = await admin('POST', '/admin/keys', {
      name: 'staging-svc-api',
      environment: 'staging',
      maxTokens: 256,
      expires: '30d',
    });
    expect(created.status).toBe(201);
    const secret: string = created.body.key;
    expect(secret).toMatch(/^sk-sluice-/);
    expect(Date.parse(created.body.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);

    const list = await admin('GET', '/admin/keys');
    expect(list.text).not.toContain(secret);
    expect(list.body.data.map((k: { name: string }) => k.name)).toContain('staging-svc-api');

    const client = new Anthropic({ apiKey: secret, baseURL: stack.gateway.url, maxRetries: 0 });
    const ask = {
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    await client.messages.create(ask);

    const updated = await admin('PATCH', '/admin/keys/staging-svc-api', { maxTokens: 5 });
    expect(updated.body.maxTokens).toBe(5);
    await expect(client.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const rotated = await admin('POST', '/admin/keys/staging-svc-api/rotate');
    await expect(client.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const next = new Anthropic({ apiKey: rotated.body.key, baseURL: stack.gateway.url, maxRetries: 0 });
    await next.messages.create({ ...ask, max_tokens: 5 });

    expect((await admin('POST', '/admin/keys/staging-svc-api/revoke')).body.status).toBe('revoked');
    await expect(next.messages.create({ ...ask, max_tokens: 5 })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });

  it('refuses bad admin input with Anthropic-shaped errors', async () => {
    const badName = await admin('POST', '/admin/keys', { name: 'Bad Name', environment: 'production' });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toMatch(/naming rule/);
    const badType = await admin('POST', '/admin/keys', {
      name: 'prod-x-y',
      environment: 'production',
      rpm: 'lots',
    });
    expect(badType.status).toBe(400);
    expect(badType.body.error.message).toMatch(/rpm/);
    expect((await admin('POST', '/admin/keys/nope-nope-nope/revoke')).status).toBe(404);
    expect((await admin('DELETE', '/admin/keys')).status).toBe(405);
  });
});
