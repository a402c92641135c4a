import Anthropic from '@anthropic-ai/sdk';
import type { Gateway } from '../../src/server/gateway.js';
import type { Simulator } from '../../src/simulator/index.js';
import { startTestGateway } from '../helpers/stack.js';

export interface TestGateway {
  gateway: Gateway;
  logs: string[];
  sdk(key: string): Anthropic;
  close(): Promise<void>;
}

/** A gateway in front of `simulator` on `databaseUrl`, its batch collector polling every `pollMs`. */
export async function startBatchGateway(
  simulator: Simulator,
  databaseUrl: string,
  yaml: Record<string, unknown> = {},
): Promise<TestGateway> {
  const { gateway, logs } = await startTestGateway({
    upstreamUrl: simulator.url,
    databaseUrl,
    yaml: { batches: { pollMs: 50, leaseMs: 5000 }, ...yaml },
  });
  return {
    gateway,
    logs,
    sdk: (key) => new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 0 }),
    close: () => gateway.close(),
  };
}

/** Waits until `check` returns a value other than undefined, polling every 25 ms. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function messageParams(i: number, model = 'claude-haiku-4-5') {
  return {
    model,
    max_tokens: 64,
    messages: [
      { role: 'user' as const, content: `Summarise item number ${i} of the inventory in one line.` },
    ],
  };
}
