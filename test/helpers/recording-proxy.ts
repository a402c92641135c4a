import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';

/** One request as it crossed the proxy: the headers as sent (names lower-cased) and the body bytes. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  /** Sends what follows to another target (a proxy started before its target). */
  retarget(target: string): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` that records every request's bytes and passes requests and
 * responses (streams included) through unchanged.
 */
export async function startRecordingProxy(target = 'http://127.0.0.1:9'): Promise<RecordingProxy> {
  let to = new URL(target);
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
      const upstream = request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    retarget: (next) => {
      to = new URL(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
