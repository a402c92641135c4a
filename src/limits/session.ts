import type { Call } from '../pipeline/types.js';

/** Longest session id kept; anything longer is cut, so a client cannot make the guard's map costly. */
const MAX_SESSION_ID = 128;
// Before about v2.1.78 Claude Code sent `user_<hash>_account_<id>_session_<uuid>`.
const OLD_USER_ID = /_session_([0-9A-Za-z-]{8,})$/;

/**
 * The Claude Code session a request belongs to: the `x-claude-code-session-id` header, else the
 * `session_id` in `metadata.user_id` (a JSON string, or the older `…_session_<uuid>` form).
 * Read only; the body is never changed.
 */
export function sessionOf(call: Pick<Call, 'headers' | 'body'>): string | undefined {
  const header = call.headers['x-claude-code-session-id'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim().slice(0, MAX_SESSION_ID);
  const userId = call.body?.metadata?.user_id;
  if (typeof userId !== 'string' || userId === '') return undefined;
  if (userId.startsWith('{')) {
    try {
      const parsed = JSON.parse(userId) as { session_id?: unknown };
      if (typeof parsed.session_id === 'string' && parsed.session_id !== '')
        return parsed.session_id.slice(0, MAX_SESSION_ID);
    } catch {
      return undefined;
    }
    return undefined;
  }
  return OLD_USER_ID.exec(userId)?.[1]?.slice(0, MAX_SESSION_ID);
}
