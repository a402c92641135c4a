import { basename } from 'node:path';

/**
 * Front-end bundlers inline every variable with these prefixes into the code they ship to
 * browsers: an Anthropic credential under such a name is public, whatever its value.
 */
const PUBLIC_PREFIXES = new Set([
  'NEXT_PUBLIC_',
  'VITE_',
  'REACT_APP_',
  'EXPO_PUBLIC_',
  'NUXT_PUBLIC_',
  'NUXT_ENV_',
  'GATSBY_',
  'VUE_APP_',
  'PUBLIC_',
  'STORYBOOK_',
  'SNOWPACK_PUBLIC_',
]);
const VENDOR_MARKERS = [Buffer.from('ANTHROPIC_'), Buffer.from('CLAUDE_')];
const CREDENTIAL_WORD = /KEY|TOKEN|SECRET/;
const LONGEST_PREFIX = 20;

export interface ExposedVariable {
  start: number;
  end: number;
  name: string;
}

function isNameByte(code: number | undefined): boolean {
  return code !== undefined && ((code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95);
}

const SPACE = new Set([32, 9]);
const QUOTES = new Set([34, 39]); // `"`, `'`
/** Bytes that, before a name a key may follow (`KEY: value`), mean the name starts an entry. */
const ENTRY_START = new Set([10, 13, 123, 44, 45]); // newline, `{`, `,`, `-`

/**
 * Whether the name at [start, end) is assigned or read: `NAME=…` (.env, shell), `NAME: …` at the
 * start of an entry (YAML, JSON, object literals), `.NAME` (process.env.NAME, import.meta.env.NAME),
 * `$NAME` / `${NAME}` (shell, compose), or `["NAME"]` / `("NAME")` (env["NAME"], getenv("NAME")).
 * A name in prose (`the NEXT_PUBLIC_… variable`) is none of these, and is not an exposure.
 */
function isAssignedOrRead(buf: Buffer, start: number, end: number): boolean {
  let after = end;
  if (QUOTES.has(buf[after] ?? -1)) after++;
  while (SPACE.has(buf[after] ?? -1)) after++;
  const next = buf[after];
  if (next === 61 && buf[after + 1] !== 61) return true; // `=`, not `==`
  let before = start - 1;
  const quotedBefore = QUOTES.has(buf[before] ?? -1);
  if (quotedBefore) before--;
  const previous = buf[before];
  if (!quotedBefore && (previous === 46 || previous === 36)) return true; // `.NAME`, `$NAME`
  if (!quotedBefore && previous === 123 && buf[before - 1] === 36) return true; // `${NAME`
  if (quotedBefore && (previous === 91 || previous === 40)) return true; // `["NAME"`, `("NAME"`
  if (next === 58 && buf[after + 1] !== 58) {
    // `NAME:` counts where an entry starts, not in the middle of a sentence.
    while (before >= 0 && SPACE.has(buf[before] ?? -1)) before--;
    return before < 0 || ENTRY_START.has(buf[before] ?? -1);
  }
  return false;
}

/**
 * Credential-named variables with a bundler's public prefix, assigned or read, whose first byte
 * lies in [from, to).
 */
export function findExposedVariables(buf: Buffer, from = 0, to = buf.length): ExposedVariable[] {
  const out: ExposedVariable[] = [];
  for (const marker of VENDOR_MARKERS) {
    let index = buf.indexOf(marker, from);
    while (index !== -1) {
      let start = index;
      while (start > 0 && index - start < LONGEST_PREFIX && isNameByte(buf[start - 1])) start--;
      let end = index + marker.length;
      while (isNameByte(buf[end])) end++;
      if (start < to && start >= from && PUBLIC_PREFIXES.has(buf.toString('latin1', start, index))) {
        const name = buf.toString('latin1', start, end);
        if (CREDENTIAL_WORD.test(name.slice(index - start)) && isAssignedOrRead(buf, start, end))
          out.push({ start, end, name });
      }
      if (index >= to) break;
      index = buf.indexOf(marker, index + marker.length);
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

const SHAREABLE_ENV_FILE = /^\.env\.(example|sample|template|dist|vault)$/;

/** `.env`, `.env.local`, `.env.production`…: files meant to hold real values, never committed. */
export function isSecretEnvFile(path: string): boolean {
  const name = basename(path);
  return /^\.env(\..+)?$/.test(name) && !SHAREABLE_ENV_FILE.test(name);
}
