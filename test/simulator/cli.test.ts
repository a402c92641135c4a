import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { toSimulatorOptions } from '../../src/cli/simulate.js';
import { apiHeaders, userMessage } from './helpers.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const entry = `
import { Command } from 'commander';
import { register } from './src/cli/simulate.ts';
const program = new Command('sluice');
register(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function startCli(args: string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', entry, 'simulate', ...args],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    if (out.includes('\n')) return out.split('\n')[0]!;
  }
  throw new Error('no output');
}

describe('sluice simulate', () => {
  it('prints its URL, serves with the given limits and keys, and stops on SIGTERM', async () => {
    const key = 'sk-ant-api03-cli-test-key';
    const child = startCli([
      '--port',
      '0',
      '--rpm',
      '2',
      '--itpm',
      '100000',
      '--otpm',
      '100000',
      '--api-key',
      key,
    ]);
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const url = await firstLine(child);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const post = () =>
      fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { ...apiHeaders, 'x-api-key': key },
        body: JSON.stringify(userMessage('cli')),
      }).then((r) => r.status);
    expect([await post(), await post(), await post()]).toEqual([200, 200, 429]);
    const wrongKey = await fetch(`${url}/v1/models`, { headers: apiHeaders });
    expect(wrongKey.status).toBe(401);
    expect(stderr).not.toContain(key);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});

describe('simulate flags', () => {
  const base = { port: 0, host: '127.0.0.1', apiKey: [], latency: 'none' };
  it('turns flags into simulator options', () => {
    expect(
      toSimulatorOptions({ ...base, tier: 'build', spendCap: 5, seed: 3, latency: 'realistic' }),
    ).toMatchObject({
      tier: 'build',
      limits: undefined,
      monthlySpendCapUsd: 5,
      seed: 3,
      latency: 'realistic',
      apiKeys: undefined,
      roundRateLimitHeaders: true,
    });
    expect(toSimulatorOptions({ ...base, rpm: 1, itpm: 2, otpm: 3, exactHeaders: true })).toMatchObject({
      limits: { rpm: 1, itpm: 2, otpm: 3 },
      roundRateLimitHeaders: false,
    });
    expect(toSimulatorOptions({ ...base, workspaceGeo: 'us' }).workspaceGeo).toBe('us');
    expect(toSimulatorOptions(base).workspaceGeo).toBeUndefined();
  });

  it('rejects incomplete or conflicting limits and unknown latency profiles', () => {
    expect(() => toSimulatorOptions({ ...base, rpm: 5 })).toThrow('--rpm, --itpm and --otpm go together');
    expect(() => toSimulatorOptions({ ...base, tier: 'start', rpm: 1, itpm: 1, otpm: 1 })).toThrow(
      /either --tier/,
    );
    expect(() => toSimulatorOptions({ ...base, latency: 'slow' })).toThrow(/--latency/);
  });
});
