import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import { installHook } from '../../src/secrets/hooks.js';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { fakeKey } from '../fixtures/secrets/fixture.js';
import { memoryIo } from '../secrets/memory-io.js';

const goodKey = fakeKey('api', 'doctor-good');
let simulator: Simulator;
let dir: string;

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, apiKeys: [goodKey], tier: 'start' });
});
afterAll(() => simulator.close());

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-doctor-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir });
  git('init', '-q');
  writeFileSync(join(dir, '.gitignore'), '.env\n.env.*\n!.env.example\n');
  await installHook(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeEnv(values: Record<string, string>): void {
  const lines = Object.entries(values).map(([name, value]) => `${name}=${value}`);
  writeFileSync(join(dir, '.env'), `${lines.join('\n')}\n`);
}

const goodSetup = () => ({
  ANTHROPIC_AUTH_TOKEN: goodKey,
  SLUICE_UPSTREAM_URL: simulator.url,
  ANTHROPIC_DEFAULT_MODEL: 'claude-haiku-4-5',
  ANTHROPIC_MAX_TOKENS: '1024',
  ANTHROPIC_TIMEOUT_MS: '30000',
});

async function doctor(): Promise<{
  code: number;
  out: string;
  checks: Array<{ name: string; status: string; message: string }>;
}> {
  const text = memoryIo(dir, {});
  const code = await runDoctor({}, text);
  const json = memoryIo(dir, {});
  await runDoctor({ json: true }, json);
  return { code, out: text.out(), checks: JSON.parse(json.out()).checks };
}

describe('sluice doctor against the simulator', () => {
  it('passes on a good set-up and reports latency, rate-limit headers and the implied tier', async () => {
    writeEnv(goodSetup());
    const { code, out, checks } = await doctor();
    expect(checks.filter((check) => check.status !== 'pass')).toEqual([]);
    expect(code).toBe(0);
    expect(out).toMatch(/PASS {2}connection +claude-[a-z0-9-]+ answered in \d+ ms/);
    expect(out).toMatch(
      /PASS {2}rate limits +remaining\/limit per minute: requests \d+\/1000, input tokens \d+\/2000000/,
    );
    expect(out).toContain('implies start for haiku-5-5 models');
    expect(out).toContain(`sk-ant-api03-…${goodKey.slice(-4)}`);
    expect(out).not.toContain(goodKey);
  });

  it('fails on a missing key with its own message', async () => {
    const { ANTHROPIC_AUTH_TOKEN: _, ...rest } = goodSetup();
    writeEnv(rest);
    const { code, out } = await doctor();
    expect(code).toBe(1);
    expect(out).toContain('FAIL  API key');
    expect(out).toContain('no Anthropic key: neither ANTHROPIC_AUTH_TOKEN nor ANTHROPIC_API_KEY is set');
  });

  it('fails on a malformed key (truncated copy) and on the .env.example placeholder', async () => {
    writeEnv({ ...goodSetup(), ANTHROPIC_AUTH_TOKEN: goodKey.slice(0, 80) });
    let result = await doctor();
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      'ANTHROPIC_AUTH_TOKEN is malformed: it is truncated or has extra characters',
    );
    expect(result.out).toContain('this value has 80');
    expect(result.out).not.toContain(goodKey.slice(20, 80));

    writeEnv({ ...goodSetup(), ANTHROPIC_AUTH_TOKEN: 'sk-ant-api03-<REPLACE_WITH_KEY>' });
    result = await doctor();
    expect(result.code).toBe(1);
    expect(result.out).toContain('still holds the placeholder from .env.example');
  });

  it('fails on an unreachable upstream', async () => {
    const closed = await startSimulator({ port: 0 });
    const url = closed.url;
    await closed.close();
    writeEnv({ ...goodSetup(), SLUICE_UPSTREAM_URL: url });
    const { code, out } = await doctor();
    expect(code).toBe(1);
    expect(out).toContain(`FAIL  connection`);
    expect(out).toContain(`upstream unreachable: ${url} (ECONNREFUSED)`);
  });

  it('fails on a key the upstream rejects with 401', async () => {
    writeEnv({ ...goodSetup(), ANTHROPIC_AUTH_TOKEN: fakeKey('api', 'doctor-revoked') });
    const { code, out } = await doctor();
    expect(code).toBe(1);
    expect(out).toContain('the upstream rejected ANTHROPIC_AUTH_TOKEN (401 authentication_error');
    expect(out).toContain('create a new key in the Anthropic Console');
  });

  it('fails when .env is not ignored, warns without the hook, and flags deprecated or unknown models', async () => {
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n');
    execFileSync('git', ['config', 'core.hooksPath', '.nohooks'], { cwd: dir });
    writeEnv({
      ...goodSetup(),
      ANTHROPIC_REASONING_MODEL: 'claude-sonnet-4-5',
      ANTHROPIC_CRITICAL_MODEL: 'claude-opus-9',
      ANTHROPIC_MAX_TOKENS: 'lots',
    });
    const { code, checks } = await doctor();
    expect(code).toBe(1);
    const byName = Object.fromEntries(checks.map((check) => [check.name, check]));
    expect(byName['.env ignored']).toMatchObject({ status: 'fail' });
    expect(byName['pre-commit hook']).toMatchObject({ status: 'warn' });
    expect(byName.ANTHROPIC_REASONING_MODEL).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('2026-11-30'),
    });
    expect(byName.ANTHROPIC_CRITICAL_MODEL).toMatchObject({
      status: 'fail',
      message: 'unknown model "claude-opus-9"',
    });
    expect(byName.ANTHROPIC_MAX_TOKENS).toMatchObject({ status: 'fail' });
  });
});
