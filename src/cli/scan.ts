import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { DEFAULT_BASELINE, readBaseline, writeBaseline } from '../secrets/baseline.js';
import { formatJson, formatSarif, formatText, type ReportFormat } from '../secrets/report.js';
import { type ScanMode, type ScanProgress, scan } from '../secrets/scan.js';
import { readScanSettings } from '../secrets/scan-settings.js';
import { verifyFindings } from '../secrets/verify.js';
import { readPackageVersion } from './version.js';

export interface ScanCommandOptions {
  staged?: boolean;
  history?: boolean;
  all?: boolean;
  git?: boolean;
  format?: ReportFormat;
  baseline?: string;
  updateBaseline?: boolean;
  verify?: boolean;
  ignore?: string[];
  progress?: boolean;
}

export interface CommandIo {
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

export const EXIT_CLEAN = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_ERROR = 2;

/** A single status line on a terminal, redrawn at most a few times a second. */
function progressLine(stream: CommandIo['stderr']): { update: (p: ScanProgress) => void; done: () => void } {
  let last = 0;
  let shown = false;
  return {
    update: (progress) => {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[Kscanning: ${progress.files} files, ${(progress.bytes / 1e6).toFixed(1)} MB`);
    },
    done: () => {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

/** `sluice scan`: returns the exit code (0 clean, 1 findings, 2 error). */
export async function runScan(paths: string[], options: ScanCommandOptions, io: CommandIo): Promise<number> {
  try {
    if (options.staged && options.history) throw new Error('--staged and --history cannot be combined');
    const mode: ScanMode = options.staged ? 'staged' : options.history ? 'history' : 'files';
    if (mode !== 'files' && paths.length > 0)
      throw new Error(`--${mode} scans the whole repository; leave out paths`);
    const settings = await readScanSettings(io.cwd);
    const baselinePath = resolve(io.cwd, options.baseline ?? DEFAULT_BASELINE);
    const progress =
      options.progress !== false && io.stderr.isTTY && mode === 'files' ? progressLine(io.stderr) : undefined;
    const result = await scan({
      cwd: io.cwd,
      paths,
      mode,
      all: options.all,
      git: options.git,
      ignore: [...settings.ignore, ...(options.ignore ?? [])],
      baseline: options.updateBaseline ? undefined : await readBaseline(baselinePath),
      onProgress: progress?.update,
    });
    progress?.done();
    if (options.updateBaseline) {
      await writeBaseline(baselinePath, result.findings);
      io.stderr.write(`baseline: ${result.findings.length} findings accepted in ${baselinePath}\n`);
      return EXIT_CLEAN;
    }
    if (options.verify && result.findings.length > 0) {
      const { config } = loadConfig({ cwd: io.cwd, env: io.env });
      await verifyFindings(result.findings, { upstreamUrl: config.upstream.url });
    }
    const format = options.format ?? 'text';
    const output =
      format === 'json'
        ? formatJson(result)
        : format === 'sarif'
          ? formatSarif(result, readPackageVersion())
          : formatText(result);
    io.stdout.write(output);
    return result.findings.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
  } catch (error) {
    io.stderr.write(`sluice scan: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_ERROR;
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function register(program: Command): void {
  program
    .command('scan')
    .description('find Anthropic keys, Sluice virtual keys and exposed credentials in files or git history')
    .argument('[paths...]', 'files or directories (default: the current directory)')
    .option('--staged', 'scan exactly what is staged in the git index (for pre-commit hooks)')
    .option('--history', 'scan every line added by every commit in the repository')
    .option('--all', 'also scan files git ignores')
    .option('--no-git', 'walk the file system instead of asking git')
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'),
    )
    .option('--baseline <file>', 'fingerprints of accepted findings', DEFAULT_BASELINE)
    .option('--update-baseline', 'accept every current finding into the baseline file')
    .option('--verify', 'ask the configured upstream whether each key found is live (GET /v1/models)')
    .option('--ignore <pattern>', 'skip paths matching a pattern (repeatable)', collect)
    .option('--no-progress', 'no progress line on the terminal')
    .action(async (paths: string[], options: ScanCommandOptions) => {
      process.exitCode = await runScan(paths, options, {
        cwd: process.cwd(),
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });
}
