import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { findExposedVariables } from './exposure.js';
import { type Finding, makeFinding } from './finding.js';
import { maskKey } from './mask.js';
import { findKeys, MAX_KEY_LENGTH } from './shapes.js';

export const ALLOW_MARKER = 'sluice:allow';
const ALLOW_BUFFER = Buffer.from(ALLOW_MARKER);
/** How far around a hit to look for the line's ends (minified bundles have megabyte lines). */
const LINE_LOOKAROUND = 4096;
/** Files up to this size are read whole; larger ones stream through in chunks of this size. */
const WHOLE_FILE_LIMIT = 32 * 1024 * 1024;
const CHUNK_SIZE = 8 * 1024 * 1024;

export interface ContentContext {
  path: string;
  commit?: string;
  /** Line number of the first line of the buffer (history scans pass hunk positions). */
  firstLine?: number;
}

/** Tracks line numbers through a buffer lazily: newlines are counted only up to a hit. */
class LineCounter {
  private position = 0;
  private line: number;

  constructor(firstLine: number) {
    this.line = firstLine;
  }

  lineAt(buf: Buffer, offset: number): number {
    let index = buf.indexOf(10, this.position);
    while (index !== -1 && index < offset) {
      this.line++;
      index = buf.indexOf(10, index + 1);
    }
    this.position = offset;
    return this.line;
  }

  /** Moves the count past `upTo` and rebases positions for the next chunk. */
  advance(buf: Buffer, upTo: number): void {
    this.lineAt(buf, upTo);
    this.position = 0;
  }
}

function lineBounds(buf: Buffer, offset: number): [number, number] {
  const lower = Math.max(0, offset - LINE_LOOKAROUND);
  const newlineBefore = buf.lastIndexOf(10, offset);
  const start = newlineBefore >= lower ? newlineBefore + 1 : lower;
  const newlineAfter = buf.indexOf(10, offset);
  const upper = Math.min(buf.length, offset + LINE_LOOKAROUND);
  const end = newlineAfter !== -1 && newlineAfter < upper ? newlineAfter : upper;
  return [start, end];
}

function isAllowed(buf: Buffer, start: number, end: number): boolean {
  const index = buf.indexOf(ALLOW_BUFFER, start);
  return index !== -1 && index < end;
}

/** Findings whose first byte lies in [from, to), with lines counted by `counter`. */
function scanRange(
  buf: Buffer,
  from: number,
  to: number,
  context: ContentContext,
  counter: LineCounter,
): Finding[] {
  const hits: Array<{ start: number; make: (line: number, column: number) => Finding }> = [];
  for (const key of findKeys(buf, from, to)) {
    hits.push({
      start: key.start,
      make: (line, column) =>
        makeFinding(
          { rule: key.rule, path: context.path, line, column, commit: context.commit, hint: maskKey(key) },
          key.secret,
          key.secret,
        ),
    });
  }
  for (const variable of findExposedVariables(buf, from, to)) {
    hits.push({
      start: variable.start,
      make: (line, column) =>
        makeFinding(
          {
            rule: 'public-env-exposure',
            path: context.path,
            line,
            column,
            commit: context.commit,
            hint: variable.name,
          },
          variable.name,
        ),
    });
  }
  hits.sort((a, b) => a.start - b.start);
  const findings: Finding[] = [];
  for (const hit of hits) {
    const [lineStart, lineEnd] = lineBounds(buf, hit.start);
    if (isAllowed(buf, lineStart, lineEnd)) continue;
    const line = counter.lineAt(buf, hit.start);
    const column = buf.toString('utf8', lineStart, hit.start).length + 1;
    const finding = hit.make(line, column);
    if (context.commit === undefined) delete finding.commit;
    findings.push(finding);
  }
  return findings;
}

/** Scans text already in memory (a staged blob, an added line). */
export function scanBuffer(buf: Buffer, context: ContentContext): Finding[] {
  return scanRange(buf, 0, buf.length, context, new LineCounter(context.firstLine ?? 1));
}

export interface ReadLimits {
  wholeFileLimit: number;
  chunkSize: number;
}

/**
 * Scans a file; files larger than `wholeFileLimit` stream through in chunks (bounded memory).
 * Undefined when the path is not a regular file (a symbolic link, a directory, a deleted file).
 */
export async function scanFile(
  absolutePath: string,
  context: ContentContext,
  limits: ReadLimits = { wholeFileLimit: WHOLE_FILE_LIMIT, chunkSize: CHUNK_SIZE },
): Promise<{ findings: Finding[]; bytes: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // Symbolic links are not followed: they may point out of the tree or loop.
    handle = await open(absolutePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (['ELOOP', 'ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? ''))
      return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    // Directories (submodules listed by git) and devices are not content.
    if (!info.isFile()) return undefined;
    const size = info.size;
    if (size <= limits.wholeFileLimit) {
      const buf = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(buf, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const content = buf.subarray(0, filled);
      return { findings: scanBuffer(content, context), bytes: filled };
    }
    return { findings: await scanChunks(handle, context, limits.chunkSize), bytes: size };
  } finally {
    await handle.close();
  }
}

async function scanChunks(
  handle: Awaited<ReturnType<typeof open>>,
  context: ContentContext,
  chunkSize: number,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const counter = new LineCounter(context.firstLine ?? 1);
  const buf = Buffer.allocUnsafe(chunkSize + MAX_KEY_LENGTH);
  let carried = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, carried, chunkSize, null);
    const length = carried + bytesRead;
    const done = bytesRead === 0;
    // A key may straddle the chunk end: leave its possible start for the next round.
    const limit = done ? length : Math.max(0, length - MAX_KEY_LENGTH);
    findings.push(...scanRange(buf.subarray(0, length), 0, limit, context, counter));
    if (done) return findings;
    counter.advance(buf.subarray(0, length), limit);
    buf.copy(buf, 0, limit, length);
    carried = length - limit;
  }
}
