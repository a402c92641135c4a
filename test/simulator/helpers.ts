import Anthropic from '@anthropic-ai/sdk';
import { afterEach } from 'vitest';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.js';

export const testKey = 'sk-ant-api03-simulator-test-key';
export const apiHeaders = {
  'x-api-key': testKey,
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
};

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

/** A simulator closed after the current test. */
export async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options);
  running.push(sim);
  return sim;
}

export function sdkClient(
  sim: Simulator,
  options: ConstructorParameters<typeof Anthropic>[0] = {},
): Anthropic {
  return new Anthropic({ apiKey: testKey, baseURL: sim.url, maxRetries: 0, ...options });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: response JSON, checked by the assertions
  json: any;
}

/** A request with the usual headers (overridable), the body sent as given or as JSON. */
export async function send(
  sim: Simulator,
  path: string,
  body?: unknown,
  init: { method?: string; headers?: Record<string, string | undefined> } = {},
): Promise<RawResponse> {
  const headers = Object.fromEntries(
    Object.entries({ ...apiHeaders, ...init.headers }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const response = await fetch(`${sim.url}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: response JSON, checked by the assertions
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function userMessage(text: string, extra: Record<string, unknown> = {}) {
  return {
    model: 'claude-haiku-4-5',
    max_tokens: 256,
    messages: [{ role: 'user', content: text }],
    ...extra,
  };
}

/** English-like text of about `words` words. */
export function longText(words: number): string {
  const vocabulary = ['simulation', 'gateway', 'request', 'token', 'budget', 'routing', 'cache', 'limit'];
  return Array.from({ length: words }, (_, i) => vocabulary[i % vocabulary.length]).join(' ');
}
