import { request } from 'undici';

export interface WebhookOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

export interface WebhookResult {
  delivered: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

/**
 * POSTs a JSON alert, retrying connection errors, 429 and 5xx with exponential backoff and
 * jitter. Never throws: the result says whether it was delivered.
 */
export async function postWebhook(
  url: string,
  payload: unknown,
  options: WebhookOptions = {},
): Promise<WebhookResult> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 500;
  const body = JSON.stringify(payload);
  let last: WebhookResult = { delivered: false, attempts: 0 };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'sluice-alerts' },
        body,
        headersTimeout: options.timeoutMs ?? 5000,
        bodyTimeout: options.timeoutMs ?? 5000,
      });
      await response.body.dump();
      if (response.statusCode < 300)
        return { delivered: true, attempts: attempt, status: response.statusCode };
      last = { delivered: false, attempts: attempt, status: response.statusCode };
      if (response.statusCode !== 429 && response.statusCode < 500) return last;
    } catch (error) {
      last = { delivered: false, attempts: attempt, error: (error as Error).message };
    }
    if (attempt < attempts) {
      const delay =
        Math.min(base * 2 ** (attempt - 1), options.maxDelayMs ?? 30_000) * (0.75 + Math.random() * 0.25);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return last;
}
