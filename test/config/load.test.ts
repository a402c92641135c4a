import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, upstreamKeyFor } from '../../src/config/load.js';

const goodKey = `sk-ant-api03-${'a'.repeat(93)}AA`;
const dir = () => mkdtempSync(join(tmpdir(), 'sluice-config-'));

describe('loadConfig', () => {
  it('reads the ANTHROPIC_* and SLUICE_* variables, with .env beneath the process environment', () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, '.env'),
      `ANTHROPIC_AUTH_TOKEN=${goodKey}\nANTHROPIC_MAX_TOKENS=2048\nANTHROPIC_ENV=staging\n`,
    );
    const loaded = loadConfig({
      cwd,
      env: {
        ANTHROPIC_MAX_TOKENS: '512',
        ANTHROPIC_TIMEOUT_MS: '30000',
        ANTHROPIC_DEFAULT_MODEL: 'claude-haiku-4-5',
      },
      requireUpstreamKey: true,
    });
    expect(loaded.config.maxTokens).toBe(512);
    expect(loaded.config.environment).toBe('staging');
    expect(loaded.config.upstream.timeoutMs).toBe(30000);
    expect(upstreamKeyFor(loaded, 'production')).toBe(goodKey);
    expect(loaded.warnings).toEqual([]);
  });

  it('names the environment variable that holds an invalid value, not the internal field', () => {
    const attempt = () => loadConfig({ cwd: dir(), env: { SLUICE_ADMIN_TOKEN: 'short' } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /^configuration: SLUICE_ADMIN_TOKEN: .*Fix: set SLUICE_ADMIN_TOKEN to at least 16 characters$/,
    );
    expect(attempt).not.toThrow(/admin\.token/);
  });

  it('refuses to start without an upstream key, naming the variable and the fix', () => {
    const error = (() => {
      try {
        loadConfig({ cwd: dir(), env: {}, requireUpstreamKey: true });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.field).toBe('ANTHROPIC_AUTH_TOKEN');
    expect(error?.message).toMatch(/export ANTHROPIC_AUTH_TOKEN=/);
  });

  it('accepts ANTHROPIC_API_KEY and warns about a key of the wrong shape without printing it', () => {
    const loaded = loadConfig({
      cwd: dir(),
      env: { ANTHROPIC_API_KEY: 'not-a-real-key-123456' },
      requireUpstreamKey: true,
    });
    expect(loaded.warnings.join('\n')).toMatch(/does not look like an Anthropic key/);
    expect(loaded.warnings.join('\n')).not.toContain('not-a-real-key-123456');
  });

  it('segments upstream keys by environment through variable names in sluice.yaml', () => {
    const cwd = dir();
    const prodKey = `sk-ant-api03-${'p'.repeat(93)}AA`;
    writeFileSync(
      join(cwd, 'sluice.yaml'),
      'environments:\n  production:\n    keyEnv: ANTHROPIC_KEY_PRODUCTION\n',
    );
    const loaded = loadConfig({
      cwd,
      env: { ANTHROPIC_AUTH_TOKEN: goodKey, ANTHROPIC_KEY_PRODUCTION: prodKey },
    });
    expect(upstreamKeyFor(loaded, 'production')).toBe(prodKey);
    expect(upstreamKeyFor(loaded, 'ci')).toBe(goodKey);
  });

  it('fails on invalid values with the field and the fix', () => {
    const cwd = dir();
    expect(() => loadConfig({ cwd, env: { ANTHROPIC_MAX_TOKENS: 'lots' } })).toThrow(
      /ANTHROPIC_MAX_TOKENS: "lots" is not a whole number/,
    );
    expect(() => loadConfig({ cwd, env: { ANTHROPIC_DEFAULT_MODEL: 'claude-4-turbo' } })).toThrow(
      /ANTHROPIC_DEFAULT_MODEL: unknown model "claude-4-turbo"/,
    );
    writeFileSync(join(cwd, 'sluice.yaml'), 'server:\n  port: "eighty"\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/server\.port: .*Fix:/);
    writeFileSync(join(cwd, 'sluice.yaml'), 'upstrem:\n  url: https://example.test\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(
      /\(top level\): .*upstrem.*Fix: remove or rename upstrem/,
    );
    writeFileSync(join(cwd, 'sluice.yaml'), 'server: [\n');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/not valid YAML/);
  });

  it('warns about a deprecated model with its retirement date', () => {
    const loaded = loadConfig({ cwd: dir(), env: { ANTHROPIC_REASONING_MODEL: 'claude-sonnet-4-5' } });
    expect(loaded.warnings.join('\n')).toMatch(/claude-sonnet-4-5 .*2026-11-30/);
  });
});

describe('changes section', () => {
  it('polls every 50 ms and refreshes every 30 s by default; the environment can change both', () => {
    const defaults = loadConfig({ cwd: dir(), env: {} });
    expect(defaults.config.changes).toEqual({ pollMs: 50, refreshMs: 30_000 });
    const set = loadConfig({
      cwd: dir(),
      env: { SLUICE_CHANGES_POLL_MS: '100', SLUICE_CHANGES_REFRESH_MS: '60000' },
    });
    expect(set.config.changes).toEqual({ pollMs: 100, refreshMs: 60_000 });
    // A poll slower than the one-second bound is refused.
    expect(() => loadConfig({ cwd: dir(), env: { SLUICE_CHANGES_POLL_MS: '5000' } })).toThrow(
      /SLUICE_CHANGES_POLL_MS: Too big/,
    );
  });
});
