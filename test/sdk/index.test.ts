import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, gatewayPlugins, loadConfig, startGateway, startSimulator } from '../../src/sdk/index.js';

describe('library entry point', () => {
  it('runs the simulator and the gateway in-process, and prices like the gateway does', async () => {
    const upstreamKey = `sk-ant-api03-${'l'.repeat(93)}AA`;
    const simulator = await startSimulator({ apiKeys: [upstreamKey] });
    const loaded = loadConfig({
      cwd: mkdtempSync(join(tmpdir(), 'sluice-sdk-')),
      env: {
        ANTHROPIC_AUTH_TOKEN: upstreamKey,
        SLUICE_UPSTREAM_URL: simulator.url,
        SLUICE_DATABASE_URL: 'sqlite::memory:',
        // The request log line is the gateway's stdout; a test run keeps its own output clean.
        SLUICE_LOG_LEVEL: 'silent',
      },
      requireUpstreamKey: true,
    });
    loaded.config.server.port = 0;
    const gateway = await startGateway({ loaded, plugins: (core) => gatewayPlugins(core) });
    try {
      const { key } = await gateway.keys.create({ name: 'dev-embedded-app', environment: 'development' });
      const response = await fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-6',
          max_tokens: 30,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      expect(response.status).toBe(200);
      const message = (await response.json()) as { usage: Parameters<typeof costOf>[0] };
      const cost = costOf(message.usage, 'claude-sonnet-4-6', new Date());
      expect(cost.priced).toBe(true);
      const [whole, fraction = ''] = response.headers.get('x-sluice-cost-usd')!.split('.');
      expect(BigInt(whole!) * 10n ** 12n + BigInt(fraction.padEnd(12, '0'))).toBe(
        cost.priced ? cost.pico : -1n,
      );
    } finally {
      await gateway.close();
      await simulator.close();
    }
  });
});
