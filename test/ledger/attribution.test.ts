import { describe, expect, it } from 'vitest';
import { attributionOf, sessionOf } from '../../src/ledger/attribution.js';
import type { Call } from '../../src/pipeline/types.js';

function call(headers: Record<string, string>, body: Partial<Call['body']> = {}): Call {
  return { headers, body: { model: 'm', messages: [], ...body } } as unknown as Call;
}

describe('attribution from what the client sent', () => {
  it("reads Claude Code's session header, agent header and user-agent", () => {
    expect(
      attributionOf(
        call({
          'x-claude-code-session-id': 'af6ba21a-713a-4c58-89e7-898172f8dfad',
          'x-claude-code-agent-id': 'agent-7',
          'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)',
        }),
      ),
    ).toEqual({
      sessionId: 'af6ba21a-713a-4c58-89e7-898172f8dfad',
      agentId: 'agent-7',
      client: 'claude-cli',
      clientVersion: '2.1.332',
      clientEntrypoint: 'sdk-cli',
    });
  });

  it('reads the entrypoint of an Agent SDK client, whose user-agent adds the SDK after it', () => {
    expect(
      attributionOf(call({ 'user-agent': 'claude-cli/2.1.332 (external, sdk-ts, agent-sdk/0.3.332)' })),
    ).toMatchObject({ client: 'claude-cli', clientVersion: '2.1.332', clientEntrypoint: 'sdk-ts' });
  });

  it('falls back to the session in metadata.user_id, JSON or the older form', () => {
    const json = JSON.stringify({ device_id: 'd', account_uuid: '', session_id: 'sess-json' });
    expect(attributionOf(call({}, { metadata: { user_id: json } })).sessionId).toBe('sess-json');
    const old = 'user_abc123_account_42_session_1b4e28ba-2fa1-11d2-883f-0016d3cca427';
    expect(attributionOf(call({}, { metadata: { user_id: old } })).sessionId).toBe(
      '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    );
    expect(attributionOf(call({}, { metadata: { user_id: '{not json' } })).sessionId).toBeNull();
    expect(attributionOf(call({}, { metadata: { user_id: 'opaque-user' } })).sessionId).toBeNull();
    // A client cannot make the guard's map or the ledger costly with a huge id.
    expect(
      sessionOf({ headers: { 'x-claude-code-session-id': 'x'.repeat(1000) }, body: call({}).body }),
    ).toHaveLength(100);
  });

  it('reads the attribution block when the user-agent says nothing, dropping the fingerprint', () => {
    const system = [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332.58d; cc_entrypoint=sdk-ts;' },
      { type: 'text', text: 'You are an agent.' },
    ];
    expect(attributionOf(call({}, { system }))).toMatchObject({
      client: 'claude-code',
      clientVersion: '2.1.332',
      clientEntrypoint: 'sdk-ts',
    });
    // Other clients: their product and version, no entrypoint.
    expect(attributionOf(call({ 'user-agent': 'Anthropic/JS 1.14.0' }))).toMatchObject({
      client: 'Anthropic/JS',
      clientVersion: '1.14.0',
      clientEntrypoint: null,
    });
    expect(attributionOf(call({ 'user-agent': 'curl/8.5.0' }))).toMatchObject({
      client: 'curl',
      clientVersion: '8.5.0',
    });
  });

  it('keeps values short and printable', () => {
    const result = attributionOf(call({ 'x-claude-code-session-id': `\u0007${'s'.repeat(300)}` }));
    expect(result.sessionId).toBe('s'.repeat(100));
    expect(attributionOf(call({ 'x-claude-code-session-id': '  ' })).sessionId).toBeNull();
  });
});
