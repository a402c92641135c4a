import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, vi } from 'vitest';
import { run } from '../../src/cli/index.js';

/**
 * A working directory and a clean environment for in-process `sluice …` commands, as a user has
 * them: ANTHROPIC_* and SLUICE_* variables removed (the run id kept), the store a SQLite file
 * there, plus `env`. Restored after the suite.
 */
export function cliWorkspace(
  prefix: string,
  env: Record<string, string> = {},
): { dir: string; databaseUrl: string } {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${prefix}-`));
  const databaseUrl = `sqlite:${join(dir, 'sluice.db')}`;
  const saved = { cwd: process.cwd(), env: { ...process.env } };
  beforeAll(() => {
    process.chdir(dir);
    for (const name of Object.keys(process.env))
      if (/^(ANTHROPIC_|SLUICE_)/.test(name) && name !== 'SLUICE_TEST_RUN_ID') delete process.env[name];
    Object.assign(process.env, { SLUICE_DATABASE_URL: databaseUrl, ...env });
  });
  afterAll(() => {
    process.chdir(saved.cwd);
    process.env = saved.env;
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, databaseUrl };
}

/** Runs `sluice …` in-process: its exit code (commander's or the one a command set), output, and the error main.ts would print. */
export async function cli(
  ...args: string[]
): Promise<{ code?: number; out: string; err: string; error?: Error }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => !!out.push(String(chunk)));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => !!err.push(String(chunk)));
  const log = vi.spyOn(console, 'log').mockImplementation((line) => void out.push(`${line}\n`));
  try {
    const code = await run(['node', 'sluice', ...args]);
    // A command that sets process.exitCode itself (keys) is read here, and the test process's reset.
    const set = process.exitCode === undefined ? undefined : Number(process.exitCode);
    process.exitCode = undefined;
    return { code: code ?? set, out: out.join(''), err: err.join('') };
  } catch (error) {
    process.exitCode = undefined;
    return { out: out.join(''), err: err.join(''), error: error as Error };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    log.mockRestore();
  }
}
