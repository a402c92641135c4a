import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { createLogger } from '../../src/server/logger.js';
import { gatewayPlugins } from '../../src/server/plugins.js';
import type { Simulator } from '../../src/simulator/index.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';

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
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-batches-'));
  writeFileSync(join(cwd, 'sluice.yaml'), stringifyYaml({ batches: { pollMs: 50, leaseMs: 5000 }, ...yaml }));
  const loaded = loadConfig({
    cwd,
    env: {
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: simulator.url,
      SLUICE_DATABASE_URL: databaseUrl,
      SLUICE_ADMIN_TOKEN: 'admin-token-for-tests-0123456789',
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const gateway = await startGateway({
    loaded,
    logger: createLogger('info', sink),
    plugins: (core) => gatewayPlugins(core),
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
