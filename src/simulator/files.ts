import { createReadStream, createWriteStream, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { ApiError } from './errors.js';
import { baseHeaders, type Exchange, sendJson } from './http.js';
import { base62String } from './random.js';

export interface StoredFile {
  id: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  createdAt: string;
  downloadable: boolean;
  path: string;
}

/**
 * Uploaded files, kept on disk (a 500 MB upload must not be held in memory) in a directory of
 * the simulator's own, removed when it closes.
 */
export class FileStore {
  readonly files = new Map<string, StoredFile>();
  private dir?: string;

  directory(): string {
    this.dir ??= mkdtempSync(join(tmpdir(), 'sluice-simulator-files-'));
    return this.dir;
  }

  remove(id: string): void {
    const file = this.files.get(id);
    if (!file) return;
    this.files.delete(id);
    try {
      unlinkSync(file.path);
    } catch {
      // already gone
    }
  }

  clear(): void {
    this.files.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

export function fileId(): string {
  return `file_011C${base62String(20)}`;
}

function fileObject(file: StoredFile) {
  return {
    id: file.id,
    type: 'file',
    filename: file.filename,
    mime_type: file.mimeType,
    size_bytes: file.sizeBytes,
    created_at: file.createdAt,
    downloadable: file.downloadable,
  };
}

const notFound = (id: string) => new ApiError(404, `File not found: ${id}`);

/** `POST /v1/files` (multipart, field `file`): streamed to disk, refused with 413 past the catalog's limit. */
export async function uploadFile(exchange: Exchange): Promise<void> {
  const { state, req } = exchange;
  const limit = state.catalog.uploadLimitBytes('files');
  const declared = Number(req.headers['content-length']);
  if (limit !== undefined && Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const contentType = req.headers['content-type'] ?? '';
  if (!contentType.startsWith('multipart/form-data'))
    throw new ApiError(400, 'content-type: multipart/form-data is required');
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: limit } });
  } catch (error) {
    throw new ApiError(400, `invalid multipart body: ${(error as Error).message}`);
  }
  const stored = await new Promise<StoredFile>((resolve, reject) => {
    let written: Promise<StoredFile> | undefined;
    parser.on('file', (field, stream, info) => {
      if (field !== 'file') {
        stream.resume();
        return;
      }
      const id = fileId();
      const path = join(state.files.directory(), id);
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          done(null, chunk);
        },
      });
      stream.on('limit', () => stream.destroy(tooLarge(limit!)));
      written = pipeline(stream, counter, createWriteStream(path)).then(
        () => ({
          id,
          filename: info.filename ?? 'upload',
          mimeType: info.mimeType || 'application/octet-stream',
          sizeBytes: size,
          createdAt: new Date(state.clock.now()).toISOString(),
          downloadable: state.uploadsDownloadable,
          path,
        }),
        (error) => {
          rmSync(path, { force: true });
          throw error;
        },
      );
      written.catch(() => undefined);
    });
    parser.on('error', (error) =>
      reject(new ApiError(400, `invalid multipart body: ${(error as Error).message}`)),
    );
    parser.on('close', () => {
      if (!written) reject(new ApiError(400, 'file: Field required'));
      else written.then(resolve, reject);
    });
    req.on('aborted', () => reject(new Error('client closed the connection during the upload')));
    req.pipe(parser);
  });
  state.files.files.set(stored.id, stored);
  sendJson(exchange, 200, fileObject(stored));
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `File exceeds the maximum allowed size of ${limit} bytes.`, {
    headers: { connection: 'close' },
  });
}

/** `GET /v1/files?limit&after_id&before_id&page`: newest first. */
export function listFiles(exchange: Exchange): void {
  const all = [...exchange.state.files.files.values()].reverse();
  sendJson(exchange, 200, pageOf(exchange, all, fileObject));
}

export function getFile(exchange: Exchange, id: string): void {
  const file = exchange.state.files.files.get(id);
  if (!file) throw notFound(id);
  sendJson(exchange, 200, fileObject(file));
}

export function deleteFile(exchange: Exchange, id: string): void {
  if (!exchange.state.files.files.has(id)) throw notFound(id);
  exchange.state.files.remove(id);
  sendJson(exchange, 200, { id, type: 'file_deleted' });
}

/** `GET /v1/files/{id}/content`: streamed from disk; uploaded files are not downloadable unless the simulator is told so. */
export async function fileContent(exchange: Exchange, id: string): Promise<void> {
  const file = exchange.state.files.files.get(id);
  if (!file) throw notFound(id);
  if (!file.downloadable)
    throw new ApiError(400, `File ${id} is not downloadable`, {
      details: { error_code: 'file_not_downloadable' },
    });
  if (exchange.counted) exchange.state.counters.answered(200);
  exchange.res.writeHead(200, {
    ...baseHeaders(exchange),
    'content-type': file.mimeType,
    'content-length': String(file.sizeBytes),
    'content-disposition': `attachment; filename="${file.filename.replace(/"/g, '')}"`,
  });
  await pipeline(createReadStream(file.path), exchange.res);
}

const defaultLimit = 20;
const maxLimit = 1000;

/**
 * One page of a list, newest first, as the API pages them: `limit` (1–1000, default 20),
 * `after_id` / `before_id`, or the `page` cursor of the GA SDK (`next_page` of the last answer).
 */
export function pageOf<T extends { id: string }>(exchange: Exchange, all: T[], shape: (item: T) => unknown) {
  const query = exchange.url.searchParams;
  const limitText = query.get('limit');
  const limit = limitText === null ? defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit)
    throw new ApiError(400, `limit: Input should be an integer from 1 to ${maxLimit}`);
  const page = query.get('page');
  const afterId = query.get('after_id') ?? (page ? Buffer.from(page, 'base64url').toString('utf8') : null);
  const beforeId = query.get('before_id');
  if (afterId && beforeId) throw new ApiError(400, 'after_id and before_id may not both be given');
  const position = (id: string, field: string) => {
    const at = all.findIndex((item) => item.id === id);
    if (at < 0) throw new ApiError(400, `${field}: no object with id ${id}`);
    return at;
  };
  let items: T[];
  let hasMore: boolean;
  if (beforeId) {
    const end = position(beforeId, 'before_id');
    const start = Math.max(0, end - limit);
    items = all.slice(start, end);
    hasMore = start > 0;
  } else {
    const start = afterId ? position(afterId, 'after_id') + 1 : 0;
    items = all.slice(start, start + limit);
    hasMore = start + limit < all.length;
  }
  const lastId = items[items.length - 1]?.id ?? null;
  return {
    data: items.map(shape),
    has_more: hasMore,
    first_id: items[0]?.id ?? null,
    last_id: lastId,
    next_page: hasMore && lastId ? Buffer.from(lastId).toString('base64url') : null,
  };
}
