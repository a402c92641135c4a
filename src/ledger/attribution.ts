import type { Call } from '../pipeline/types.js';

/** Who, beyond the key, made a request: read from what the client sent, never changing it. */
export interface Attribution {
  sessionId: string | null;
  agentId: string | null;
  /** The client's product name (`claude-cli`, `claude-code`, an SDK's name). */
  client: string | null;
  clientVersion: string | null;
  /** How the client was started (`cli`, `sdk-cli`, `sdk-ts`, …), when it says. */
  clientEntrypoint: string | null;
}

/** Longest value kept for each field: these are ids and names, not documents. */
const MAX_LENGTH = 100;

function clean(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // Printable ASCII only: a header value or an id, never control characters in the ledger.
  const text = value.replace(/[^\x20-\x7e]/g, '').trim();
  return text === '' ? null : text.slice(0, MAX_LENGTH);
}

function header(call: Pick<Call, 'headers'>, name: string): string | null {
  const value = call.headers[name];
  return clean(Array.isArray(value) ? value[0] : value);
}

/**
 * The session: Claude Code's `x-claude-code-session-id` header, else the `session_id` in the
 * body's `metadata.user_id` (a JSON string since about v2.1.78, `user_…_account_…_session_<uuid>`
 * before). The ledger records it and the runaway guard counts by it.
 */
export function sessionOf(call: Pick<Call, 'headers' | 'body'>): string | null {
  const fromHeader = header(call, 'x-claude-code-session-id');
  if (fromHeader) return fromHeader;
  const userId = call.body?.metadata?.user_id;
  if (typeof userId !== 'string') return null;
  if (userId.startsWith('{')) {
    try {
      return clean((JSON.parse(userId) as { session_id?: unknown }).session_id);
    } catch {
      return null;
    }
  }
  return clean(/_session_([0-9a-fA-F-]{8,})$/.exec(userId)?.[1]);
}

/** `claude-cli/2.1.332 (external, sdk-cli)` → name, version and Claude Code's entrypoint in parentheses. */
function fromUserAgent(
  userAgent: string | null,
): Pick<Attribution, 'client' | 'clientVersion' | 'clientEntrypoint'> | undefined {
  // `name/version (details)`, or `name/flavour version` as the official SDKs send (`Anthropic/JS 1.14.0`).
  const match =
    userAgent &&
    /^([A-Za-z0-9._-]+(?:\/[A-Za-z][A-Za-z0-9._-]*)?)[/ ]v?(\d[A-Za-z0-9._+-]*)(?:\s*\(([^)]*)\))?/.exec(
      userAgent,
    );
  if (!match) return undefined;
  const details = (match[3] ?? '').split(',').map((part) => part.trim());
  // `(external, sdk-ts, agent-sdk/0.3.332)`: the entrypoint is the second part; more may follow.
  const entrypoint = match[1] === 'claude-cli' ? (details[1] ?? details[0]) : undefined;
  return { client: match[1]!, clientVersion: match[2]!, clientEntrypoint: clean(entrypoint) };
}

/**
 * Claude Code's attribution block, the first system block:
 * `x-anthropic-billing-header: cc_version=2.1.332.58d; cc_entrypoint=sdk-cli;` (the version's
 * last part is a fingerprint of the conversation, not part of the version).
 */
function fromAttributionBlock(
  call: Call,
): Pick<Attribution, 'client' | 'clientVersion' | 'clientEntrypoint'> | undefined {
  const system = call.body?.system;
  const first = Array.isArray(system) ? system[0]?.text : undefined;
  if (typeof first !== 'string' || !first.startsWith('x-anthropic-billing-header:')) return undefined;
  const version = /cc_version=(\d+\.\d+\.\d+)/.exec(first)?.[1];
  const entrypoint = /cc_entrypoint=([A-Za-z0-9._-]+)/.exec(first)?.[1];
  return { client: 'claude-code', clientVersion: clean(version), clientEntrypoint: clean(entrypoint) };
}

export function attributionOf(call: Call): Attribution {
  const client = fromUserAgent(header(call, 'user-agent'));
  const block = fromAttributionBlock(call);
  return {
    sessionId: sessionOf(call),
    agentId: header(call, 'x-claude-code-agent-id'),
    client: client?.client ?? block?.client ?? null,
    clientVersion: client?.clientVersion ?? block?.clientVersion ?? null,
    clientEntrypoint: client?.clientEntrypoint ?? block?.clientEntrypoint ?? null,
  };
}
