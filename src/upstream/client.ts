import type { IncomingHttpHeaders } from 'node:http';
import { type Dispatcher, Pool } from 'undici';
import type { AbortSignalLike } from '../pipeline/signal.js';

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignalLike;
}

/** An upstream answer whose head has arrived. Its body is read once, by `bytes()` or `relay()`. */
export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The whole body (JSON answers and errors are small). */
  bytes(): Promise<Buffer>;
  /**
   * Hands each chunk to `sink` as it arrives; when `sink` returns false, reading from the
   * upstream pauses until `resume()`. Settles when the body has ended or failed.
   */
  relay(sink: (chunk: Buffer) => boolean): Promise<void>;
  resume(): void;
}

/**
 * One request's exchange with the upstream, as undici's dispatch handler: the body's chunks go
 * straight to their reader, without a stream object and its promise per chunk in between.
 */
class Exchange implements Dispatcher.DispatchHandler, UpstreamResponse {
  status = 0;
  headers: IncomingHttpHeaders = {};
  private controller?: Dispatcher.DispatchController;
  private early: Buffer[] = [];
  private sink?: (chunk: Buffer) => boolean;
  private ended = false;
  private failure?: Error;
  private finish?: { resolve: () => void; reject: (error: Error) => void };
  private readonly onAbort = () => this.controller?.abort(asError(this.signal?.reason));

  constructor(
    private readonly signal: AbortSignalLike | undefined,
    private readonly head: { resolve: (response: UpstreamResponse) => void; reject: (error: Error) => void },
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal?.aborted) controller.abort(asError(this.signal.reason));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.status = statusCode;
    this.headers = headers;
    this.head.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.sink) this.early.push(chunk);
    else if (!this.sink(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.finish?.resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.failure = error;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.status === 0) this.head.reject(error);
    else this.finish?.reject(error);
  }

  async bytes(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.relay((chunk) => {
      chunks.push(chunk);
      return true;
    });
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  relay(sink: (chunk: Buffer) => boolean): Promise<void> {
    // Chunks that came with the head (usually the whole of a small body) go first.
    this.sink = sink;
    for (const chunk of this.early) sink(chunk);
    this.early = [];
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.finish = { resolve, reject };
    });
  }

  resume(): void {
    this.controller?.resume();
  }
}

const asError = (reason: unknown) => (reason instanceof Error ? reason : new Error(String(reason)));

/** A keep-alive connection pool to the Anthropic API (or the simulator). */
export class UpstreamClient {
  private readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    options: { connections: number; timeoutMs: number },
  ) {
    const url = new URL(baseUrl);
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Resolves when the answer's head has arrived; rejects when there is no answer. */
  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(request.signal, { resolve, reject });
      this.pool.dispatch(
        { method: request.method, path: request.path, headers: request.headers, body: request.body },
        exchange,
      );
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
