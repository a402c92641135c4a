import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog, catalogInForce } from '../../src/catalog/catalog.js';
import { runCatalogCheck } from '../../src/cli/catalog-check.js';
import { runCatalogUpdate } from '../../src/cli/catalog-update.js';
import { documentText, NEW_MODEL, newerDocument, shipped } from '../catalog/helpers.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';
import { memoryIo } from '../secrets/memory-io.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `sluice catalog update|check …` in this process (a spawned CLI costs seconds on a busy machine). */
async function sluice(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const io = memoryIo(cwd, env);
  const [command, sub, ...rest] = args;
  expect(command).toBe('catalog');
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i]!.replace(/^--/, '').replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
    const value = rest[i + 1];
    if (value !== undefined && !value.startsWith('--')) {
      flags[name] = value;
      i++;
    } else flags[name] = true;
  }
  const code = sub === 'update' ? await runCatalogUpdate(flags, io) : await runCatalogCheck(flags, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** The real command, spawned: option parsing and exit codes as a shell sees them. */
function spawnSluice(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, main, ...args], {
    cwd,
    env: { PATH: process.env.PATH!, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) =>
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
}

const newer = newerDocument();
const newerText = documentText(newer);
const older = { ...shipped(), version: '2025-01-01' };
const installedText = documentText(newerDocument(`${shipped().version}.2`));

/** One local server: catalogs under /catalogs/, and a fake upstream `GET /v1/models`. */
let server: Server;
let base: string;
let upstreamModels: Array<Record<string, unknown>> = [];
const modelRequests: IncomingMessage[] = [];
const PAGE = 5;

beforeAll(async () => {
  const catalogs: Record<string, string> = {
    '/catalogs/newer.json': newerText,
    '/catalogs/older.json': documentText(older as never),
    '/catalogs/malformed.json': newerText.replace('"schema": 2', '"schema": 3'),
    '/catalogs/truncated.json': newerText.slice(0, 500),
  };
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname in catalogs) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(catalogs[url.pathname]);
    }
    if (url.pathname === '/v1/models') {
      modelRequests.push(req);
      if (req.headers['x-api-key'] !== UPSTREAM_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            type: 'error',
            error: { type: 'authentication_error', message: 'invalid x-api-key' },
          }),
        );
      }
      // Pages smaller than asked for, as a server may answer: the client must follow after_id.
      const after = url.searchParams.get('after_id');
      const start = after ? upstreamModels.findIndex((m) => m.id === after) + 1 : 0;
      const page = upstreamModels.slice(
        start,
        start + Math.min(PAGE, Number(url.searchParams.get('limit') ?? 20)),
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          data: page,
          has_more: start + page.length < upstreamModels.length,
          first_id: page[0]?.id ?? null,
          last_id: page.at(-1)?.id ?? null,
        }),
      );
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const workdir = () => mkdtempSync(join(tmpdir(), 'sluice-catalog-cli-'));

describe('sluice catalog update', () => {
  it('without a source says how to give one, and exits 2', async () => {
    const run = await sluice(['catalog', 'update'], workdir());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no catalog source: give --from URL|FILE, or set catalog.updateUrl');
    expect(run.stderr).toContain('SLUICE_CATALOG_URL');
  });

  it('--dry-run shows the difference and installs nothing', async () => {
    const cwd = workdir();
    const run = await sluice(
      ['catalog', 'update', '--from', `${base}/catalogs/newer.json`, '--dry-run'],
      cwd,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Catalog ${shipped().version} → ${newer.version}`);
    expect(run.stdout).toMatch(new RegExp(`\\+ ${NEW_MODEL} \\(active, context 1,000,000`));
    expect(run.stdout).toContain(`+ ${NEW_MODEL} from 2026-01-01: input 1.00, output 2.00`);
    expect(run.stdout).toContain('Dry run: nothing installed');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('installs from the configured URL atomically, where the gateway reads it, byte for byte', async () => {
    const cwd = workdir();
    const run = await sluice(['catalog', 'update', '--json'], cwd, {
      SLUICE_CATALOG_URL: `${base}/catalogs/newer.json`,
    });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ installed: true, from: shipped().version, to: newer.version });
    expect(result.diff.models.added.map((m: { id: string }) => m.id)).toEqual([NEW_MODEL]);
    expect(result.diff.prices.added).toEqual([
      expect.objectContaining({ model: NEW_MODEL, from: '2026-01-01' }),
    ]);
    expect(result.diff.models.removed).toEqual([]);
    const file = join(cwd, 'sluice-catalog.json');
    expect(result.file).toBe(file);
    expect(readFileSync(file, 'utf8')).toBe(newerText);
    expect(readdirSync(cwd)).toEqual(['sluice-catalog.json']);

    // The catalog in force is now the installed one, for `sluice catalog` as for the gateway.
    expect(catalogInForce({ file }).version).toBe(newer.version);
    // Installing the same version again is refused: it is not newer.
    const again = await sluice(['catalog', 'update', '--from', `${base}/catalogs/newer.json`], cwd);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      `version ${newer.version} is not newer than the catalog in force (${newer.version})`,
    );
  });

  it('refuses a malformed, truncated or older catalog with the reason, keeping the installed file byte for byte', async () => {
    const cwd = workdir();
    const file = join(cwd, 'catalogs', 'installed.json');
    const env = { SLUICE_CATALOG_FILE: file };
    const installed = await sluice(
      ['catalog', 'update', '--from', writeSource(cwd, installedText)],
      cwd,
      env,
    );
    expect(installed.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(installedText);

    const malformed = await sluice(
      ['catalog', 'update', '--from', `${base}/catalogs/malformed.json`],
      cwd,
      env,
    );
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(
      /refused: .*malformed\.json: schema: .*; .*installed\.json left as it was/,
    );

    const truncated = await sluice(
      ['catalog', 'update', '--from', `${base}/catalogs/truncated.json`],
      cwd,
      env,
    );
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toContain('not JSON');

    // Older than the installed one (and than the shipped one).
    const old = await sluice(
      ['catalog', 'update', '--from', `${base}/catalogs/older.json`, '--json'],
      cwd,
      env,
    );
    expect(old.code).toBe(2);
    expect(JSON.parse(old.stdout)).toMatchObject({
      installed: false,
      error: expect.stringContaining('version 2025-01-01 is not newer than the catalog in force'),
    });

    const missing = await sluice(['catalog', 'update', '--from', `${base}/catalogs/nothing.json`], cwd, env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('answered 404');

    expect(readFileSync(file, 'utf8')).toBe(installedText);
    expect(readdirSync(join(cwd, 'catalogs'))).toEqual(['installed.json']);
  });
});

function writeSource(cwd: string, text: string): string {
  const path = join(cwd, 'source.json');
  writeFileSync(path, text);
  return path;
}

const asListed = (id: string, contextWindow: number, maxOutputTokens: number) => ({
  type: 'model',
  id,
  display_name: id,
  created_at: '2026-01-01T00:00:00Z',
  max_input_tokens: contextWindow,
  max_tokens: maxOutputTokens,
});

describe('sluice catalog check', () => {
  const catalog = new Catalog({}, shipped());
  const current = catalog.models.filter((m) => catalog.statusAt(m, new Date()) !== 'retired');
  const agreeing = () => current.map((m) => asListed(m.id, m.contextWindow, m.maxOutputTokens));
  const env = (extra: Record<string, string> = {}) => ({
    ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
    SLUICE_UPSTREAM_URL: base,
    // Current models, so only what a test changes is a finding.
    ANTHROPIC_DEFAULT_MODEL: 'claude-haiku-5-5',
    ANTHROPIC_REASONING_MODEL: 'claude-sonnet-5-5',
    ANTHROPIC_CRITICAL_MODEL: 'claude-opus-5-5',
    ...extra,
  });

  it('exits 0 when the upstream lists what the catalog says, reading every page', async () => {
    upstreamModels = agreeing();
    modelRequests.length = 0;
    const run = await sluice(['catalog', 'check'], workdir(), env());
    expect(run.stdout).toContain(`Catalog ${shipped().version} agrees with ${base}`);
    expect(run.code).toBe(0);
    expect(modelRequests.length).toBe(Math.ceil(current.length / PAGE));
    expect(modelRequests[1]!.url).toContain(`after_id=${current[PAGE - 1]!.id}`);
    expect(modelRequests.every((r) => r.headers['x-api-key'] === UPSTREAM_KEY)).toBe(true);
  });

  it('names a missing model, a differing limit, an unlisted model and a retired configured model; exits 1', async () => {
    const [first, second, ...rest] = agreeing();
    upstreamModels = [
      asListed('claude-opus-6', 2_000_000, 256_000),
      { ...first!, max_input_tokens: 2_000_000 },
      ...rest, // `second` is no longer listed
    ];
    const cwd = workdir();
    const run = await sluice(
      ['catalog', 'check', '--json'],
      cwd,
      env({ ANTHROPIC_CRITICAL_MODEL: 'claude-3-opus-20240229' }),
    );
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.missing).toEqual([
      { id: 'claude-opus-6', displayName: 'claude-opus-6', maxInputTokens: 2_000_000, maxTokens: 256_000 },
    ]);
    expect(report.limits).toEqual([
      { model: first!.id, field: 'contextWindow', catalog: current[0]!.contextWindow, upstream: 2_000_000 },
    ]);
    expect(report.unlisted).toEqual([second!.id]);
    expect(report.configured).toEqual([
      expect.objectContaining({
        setting: 'models.critical',
        model: 'claude-3-opus-20240229',
        status: 'retired',
      }),
    ]);

    const text = await sluice(
      ['catalog', 'check'],
      cwd,
      env({ ANTHROPIC_CRITICAL_MODEL: 'claude-3-opus-20240229' }),
    );
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('claude-opus-6 (claude-opus-6): context 2,000,000, max output 256,000');
    expect(text.stdout).toContain(`${first!.id}: context window (max_input_tokens) catalog`);
    expect(text.stdout).toContain('models.critical: claude-3-opus-20240229 is retired');
    expect(text.stdout + text.stderr).not.toContain(UPSTREAM_KEY);
  });

  it('exits 2 on an upstream error, without printing the key', async () => {
    const wrongKey = `sk-ant-api03-${'Wrong_key'.padEnd(93, 'y')}AA`;
    const run = await sluice(
      ['catalog', 'check', '--upstream', base],
      workdir(),
      env({ ANTHROPIC_AUTH_TOKEN: wrongKey }),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('GET /v1/models answered 401: invalid x-api-key');
    expect(run.stdout + run.stderr).not.toContain(wrongKey);
  });
});

describe('catalog file location', () => {
  it('defaults to ./sluice-catalog.json, and sluice.yaml catalog.file moves it', async () => {
    const cwd = workdir();
    writeFileSync(join(cwd, 'sluice.yaml'), 'catalog:\n  file: data/catalog.json\n');
    const run = await sluice(['catalog', 'update', '--from', `${base}/catalogs/newer.json`], cwd);
    expect(run.code).toBe(0);
    expect(existsSync(join(cwd, 'data', 'catalog.json'))).toBe(true);
    expect(existsSync(join(cwd, 'sluice-catalog.json'))).toBe(false);
  });
});

describe('the sluice command', () => {
  it("takes the subcommands' own flags after them, and exits with their codes", async () => {
    const cwd = workdir();
    const env = { SLUICE_CATALOG_URL: `${base}/catalogs/older.json` };
    const refused = await spawnSluice(['catalog', 'update', '--json'], cwd, env);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ installed: false });
    const dry = await spawnSluice(
      ['catalog', 'update', '--from', `${base}/catalogs/newer.json`, '--dry-run'],
      cwd,
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run: nothing installed');
    expect(readdirSync(cwd)).toEqual([]);
  }, 60_000);
});
