/**
 * Sluice's own command line, run from the build (`npm run build`) as operators run it, for
 * benchmarks that measure whole processes: `sluice serve --workers N`, `sluice simulate`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_UPSTREAM_KEY } from './load.js';

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export interface Running {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr (stdout carries log lines and is discarded). */
  stderr(): string;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number>;
}

/** Runs `sluice <args>` and waits for the line naming its URL. */
export function startSluice(args: string[], env: Record<string, string>, urlLine: RegExp): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH!, ...env },
    });
    let stdout = '';
    let stderr = '';
    let found = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      // Only the first lines matter (the URL); the rest are log lines, dropped as they come.
      if (found) return;
      stdout += chunk.toString();
      const match = urlLine.exec(stdout);
      if (!match) return;
      found = true;
      const exit = new Promise<number>((done) => child.once('exit', (code) => done(code ?? -1)));
      resolve({
        url: match[1]!,
        child,
        stderr: () => stderr,
        stop: () => {
          child.kill('SIGTERM');
          return exit;
        },
      });
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => {
      if (!found) reject(new Error(`sluice ${args[0]} exited with ${code}: ${stderr}${stdout}`));
    });
  });
}

/** Runs `sluice <args>` to completion and returns its stdout. */
export function runSluice(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH!, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`sluice ${args.join(' ')}: ${err}`)),
    );
  });
}

/** `sluice simulate` in its own process, accepting the benchmark key. */
export function startSimulatorProcess(extra: string[] = []): Promise<Running> {
  return startSluice(
    ['simulate', '--port', '0', '--api-key', BENCH_UPSTREAM_KEY, ...extra],
    {},
    /^(http:\/\/\S+)$/m,
  );
}

/** A gateway environment on a fresh SQLite file (removed at exit), with a key made by `sluice keys create`. */
export async function gatewayEnvironment(
  upstreamUrl: string,
): Promise<{ env: Record<string, string>; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const env = {
    ANTHROPIC_AUTH_TOKEN: BENCH_UPSTREAM_KEY,
    SLUICE_UPSTREAM_URL: upstreamUrl,
    SLUICE_DATABASE_URL: `sqlite:${join(dir, 'sluice.db')}`,
  };
  const created = JSON.parse(
    await runSluice(['keys', 'create', 'prod-bench-load', '--env', 'production', '--json'], env),
  ) as { key: string };
  return { env, key: created.key };
}

/** Upstream limits far above what a benchmark sends, so admission never waits. */
export const ROOMY_LIMITS = ['--rpm', '100000000', '--itpm', '1000000000', '--otpm', '1000000000'];
