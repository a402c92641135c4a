import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-route-cli-'));
const saved = { cwd: process.cwd(), env: { ...process.env } };

beforeAll(() => {
  process.chdir(dir);
  for (const name of Object.keys(process.env))
    if (/^(ANTHROPIC_|SLUICE_)/.test(name) && name !== 'SLUICE_TEST_RUN_ID') delete process.env[name];
  process.env.SLUICE_DATABASE_URL = `sqlite:${join(dir, 'sluice.db')}`;
});
afterAll(() => {
  process.chdir(saved.cwd);
  process.env = saved.env;
  rmSync(dir, { recursive: true, force: true });
});

async function route(...args: string[]): Promise<string> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line) => void out.push(`${line}\n`));
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => !!out.push(String(chunk)));
  try {
    await run(['node', 'sluice', 'route', ...args]);
    process.exitCode = undefined;
    return out.join('');
  } finally {
    log.mockRestore();
    stdout.mockRestore();
  }
}

describe('sluice route', () => {
  it('shows the confidence and who decided, in text, JSON and the header', async () => {
    writeFileSync(join(dir, 'sluice.yaml'), 'routing:\n  confidence: { threshold: 0 }\n');
    const text = await route('Implement a binary search tree in Rust with insert and delete.');
    expect(text).toMatch(/^confidence: 0\.\d\d|^confidence: 1\.00/m);
    expect(text).toMatch(/^decided: model$/m);
    expect(text).toMatch(
      /x-sluice-route: tier=reasoning; score=\d\.\d\d; by=classifier; confidence=\d\.\d\d; decided=model;/,
    );
    const json = JSON.parse(await route('--json', 'hello'));
    expect(json).toMatchObject({ kind: 'routed', tier: 'fast', decided: 'model', needsJudge: false });
    expect(json.confidence).toBeGreaterThan(0);
  });

  it('says when the gateway would ask the judge, and that it sends nothing itself', async () => {
    writeFileSync(
      join(dir, 'sluice.yaml'),
      'routing:\n  confidence: { threshold: 1 }\n  judge: { enabled: true }\n',
    );
    const text = await route('hello');
    expect(text).toMatch(/^tier: {4}reasoning$/m);
    expect(text).toContain('decided: escalation (the gateway would ask the judge');
    expect(text).toContain('sluice route sends nothing');
  });
});
