import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
// Resolved from the project, since the command runs in a temporary folder.
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const cwd = mkdtempSync(join(tmpdir(), 'sluice-serve-'));

function sluice(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', tsx, main, ...args], {
    cwd,
    env: { PATH: process.env.PATH!, SLUICE_DATABASE_URL: `sqlite:${join(cwd, 'sluice.db')}`, ...env },
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return Object.assign(child, { output: () => output });
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));

let simulator: Simulator;
beforeAll(async () => {
  simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY] });
});
afterAll(() => simulator.close());

describe('sluice serve', () => {
  it('refuses to start without an upstream key, saying how to fix it', async () => {
    const child = sluice(['serve', '--port', '0'], {});
    expect(await exited(child)).toBe(2);
    expect(child.output()).toMatch(
      /ANTHROPIC_AUTH_TOKEN: no upstream Anthropic key is set\. Fix: export ANTHROPIC_AUTH_TOKEN=/,
    );
  });

  // Six CLI processes, each compiled by tsx as it starts: slow on a busy machine.
  it('serves a key made by `sluice keys create --json`, and drains on SIGTERM', async () => {
    const env = { ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY, SLUICE_UPSTREAM_URL: simulator.url };
    const create = sluice(
      ['keys', 'create', '--name', 'prod-backend-v1', '--env', 'production', '--json'],
      env,
    );
    expect(await exited(create)).toBe(0);
    const { key, hint } = JSON.parse(create.output());
    expect(key).toMatch(/^sk-sluice-/);
    expect(hint).toBe(`sk-sluice-…${key.slice(-4)}`);

    // The name may also be given as the argument, with quotas (as `keys create|update NAME --rpm …`).
    const second = sluice(
      ['keys', 'create', 'ci-runner-main', '--env', 'ci', '--rpm', '5', '--tpd', '100000', '--json'],
      env,
    );
    expect(await exited(second)).toBe(0);
    expect(JSON.parse(second.output())).toMatchObject({
      name: 'ci-runner-main',
      environment: 'ci',
      rpm: 5,
      tpd: 100000,
    });
    const update = sluice(['keys', 'update', 'ci-runner-main', '--tpm', '20000', '--json'], env);
    expect(await exited(update)).toBe(0);
    expect(JSON.parse(update.output())).toMatchObject({ rpm: 5, tpm: 20000 });

    const list = sluice(['keys', 'list'], env);
    expect(await exited(list)).toBe(0);
    expect(list.output()).toContain('prod-backend-v1');
    expect(list.output()).not.toContain(key);

    // One process: its gateway runs in a thread of its own, which SIGTERM reaches through the main thread
    // (several workers drain as test/cluster/serve-workers.test.ts shows).
    const server = sluice(['serve', '--port', '0', '--workers', '1'], env);
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(server.output());
        if (match) resolve(match[1]!);
      });
      server.once('exit', () => reject(new Error(server.output())));
    });
    const client = new Anthropic({ apiKey: key, baseURL: url, maxRetries: 0 });
    simulator.faults.script([{ kind: 'delay', ms: 600 }]);
    const slow = client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    server.kill('SIGTERM');
    // The request in flight when SIGTERM arrived still gets its answer.
    expect((await slow).type).toBe('message');
    const code = await exited(server);
    if (code !== 0) console.log(server.output());
    expect(code).toBe(0);
    expect(server.output()).not.toContain(UPSTREAM_KEY);
    expect(server.output()).not.toContain(key);
  }, 120_000); // six CLI processes, each compiling TypeScript on start
});
