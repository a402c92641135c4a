import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isSecretEnvFile } from './exposure.js';
import { type Finding, makeFinding } from './finding.js';
import { committableFiles, GitError, readBlobs, repositoryRoot, stagedBlobs } from './git.js';
import { addedLines } from './history.js';
import { ignoreMatcher } from './ignore.js';
import { scanBuffer, scanFile } from './scan-content.js';
import { displayPath, walkFiles } from './walk.js';

export type ScanMode = 'files' | 'staged' | 'history';

export interface ScanOptions {
  cwd: string;
  /**
   * Files or directories to scan, relative to `cwd` or absolute (files mode only); default: `cwd`.
   * Findings name files relative to `cwd`, or absolutely when they lie outside it.
   */
  paths?: string[];
  mode?: ScanMode;
  /** Files mode inside git: also scan files git ignores. */
  all?: boolean;
  /** false: walk the file system instead of asking git (also the fallback outside a repository). */
  git?: boolean;
  /** Path patterns to skip. */
  ignore?: string[];
  /** Fingerprints of accepted findings. */
  baseline?: Set<string>;
  onProgress?: (progress: ScanProgress) => void;
}

export interface ScanProgress {
  files: number;
  bytes: number;
}

export interface ScanResult extends ScanProgress {
  findings: Finding[];
  /** Findings dropped because the baseline accepts them. */
  baselined: number;
}

const CONCURRENCY = 8;
/** Quick test before a history line is scanned: every rule needs one of these substrings. */
const HISTORY_MARKERS = ['sk-ant-', 'sk-sluice-', 'ANTHROPIC_', 'CLAUDE_'];

export class ScanError extends Error {}

/** Scans files, the index or the history for keys and exposures. Never throws on findings. */
export async function scan(options: ScanOptions): Promise<ScanResult> {
  const mode = options.mode ?? 'files';
  const isIgnored = ignoreMatcher(options.ignore ?? []);
  const progress: ScanProgress = { files: 0, bytes: 0 };
  const findings: Finding[] = [];
  const report = (items: Finding[]) => {
    for (const finding of items) if (!isIgnored(finding.path)) findings.push(finding);
  };
  const root = mode === 'files' || options.git === false ? undefined : await repositoryRoot(options.cwd);
  if (mode !== 'files' && root === undefined) throw new ScanError(`--${mode} needs a git repository`);

  if (mode === 'staged') {
    const staged = (await stagedBlobs(root!)).filter((entry) => !isIgnored(entry.path));
    report(staged.filter((entry) => isSecretEnvFile(entry.path)).map((entry) => envFileFinding(entry.path)));
    let index = 0;
    for await (const content of readBlobs(
      root!,
      staged.map((entry) => entry.blob),
    )) {
      const path = staged[index++]!.path;
      report(scanBuffer(content, { path }));
      progress.files++;
      progress.bytes += content.length;
      options.onProgress?.(progress);
    }
  } else if (mode === 'history') {
    for await (const added of addedLines(root!)) {
      if (!HISTORY_MARKERS.some((marker) => added.text.includes(marker))) continue;
      report(
        scanBuffer(Buffer.from(added.text), {
          path: added.path,
          commit: added.commit,
          firstLine: added.line,
        }),
      );
    }
  } else {
    const paths = options.paths && options.paths.length > 0 ? options.paths : ['.'];
    for (const path of paths) {
      const absolute = resolve(options.cwd, path);
      const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
          throw new ScanError(`${path}: no such file or directory`);
        throw error;
      });
      // Each path is asked of its own repository: an absolute path may lie outside the current one.
      const directory = info.isDirectory() ? absolute : dirname(absolute);
      const pathRoot = options.git === false ? undefined : await repositoryRoot(directory);
      let files: AsyncIterable<string>;
      if (pathRoot !== undefined) {
        const committable = (await committableFiles(directory, [absolute])).map((file) =>
          displayPath(options.cwd, resolve(directory, file)),
        );
        report(committable.filter(isSecretEnvFile).map(envFileFinding));
        files = options.all ? walkFiles(options.cwd, [absolute]) : arrayToIterable(committable);
      } else {
        files = walkFiles(options.cwd, [absolute]);
      }
      await scanFiles(options.cwd, files, isIgnored, progress, options.onProgress, report);
    }
  }

  const baseline = options.baseline ?? new Set<string>();
  const kept = findings.filter((finding) => !baseline.has(finding.fingerprint));
  kept.sort(
    (a, b) =>
      (a.commit ?? '').localeCompare(b.commit ?? '') ||
      a.path.localeCompare(b.path) ||
      a.line - b.line ||
      a.column - b.column,
  );
  return { findings: kept, baselined: findings.length - kept.length, ...progress };
}

function envFileFinding(path: string): Finding {
  return makeFinding({ rule: 'env-file-committable', path, line: 0, column: 0, hint: path }, path);
}

async function* arrayToIterable<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function scanFiles(
  cwd: string,
  files: AsyncIterable<string>,
  isIgnored: (path: string) => boolean,
  progress: ScanProgress,
  onProgress: ScanOptions['onProgress'],
  report: (items: Finding[]) => void,
): Promise<void> {
  const iterator = files[Symbol.asyncIterator]();
  // A few workers pull from one iterator: reads overlap, memory stays at a few files.
  const worker = async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const path = next.value;
      if (isIgnored(path)) continue;
      const scanned = await scanFile(resolve(cwd, path), { path });
      if (!scanned) continue;
      const { findings, bytes } = scanned;
      report(findings);
      progress.files++;
      progress.bytes += bytes;
      onProgress?.(progress);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

export { GitError };
