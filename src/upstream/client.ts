import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import type { CallSignal } from '../pipeline/signal.js';

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Buffer> & { dump(): Promise<void>; arrayBuffer(): Promise<ArrayBuffer> };
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  signal?: CallSignal;
}

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

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const response = await this.pool.request({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    return {
      status: response.statusCode,
      headers: response.headers as IncomingHttpHeaders,
      body: response.body as unknown as UpstreamResponse['body'],
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
