import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runInit } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { budgetsConfigSchema } from '../../src/ledger/budget-config.js';
import { limitsConfigSchema } from '../../src/limits/config.js';
import { routingConfigSchema } from '../../src/routing/config.js';
import { isHookInstalled } from '../../src/secrets/hooks.js';
import { scan } from '../../src/secrets/scan.js';
import { memoryIo } from '../secrets/memory-io.js';

let dir: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-init-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice init', () => {
  it('writes the example files and makes git ignore .env files but not .env.example', async () => {
    git('init', '-q');
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n.env\n');
    expect(await runInit({ hooks: false }, memoryIo(dir))).toBe(0);
    expect(read('.gitignore')).toBe(
      'node_modules/\n.env\n\n# Local secrets (sluice init)\n.env.*\n!.env.example\n',
    );
    for (const name of ['.env', '.env.local', '.env.production']) {
      writeFileSync(join(dir, name), 'X=1\n');
      expect(git('check-ignore', name).trim()).toBe(name);
    }
    expect(() => git('check-ignore', '.env.example')).toThrow();
    // Running again adds nothing.
    await runInit({ hooks: false }, memoryIo(dir));
    expect(read('.gitignore').match(/\.env\.\*/g)).toHaveLength(1);
    // And the scanner is content: placeholders only, every .env file ignored.
    expect((await scan({ cwd: dir })).findings).toEqual([]);
  });

  it('writes a .env.example with the seed’s variables as placeholders, which the configuration loader accepts', async () => {
    await runInit({ hooks: false }, memoryIo(dir));
    const example = read('.env.example');
    for (const name of [
      'ANTHROPIC_AUTH_TOKEN=sk-ant-api03-<REPLACE_WITH_KEY>',
      'ANTHROPIC_DEFAULT_MODEL=',
      'ANTHROPIC_MAX_TOKENS=1024',
      'ANTHROPIC_TIMEOUT_MS=30000',
      'SLUICE_UPSTREAM_URL=https://api.anthropic.com',
      'SLUICE_DATABASE_URL=',
      'SLUICE_ADMIN_TOKEN=',
    ]) {
      expect(example).toContain(name);
    }
    copyFileSync(join(dir, '.env.example'), join(dir, '.env'));
    const loaded = loadConfig({ cwd: dir, env: {} });
    expect(loaded.config.maxTokens).toBe(1024);
    expect(loaded.config.environments.production).toEqual({ keyEnv: 'ANTHROPIC_KEY_PRODUCTION' });
  });

  it('writes a sluice.yaml that every section’s schema accepts, naming key variables, never keys', async () => {
    await runInit({ hooks: false }, memoryIo(dir));
    const text = read('sluice.yaml');
    const document = parse(text);
    expect(configSchema.safeParse(document).success).toBe(true);
    expect(limitsConfigSchema.parse(document.limits).tier).toBe('evaluation');
    expect(routingConfigSchema.parse(document.routing).rules).toHaveLength(1);
    expect(budgetsConfigSchema.parse(document.budgets).limits).toHaveLength(2);
    expect(text).not.toMatch(/sk-ant-/);
    expect(text.match(/^\s*#/gm)!.length).toBeGreaterThan(10);
  });

  it('never overwrites a file without --force', async () => {
    writeFileSync(join(dir, 'sluice.yaml'), 'upstream:\n  url: http://127.0.0.1:9\n');
    const io = memoryIo(dir);
    await runInit({ hooks: false }, io);
    expect(read('sluice.yaml')).toBe('upstream:\n  url: http://127.0.0.1:9\n');
    expect(io.out()).toContain('kept     sluice.yaml (exists; --force overwrites it)');
    await runInit({ hooks: false, force: true }, memoryIo(dir));
    expect(read('sluice.yaml')).toContain('keyEnv: ANTHROPIC_KEY_PRODUCTION');
  });

  it('installs the hook with --hooks, asks only on a terminal, and skips it outside git', async () => {
    const outside = memoryIo(dir);
    await runInit({ hooks: true }, outside);
    expect(outside.out()).toContain('not a git repository');

    git('init', '-q');
    const questions: string[] = [];
    const declined = {
      ...memoryIo(dir),
      confirm: async (question: string) => {
        questions.push(question);
        return false;
      },
    };
    await runInit({}, declined);
    expect(questions).toHaveLength(1);
    expect(await isHookInstalled(dir)).toBe(false);

    // No terminal (no confirm): no question and no hook.
    await runInit({}, memoryIo(dir));
    expect(await isHookInstalled(dir)).toBe(false);

    const accepted = { ...memoryIo(dir), confirm: async () => true };
    await runInit({}, accepted);
    expect(await isHookInstalled(dir)).toBe(true);
    await runInit({ hooks: true }, memoryIo(dir));
    expect(await isHookInstalled(dir)).toBe(true);
  });
});
