import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetch } from 'undici';

/** Far above any real catalog; a source answering more is not sending a catalog. */
const MAX_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export const isUrl = (source: string) => /^https?:\/\//i.test(source);

/** The text of a catalog from an HTTP(S) URL or a local file (a `file:` URL or a path). */
export async function readCatalogSource(source: string): Promise<string> {
  if (!isUrl(source)) {
    const path = source.startsWith('file:') ? fileURLToPath(source) : source;
    return readFileSync(path, 'utf8');
  }
  const response = await fetch(source, {
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    headers: { accept: 'application/json' },
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${source} answered ${response.status} ${response.statusText}`.trim());
  }
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_BYTES) {
    await response.body?.cancel();
    throw new Error(`${source} sent ${length} bytes; a catalog is under ${MAX_BYTES}`);
  }
  const text = await response.text();
  if (Buffer.byteLength(text) > MAX_BYTES) throw new Error(`${source} sent more than ${MAX_BYTES} bytes`);
  return text;
}

/**
 * Writes `text` to `path` so that a reader sees the old file or the new one, never a part: a
 * temporary file in the same directory (same file system, so the rename is atomic), flushed to
 * disk, then renamed over the old one, and the directory flushed so the rename survives a crash.
 */
export function installCatalogFile(path: string, text: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temporary = join(dir, `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temporary, 'wx', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot open or flush a directory; the rename itself is still atomic.
  }
}
