import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/schema.js';
import {
  type Gateway,
  type GatewayCore,
  type GatewayPlugins,
  startGateway,
} from '../../src/server/gateway.js';
import { createLogger } from '../../src/server/logger.js';
import { gatewayPlugins } from '../../src/server/plugins.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.js';

/** A real-shaped upstream key that only the simulator accepts. */
export const UPSTREAM_KEY = `sk-ant-api03-${'Sluice_test-upstream_key'.padEnd(93, 'x')}AA`;
/** The admin token every test gateway is started with. */
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

export interface Stack {
  simulator: Simulator;
  gateway: Gateway;
  /** A virtual key of the `production` environment. */
  key: string;
  /** Every log line the gateway wrote. */
  logs: string[];
  sdk(options?: ConstructorParameters<typeof Anthropic>[0]): Anthropic;
  close(): Promise<void>;
}

export interface StackOptions {
  simulator?: SimulatorOptions;
  /** Extra environment variables and sluice.yaml content (as an object, written to a file) for the gateway. */
  env?: Record<string, string>;
  yaml?: Record<string, unknown>;
  /** Use only these plugins instead of the full set. */
  plugins?: GatewayPlugins;
  databaseUrl?: string;
  /** How long close() waits for calls in flight before cutting them. */
  drainMs?: number;
  /** The virtual key's name (two stacks on one database need two). */
  keyName?: string;
}

export interface TestGatewayOptions {
  upstreamUrl: string;
  /** Default: SQLite in memory. */
  databaseUrl?: string;
  /** Extra environment variables and sluice.yaml content (as an object, written to a file). */
  env?: Record<string, string>;
  yaml?: Record<string, unknown>;
  /** Default: every plugin, as `sluice serve` runs it. */
  plugins?: (core: GatewayCore) => Promise<GatewayPlugins> | GatewayPlugins;
  drainMs?: number;
  /** Changes to the upstream retry settings (e.g. short delays, or one attempt so 429s show). */
  retry?: Partial<LoadedConfig['config']['upstream']['retry']>;
}

/** A gateway on a free port in front of `upstreamUrl`, with the admin API on; its log lines collected. */
export async function startTestGateway(
  options: TestGatewayOptions,
): Promise<{ gateway: Gateway; logs: string[] }> {
  const cwd = mkdtempSync(join(tmpdir(), 'sluice-gateway-'));
  if (options.yaml) writeFileSync(join(cwd, 'sluice.yaml'), stringifyYaml(options.yaml));
  const loaded = loadConfig({
    cwd,
    env: {
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: options.upstreamUrl,
      SLUICE_DATABASE_URL: options.databaseUrl ?? 'sqlite::memory:',
      SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
      ...options.env,
    },
    requireUpstreamKey: true,
  });
  loaded.config.server.port = 0;
  loaded.config.upstream.retry = { ...loaded.config.upstream.retry, ...options.retry };
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
    plugins: options.plugins ?? ((core) => gatewayPlugins(core)),
    drainMs: options.drainMs,
  });
  return { gateway, logs };
}

/** The simulator, a gateway in front of it (SQLite in memory), and one virtual key. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], ...options.simulator });
  const { gateway, logs } = await startTestGateway({
    upstreamUrl: simulator.url,
    databaseUrl: options.databaseUrl,
    env: options.env,
    yaml: options.yaml,
    plugins: options.plugins ? () => options.plugins! : undefined,
    drainMs: options.drainMs,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const { key } = await gateway.keys.create({
    name: options.keyName ?? 'prod-backend-v1',
    environment: 'production',
  });
  return {
    simulator,
    gateway,
    key,
    logs,
    sdk: (sdkOptions) => new Anthropic({ apiKey: key, baseURL: gateway.url, maxRetries: 0, ...sdkOptions }),
    async close() {
      await gateway.close();
      await simulator.close();
    },
  };
}
