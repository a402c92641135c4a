/**
 * The bytes to send upstream for a body a stage changed (a routed model, a filled-in
 * `max_tokens`): the client's bytes with only the changed top-level values re-written, so
 * everything else (the attribution block, `cache_control` markers, thinking signatures, number
 * spellings, escapes, whitespace) reaches the upstream exactly as the client sent it.
 * Re-serialising the whole body would change bytes that prompt caches and signature checks
 * depend on.
 */
export function patchedBody(raw: Buffer, body: Record<string, unknown>): Buffer {
  const members = topLevelMembers(raw);
  if (!members) return Buffer.from(JSON.stringify(body));
  const seen = new Set<string>();
  for (const member of members) {
    // A repeated key or a key a stage removed: no in-place edit says it, so the body is re-written.
    if (seen.has(member.key) || !(member.key in body) || body[member.key] === undefined)
      return Buffer.from(JSON.stringify(body));
    seen.add(member.key);
  }
  const pieces: Buffer[] = [];
  let at = 0;
  for (const member of members) {
    const original = raw.subarray(member.valueStart, member.valueEnd);
    const now = JSON.stringify(body[member.key]);
    if (JSON.stringify(JSON.parse(original.toString('utf8'))) === now) continue;
    pieces.push(raw.subarray(at, member.valueStart), Buffer.from(now));
    at = member.valueEnd;
  }
  const added = Object.keys(body).filter((key) => !seen.has(key) && body[key] !== undefined);
  if (added.length === 0) {
    if (pieces.length === 0) return raw;
    pieces.push(raw.subarray(at));
    return Buffer.concat(pieces);
  }
  // Right after the last member (or the opening brace's spacing), before the closing brace's.
  const insertAt = members.length > 0 ? members[members.length - 1]!.valueEnd : members.close;
  pieces.push(raw.subarray(at, insertAt));
  const text = added.map((key) => `${JSON.stringify(key)}:${JSON.stringify(body[key])}`).join(',');
  pieces.push(Buffer.from(members.length > 0 ? `,${text}` : text), raw.subarray(insertAt));
  return Buffer.concat(pieces);
}

interface Member {
  key: string;
  valueStart: number;
  valueEnd: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The members of a JSON object's top level, by byte offsets, and where its closing brace is;
 * undefined when the text is not one object. Scans bytes: every structural character is ASCII
 * and never part of a multi-byte UTF-8 sequence. The text has already been parsed, so it is valid.
 */
function topLevelMembers(raw: Buffer): (Member[] & { close: number }) | undefined {
  let i = 0;
  const skipSpace = () => {
    while (i < raw.length && isSpace(raw[i]!)) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (i < raw.length && raw[i] !== QUOTE) i += raw[i] === BACKSLASH ? 2 : 1;
    i++; // closing quote
  };
  skipSpace();
  if (raw[i] !== 0x7b) return undefined;
  i++;
  const members = [] as unknown as Member[] & { close: number };
  for (;;) {
    skipSpace();
    if (raw[i] === 0x7d) break;
    if (raw[i] !== QUOTE) return undefined;
    const keyStart = i;
    skipString();
    const key = JSON.parse(raw.subarray(keyStart, i).toString('utf8')) as string;
    skipSpace();
    if (raw[i] !== 0x3a) return undefined;
    i++;
    skipSpace();
    const valueStart = i;
    let depth = 0;
    while (i < raw.length) {
      const byte = raw[i]!;
      if (byte === QUOTE) {
        skipString();
        continue;
      }
      if (byte === 0x7b || byte === 0x5b) depth++;
      else if (byte === 0x7d || byte === 0x5d) {
        if (depth === 0) break;
        depth--;
      } else if (byte === 0x2c && depth === 0) break;
      i++;
    }
    let valueEnd = i;
    while (valueEnd > valueStart && isSpace(raw[valueEnd - 1]!)) valueEnd--;
    members.push({ key, valueStart, valueEnd });
    if (raw[i] === 0x2c) i++;
    else if (raw[i] !== 0x7d) return undefined;
  }
  members.close = i;
  return members;
}
