import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../src/cli/index.js';
import { loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { routingFor } from '../src/routing/from-config.js';
import { resolveRoute } from '../src/routing/resolve.js';
import { scan } from '../src/secrets/scan.js';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const DOC_PAGES = [
  'configuration',
  'keys-and-environments',
  'limits',
  'rate-limit-pools',
  'catalog',
  'money-and-budgets',
  'routing',
  'endpoints',
  'batches',
  'scanning',
  'simulator',
  'simulator-fidelity',
  'operations-and-deployment',
  'observability',
  'dashboard',
  'faults',
  'change-feed',
  'benchmarks',
  'claude-code',
].map((name) => `docs/${name}.md`);
const pages = ['README.md', ...DOC_PAGES];

/** Fenced code blocks of a page, with their language. */
function codeBlocks(text: string): Array<{ lang: string; code: string }> {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('README and docs', () => {
  it('keeps the README a front door: short, with the two commands, a tour, and a link to every page', () => {
    expect(readme.split('\n').length).toBeLessThan(200);
    expect(readme).toContain('npm install && npm run demo');
    expect(readme).toContain('npm test');
    expect(readme).toMatch(/^## A five-minute tour$/m);
    for (const page of DOC_PAGES) expect(readme, page).toContain(`](${page})`);
    expect(readdirSync(join(root, 'docs')).sort()).toEqual(DOC_PAGES.map((p) => p.slice(5)).sort());
  });

  it('links only to files and headings that exist', () => {
    for (const page of pages) {
      const text = read(page);
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^https?:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const file = path ? join(root, dirname(page), path) : join(root, page);
        expect(existsSync(file), `${page} → ${target}`).toBe(true);
        if (anchor) {
          const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) =>
            anchorOf(m[1]!),
          );
          expect(headings, `${page} → ${target}`).toContain(anchor);
        }
      }
    }
  });

  it('speaks of the project only: no internal jargon', () => {
    for (const page of pages) expect(read(page), page).not.toMatch(/seed article|\bthe seed\b/i);
  });

  it('lists every sluice subcommand that exists, and only those', async () => {
    const program = await buildProgram();
    const registered = program.commands.map((c) => c.name()).sort();
    const table = readme.slice(readme.indexOf('## Commands'), readme.indexOf('### As a library'));
    const documented = [...table.matchAll(/^\| `sluice (\w+)/gm)].map((m) => m[1]!).sort();
    expect([...new Set(documented)]).toEqual(registered);
  });

  it('names only npm scripts that package.json has', () => {
    const scripts = JSON.parse(read('package.json')).scripts;
    for (const page of pages) {
      for (const script of [...read(page).matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!)) {
        expect(scripts, `${page}: npm run ${script}`).toHaveProperty([script]);
      }
    }
  });

  it('shows sluice commands with options those commands have', async () => {
    const program = await buildProgram();
    const optionsOf = (command: Command) => [
      '--help',
      ...command.options.flatMap((option) => [option.long, option.short].filter((f): f is string => !!f)),
    ];
    let checked = 0;
    for (const page of pages) {
      for (const { lang, code } of codeBlocks(read(page))) {
        if (!['sh', 'bash', ''].includes(lang)) continue;
        for (const line of code.split('\n')) {
          const match = /^(?:\$ )?(?:npx )?sluice ([a-z]+)(?: ([a-z][a-z-]*))?(.*)$/.exec(line.trim());
          if (!match) continue;
          let command = program.commands.find((c) => c.name() === match[1]);
          expect(command, `${page}: ${line}`).toBeDefined();
          let rest = match[3]!;
          const sub = command!.commands.find((c) => c.name() === match[2]);
          if (sub) command = sub;
          else rest = `${match[2] ?? ''}${rest}`;
          // Flags up to a comment, a pipe or a redirection.
          const flags = rest.split(/\s#|\||>/)[0]!.match(/(?<=\s|^|\[)--?[a-zA-Z][\w-]*/g) ?? [];
          for (const flag of flags) expect(optionsOf(command!), `${page}: ${line}`).toContain(flag);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('shows sluice.yaml excerpts that the configuration schema accepts', () => {
    const sections = Object.keys(configSchema.shape);
    let checked = 0;
    for (const page of pages) {
      for (const { lang, code } of codeBlocks(read(page))) {
        if (lang !== 'yaml') continue;
        const document = parseYaml(code) as unknown;
        if (typeof document !== 'object' || document === null || Array.isArray(document)) continue;
        // Other tools' files (lefthook, pre-commit, CI) have keys of their own.
        if (!Object.keys(document).every((key) => sections.includes(key))) continue;
        const result = configSchema.safeParse(document);
        expect(result.error?.issues, `${page}:\n${code}`).toBeUndefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('shows, in docs/configuration.md, a whole sluice.yaml that the loader accepts', () => {
    const yaml = codeBlocks(read('docs/configuration.md')).find((b) => b.lang === 'yaml')!.code;
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
    writeFileSync(join(cwd, 'sluice.yaml'), yaml);
    const { config } = loadConfig({ cwd, env: {} });
    expect(config.upstream.fallback['claude-opus-4-8']).toEqual(['claude-sonnet-4-6']);
    expect(config.environments.production?.keyEnv).toBe('ANTHROPIC_KEY_PRODUCTION');
  });

  it('shows a sluice route example whose 403 the routing configuration above it produces', () => {
    const text = read('docs/routing.md');
    expect(text).toContain('sluice route --model sluice-critical --key ci-runner');
    const yaml = codeBlocks(text).find((b) => b.lang === 'yaml' && b.code.includes('"ci-*"'))!.code;
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-docs-'));
    writeFileSync(join(cwd, 'sluice.yaml'), yaml);
    const routing = routingFor(loadConfig({ cwd, env: {} }).config);
    const request = (keyName: string) =>
      resolveRoute(
        {
          body: {
            model: 'sluice-critical',
            max_tokens: 1024,
            messages: [{ role: 'user', content: 'hello' }],
          },
          headers: {},
          keyName,
          environment: 'ci',
        },
        routing,
      );
    expect(request('ci-runner')).toMatchObject({ kind: 'refused', status: 403 });
    expect(request('dev-laptop-app')).toMatchObject({ tier: 'critical' });
  });

  it('passes its own scan: no key, and no variable name in prose taken for an exposure', async () => {
    const result = await scan({ cwd: root, paths: pages, git: false });
    expect(result.findings).toEqual([]);
    // The scanning page names such a variable in prose (the name is put together here for the same reason).
    expect(read('docs/scanning.md')).toContain(['NEXT', 'PUBLIC', 'ANTHROPIC', 'API', 'KEY'].join('_'));
  });

  it('leaves the whole checkout clean for `sluice scan`, run from its top level', async () => {
    const result = await scan({ cwd: root });
    expect(result.findings).toEqual([]);
    expect(result.files).toBeGreaterThan(200);
  });
});
