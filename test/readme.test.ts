import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/index.js';
import { loadConfig } from '../src/config/load.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('shows a sluice.yaml that the configuration loader accepts', () => {
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## The gateway'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
    writeFileSync(join(cwd, 'sluice.yaml'), yaml!);
    const { config } = loadConfig({ cwd, env: {} });
    expect(config.upstream.fallback['claude-opus-4-8']).toEqual(['claude-sonnet-4-6']);
    expect(config.environments.production?.keyEnv).toBe('ANTHROPIC_KEY_PRODUCTION');
  });

  it('lists every sluice subcommand that exists, and only those', async () => {
    const program = await buildProgram();
    const registered = program.commands.map((c) => c.name()).sort();
    const table = readme.slice(readme.indexOf('## Commands'), readme.indexOf('## Configuration'));
    const documented = [...table.matchAll(/^\| `sluice (\w+)/gm)].map((m) => m[1]!).sort();
    expect([...new Set(documented)]).toEqual(registered);
  });

  it('names the two commands a newcomer needs, and package.json has them', () => {
    expect(readme).toContain('npm install && npm run demo');
    expect(readme).toContain('npm test');
    const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
    for (const script of [...readme.matchAll(/npm run ([\w:]+)/g)].map((m) => m[1]!)) {
      expect(scripts, script).toHaveProperty([script]);
    }
  });
});
