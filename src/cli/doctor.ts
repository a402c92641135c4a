import type { Command } from 'commander';
import { Catalog, catalogInForce } from '../catalog/catalog.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { type Check, effectiveEnvironment, runDoctorChecks } from '../secrets/doctor.js';
import type { CommandIo } from './scan.js';

export interface DoctorOptions {
  model?: string;
  json?: boolean;
}

const DEFAULT_UPSTREAM = 'https://api.anthropic.com';
const LABELS = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

/** The upstream URL and catalog from the configuration; a broken configuration is itself a check. */
function configuration(io: CommandIo): { upstreamUrl: string; catalog: Catalog; check?: Check } {
  const env = io.env ?? process.env;
  try {
    const { config } = loadConfig({ cwd: io.cwd, env });
    return { upstreamUrl: config.upstream.url, catalog: catalogInForce(config.catalog) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const upstreamUrl = effectiveEnvironment(io.cwd, env).SLUICE_UPSTREAM_URL || DEFAULT_UPSTREAM;
    // Problems with the variables doctor checks one by one are reported by those checks.
    const own = /^ANTHROPIC_(DEFAULT|REASONING|CRITICAL)_MODEL$|^ANTHROPIC_(MAX_TOKENS|TIMEOUT_MS)$/.test(
      error.field,
    );
    const check: Check | undefined = own
      ? undefined
      : {
          name: 'configuration',
          status: 'fail',
          message: `${error.field}: ${error.problem}`,
          fix: error.fix,
        };
    return { upstreamUrl, catalog: new Catalog(), check };
  }
}

function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${LABELS[check.status]}  ${check.name.padEnd(width)}  ${check.message}`);
    if (check.fix && check.status !== 'pass') lines.push(`      ${' '.repeat(width)}  fix: ${check.fix}`);
  }
  const count = (status: Check['status']) => checks.filter((check) => check.status === status).length;
  const warnings = count('warn');
  lines.push(
    '',
    `${count('pass')} passed, ${warnings} warning${warnings === 1 ? '' : 's'}, ${count('fail')} failed`,
  );
  return `${lines.join('\n')}\n`;
}

/** `sluice doctor`: exit 0 when nothing failed, 1 when a check failed, 2 on an error. */
export async function runDoctor(options: DoctorOptions, io: CommandIo): Promise<number> {
  try {
    const { upstreamUrl, catalog, check } = configuration(io);
    const checks = await runDoctorChecks({
      cwd: io.cwd,
      env: io.env ?? process.env,
      catalog,
      upstreamUrl,
      model: options.model,
    });
    if (check) checks.unshift(check);
    io.stdout.write(
      options.json ? `${JSON.stringify({ upstream: upstreamUrl, checks }, null, 2)}\n` : formatChecks(checks),
    );
    return checks.some((c) => c.status === 'fail') ? 1 : 0;
  } catch (error) {
    io.stderr.write(`sluice doctor: ${(error as Error).message}\n`);
    return 2;
  }
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the configuration, that .env is ignored and the hook installed, then test the connection',
    )
    .option('--model <id>', 'model for the test request (default: the cheapest current model)')
    .option('--json', 'machine-readable output')
    .action(async (options: DoctorOptions) => {
      process.exitCode = await runDoctor(options, {
        cwd: process.cwd(),
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });
}
