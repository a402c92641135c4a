import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An alert as Sluice posts it to a webhook. */
export interface Alert {
  /** The payload's version (1). */
  version: number;
  text: string;
  alert: Record<string, unknown>;
}

/** A webhook endpoint on a free port that keeps every JSON body posted to it, in order. */
export async function webhookReceiver(): Promise<{ url: string; alerts: Alert[]; close(): Promise<void> }> {
  const alerts: Alert[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    alerts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
