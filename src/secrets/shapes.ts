import { isValidVirtualKey, VIRTUAL_KEY_PATTERN } from '../keys/format.js';
import { isPlaceholderBody } from './placeholder.js';

export type KeyRule =
  | 'anthropic-api-key'
  | 'anthropic-admin-key'
  | 'anthropic-oauth-token'
  | 'sluice-virtual-key';

/** A key found in a buffer: byte offsets and the key itself (never printed, only hinted). */
export interface KeyMatch {
  rule: KeyRule;
  start: number;
  end: number;
  secret: string;
  /** The fixed part shown before the last four characters, e.g. `sk-ant-api03-`. */
  prefix: string;
}

/** Longest span a key can occupy; a chunked reader keeps this many bytes of overlap. */
export const MAX_KEY_LENGTH = 320;

const ANTHROPIC_MARKER = Buffer.from('sk-ant-');
const VIRTUAL_MARKER = Buffer.from('sk-sluice-');
/** `sk-ant-` + kind + two-digit version + `-`, then the base64url body. */
const ANTHROPIC_HEAD = /^sk-ant-(api|admin|oat|ort)(\d\d)-([A-Za-z0-9_-]*)/;
const VIRTUAL_AT = new RegExp(VIRTUAL_KEY_PATTERN.source, 'y');
/** API and admin keys (and current OAuth tokens): 93 body characters then `AA`. */
const BODY_LENGTH = 93;
/** OAuth tokens whose exact shape is not published: accept a long random-looking body. */
const OAUTH_MIN_BODY = 80;
const OAUTH_MAX_BODY = 250;

const RULE_BY_KIND: Record<string, KeyRule> = {
  api: 'anthropic-api-key',
  admin: 'anthropic-admin-key',
  oat: 'anthropic-oauth-token',
  ort: 'anthropic-oauth-token',
};

/**
 * The key starting at `start`, if the text there has a real key's shape. A key may be directly
 * followed by any punctuation, including `-` and `_` (both legal inside the body): the body length
 * and the `AA` terminator decide where it ends, not the next delimiter.
 */
function anthropicKeyAt(text: string, start: number): KeyMatch | undefined {
  const head = ANTHROPIC_HEAD.exec(text);
  if (!head) return undefined;
  const [, kind, version, run] = head as unknown as [string, string, string, string];
  const prefix = `sk-ant-${kind}${version}-`;
  let body: string | undefined;
  if (run.length >= BODY_LENGTH + 2 && run.slice(BODY_LENGTH, BODY_LENGTH + 2) === 'AA') {
    // A letter or digit right after `AA` means a longer token, not a key; `-` or `_` is a delimiter.
    const next = run[BODY_LENGTH + 2];
    if (next === undefined || next === '-' || next === '_') body = run.slice(0, BODY_LENGTH + 2);
  } else if (
    (kind === 'oat' || kind === 'ort') &&
    run.length >= OAUTH_MIN_BODY &&
    run.length <= OAUTH_MAX_BODY
  ) {
    body = run;
  }
  if (body === undefined || isPlaceholderBody(body.slice(0, BODY_LENGTH))) return undefined;
  const secret = prefix + body;
  return { rule: RULE_BY_KIND[kind]!, start, end: start + Buffer.byteLength(secret), secret, prefix };
}

function virtualKeyAt(text: string, start: number): KeyMatch | undefined {
  VIRTUAL_AT.lastIndex = 0;
  const match = VIRTUAL_AT.exec(text);
  if (!match || !isValidVirtualKey(match[0])) return undefined;
  return {
    rule: 'sluice-virtual-key',
    start,
    end: start + match[0].length,
    secret: match[0],
    prefix: 'sk-sluice-',
  };
}

function collect(
  buf: Buffer,
  marker: Buffer,
  from: number,
  to: number,
  at: (text: string, start: number) => KeyMatch | undefined,
  out: KeyMatch[],
): void {
  // Buffer.indexOf is a native substring search: the bulk of a scan never leaves it.
  let index = buf.indexOf(marker, from);
  while (index !== -1 && index < to) {
    const window = buf.toString('latin1', index, Math.min(buf.length, index + MAX_KEY_LENGTH));
    const found = at(window, index);
    if (found) out.push(found);
    index = buf.indexOf(marker, index + marker.length);
  }
}

/** Every key whose first byte lies in [from, to). Keys are ASCII, so latin1 decoding is exact. */
export function findKeys(buf: Buffer, from = 0, to = buf.length): KeyMatch[] {
  const out: KeyMatch[] = [];
  collect(buf, ANTHROPIC_MARKER, from, to, anthropicKeyAt, out);
  collect(buf, VIRTUAL_MARKER, from, to, virtualKeyAt, out);
  return out.sort((a, b) => a.start - b.start);
}
