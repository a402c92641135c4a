import { describe, expect, it } from 'vitest';
import { requestShape } from '../../src/simulator/request-shape.generated.js';
import { buildRequestShape } from '../../src/simulator/request-shape-gen.js';
import { acceptedFields } from '../../src/simulator/validate.js';
import { send, simulator } from './helpers.js';

/** A body shaped like Claude Code's (2.1.332, seen through a gateway): every field it sends. */
function agentBody(overrides: Record<string, unknown> = {}) {
  const tools = Array.from({ length: 24 }, (_, i) => ({
    name: `Tool${i}`,
    description: `tool number ${i}`,
    input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] },
    ...(i === 23 ? { cache_control: { type: 'ephemeral' } } : {}),
  }));
  return {
    model: 'claude-opus-5-5',
    max_tokens: 64000,
    stream: false,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332.58d; cc_entrypoint=sdk-cli;' },
      { type: 'text', text: 'You are an agent.', cache_control: { type: 'ephemeral' } },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>\nContext.\n</system-reminder>' },
          { type: 'text', text: 'Say hello in one short sentence.' },
        ],
      },
      {
        role: 'system',
        content: [{ type: 'text', text: '# Environment\n - Primary working directory: /tmp/x' }],
      },
    ],
    tools,
    thinking: { type: 'adaptive', display: 'omitted' },
    output_config: { effort: 'high' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    metadata: { user_id: JSON.stringify({ device_id: 'd', account_uuid: '', session_id: 's-1' }) },
    ...overrides,
  };
}

const betas =
  'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,mid-conversation-system-2026-04-07,effort-2025-11-24';

describe('the request shape comes from the SDK types', () => {
  it('is the one generated from the installed @anthropic-ai/sdk (regenerate with npm run gen:request-shape)', () => {
    expect(requestShape).toEqual(buildRequestShape());
  }, 120_000); // the TypeScript checker reads the SDK's type files

  it('carries the roles, fields and tags of SDK 1.14, the beta-only ones apart', () => {
    expect(Object.keys(requestShape.ga.roles).sort()).toEqual(['assistant', 'system', 'user']);
    expect(requestShape.ga.body.required).toEqual(['max_tokens', 'messages', 'model']);
    expect(requestShape.ga.thinking).toContain('adaptive');
    expect(requestShape.ga.effort).toEqual(['high', 'low', 'max', 'medium', 'xhigh']);
    // context_management exists only in the beta types: accepted only when a beta is named.
    expect(acceptedFields(false).has('context_management')).toBe(false);
    expect(acceptedFields(true).has('context_management')).toBe(true);
    expect(requestShape.beta.roles.system?.optional).toContain('clear_at');
    expect(requestShape.ga.roles.system?.optional ?? []).not.toContain('clear_at');
  });
});

describe('what Claude Code sends', () => {
  it('is accepted on /v1/messages?beta=true with its beta header: 24 tools, adaptive thinking, effort, context management, a system turn', async () => {
    const sim = await simulator();
    const answer = await send(sim, '/v1/messages?beta=true', agentBody(), {
      headers: { 'anthropic-beta': betas },
    });
    expect(answer.status).toBe(200);
    expect(answer.json.stop_reason).toBe('end_turn');
    expect(answer.json.content.at(-1)).toMatchObject({ type: 'text' });
  });

  it('refuses a beta-only field without an anthropic-beta header, in the API words', async () => {
    const sim = await simulator();
    const refused = await send(sim, '/v1/messages', agentBody());
    expect(refused.status).toBe(400);
    expect(refused.json.error).toEqual({
      type: 'invalid_request_error',
      message: 'context_management: Extra inputs are not permitted',
    });
    // The GA fields alone (a mid-conversation system message included) need no beta.
    const { context_management: _, ...ga } = agentBody();
    expect((await send(sim, '/v1/messages', ga)).status).toBe(200);
  });

  it('accepts clear_at on a system message only with a beta, and an unknown role never', async () => {
    const sim = await simulator();
    const withClearAt = agentBody({ context_management: undefined });
    const messages = withClearAt.messages as Array<Record<string, unknown>>;
    messages[1] = { ...messages[1], clear_at: 'next_user_message' };
    const { context_management: _, ...body } = withClearAt;
    const refused = await send(sim, '/v1/messages', body);
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toBe('messages.1.clear_at: Extra inputs are not permitted');
    const accepted = await send(sim, '/v1/messages', body, {
      headers: { 'anthropic-beta': 'mid-conversation-system-clear-at-2026-08-21' },
    });
    expect(accepted.status).toBe(200);
    const tool = await send(sim, '/v1/messages', {
      ...body,
      messages: [{ role: 'tool', content: 'x' }],
    });
    expect(tool.status).toBe(400);
    expect(tool.json.error.message).toBe("messages.0.role: Input should be 'user', 'assistant' or 'system'");
  });

  it('places mid-conversation system messages as the API does', async () => {
    const sim = await simulator();
    const user = { role: 'user', content: 'Hi' };
    const assistant = { role: 'assistant', content: 'Hello' };
    const system = { role: 'system', content: 'Be brief.' };
    const post = (messages: unknown[]) =>
      send(sim, '/v1/messages', { model: 'claude-opus-5-5', max_tokens: 100, messages });
    expect((await post([user, system, assistant, user])).status).toBe(200);
    expect((await post([user, system, system])).status).toBe(200);
    const first = await post([system, user]);
    expect(first.status).toBe(400);
    expect(first.json.error.message).toBe('messages.0: a system message may not be the first message');
    const afterAssistant = await post([user, assistant, system, user]);
    expect(afterAssistant.status).toBe(400);
    expect(afterAssistant.json.error.message).toMatch(
      /^messages\.2: a system message must follow a user message/,
    );
    const beforeUser = await post([user, system, user]);
    expect(beforeUser.status).toBe(400);
    expect(beforeUser.json.error.message).toMatch(
      /^messages\.1: a system message must be followed by an assistant/,
    );
  });
});
