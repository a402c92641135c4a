import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    yaml: {
      routing: {
        rules: [{ name: 'legal-team', tier: 'critical', when: { header: { 'x-team': 'legal' } } }],
        keys: { 'ci-*': { maxTier: 'reasoning' } },
      },
    },
  });
});
afterAll(() => stack.close());

describe('route stage through the gateway', () => {
  it('resolves model "auto" for the official SDK and explains the decision', async () => {
    const client = stack.sdk();
    const { data, response } = await client.messages
      .create({
        model: 'auto',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Hi! How are you today?' }],
      })
      .withResponse();
    expect(data.model).toMatch(/haiku/);
    expect(response.headers.get('x-sluice-route')).toMatch(/^tier=fast; score=\d\.\d\d; by=classifier/);
    expect(stack.logs.at(-1)).toContain('"requestedModel":"auto"');
  });

  it('lets a rule pin the tier, and a client header raise it', async () => {
    const client = stack.sdk();
    const ruled = await client.messages
      .create(
        { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'Hi!' }] },
        { headers: { 'x-team': 'legal' } },
      )
      .withResponse();
    expect(ruled.data.model).toMatch(/opus/);
    expect(ruled.response.headers.get('x-sluice-route')).toContain('by=rule');
    const raised = await client.messages.create(
      { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'Hi!' }] },
      { headers: { 'x-sluice-min-tier': 'reasoning' } },
    );
    expect(raised.model).toMatch(/sonnet/);
  });

  it('caps the tier by key policy and refuses auto where the key forbids it', async () => {
    const ci = await stack.gateway.keys.create({ name: 'ci-runner-main', environment: 'ci' });
    const client = stack.sdk({ apiKey: ci.key });
    const capped = await client.messages.create(
      { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] },
      { headers: { 'x-team': 'legal' } },
    );
    expect(capped.model).toMatch(/sonnet/);
    await expect(
      client.messages.create({
        model: 'sluice-critical',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    ).rejects.toMatchObject({ status: 403 });
    const noAuto = await stack.gateway.keys.create({
      name: 'prod-batch-fixed',
      environment: 'production',
      allowAuto: false,
    });
    await expect(
      stack
        .sdk({ apiKey: noAuto.key })
        .messages.create({ model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] }),
    ).rejects.toMatchObject({ status: 403 });
  });
});
