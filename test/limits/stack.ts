import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LimitsConfig } from '../../src/limits/config.js';
import { createLimitsPlugin, type LimitsPlugin } from '../../src/limits/gateway-plugin.js';
import type { Gateway } from '../../src/server/gateway.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.js';
import { startTestGateway, UPSTREAM_KEY } from '../helpers/stack.js';

export interface LimitedGateway {
  gateway: Gateway;
  limits: LimitsPlugin;
  logs: string[];
}

export interface LimitsStack {
  simulator: Simulator;
  gateways: LimitedGateway[];
  close(): Promise<void>;
}

/**
 * One simulator and N gateways in front of it, each with the limits plugin and sharing one key
 * database (an SQLite file), so a virtual key works on every instance.
 */
export async function startLimitsStack(options: {
  simulator?: SimulatorOptions;
  limits: Partial<LimitsConfig>;
  instances?: number;
  /** SLUICE_TIER / SLUICE_RPM … as the gateway would read them from its environment. */
  env?: NodeJS.ProcessEnv;
}): Promise<LimitsStack> {
  const simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], ...options.simulator });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-limits-'));
  const gateways: LimitedGateway[] = [];
  for (let i = 0; i < (options.instances ?? 1); i++) {
    let limits: LimitsPlugin | undefined;
    const { gateway, logs } = await startTestGateway({
      upstreamUrl: simulator.url,
      databaseUrl: `sqlite:${join(dir, 'sluice.db')}`,
      // Retries would hide upstream 429s; these tests count them.
      retry: { maxAttempts: 1 },
      plugins: async (core) => {
        limits = await createLimitsPlugin({
          loaded: core.loaded,
          catalog: core.catalog,
          registry: core.metrics.registry,
          logger: core.logger,
          env: options.env ?? {},
          overrides: options.limits,
        });
        return {
          reservers: [limits.reserve],
          observe: limits.observe,
          adminRoutes: limits.adminRoutes,
          close: () => limits!.close(),
        };
      },
    });
    gateways.push({ gateway, limits: limits!, logs });
  }
  return {
    simulator,
    gateways,
    async close() {
      for (const g of gateways) await g.gateway.close();
      await simulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small Messages request; `words` sets the prompt size. */
export function messagesBody(model: string, words = 20, maxTokens = 64): string {
  return JSON.stringify({
    model,
    max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(Math.ceil(words / 5)) }],
  });
}

/** POSTs a Messages request to a gateway with a virtual key. */
export async function send(
  url: string,
  key: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': key,
      ...headers,
    },
    body,
  });
  await response.arrayBuffer();
  return response;
}
