import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { GitError } from './git.js';

/** One line a commit added: what `--history` scans. */
export interface AddedLine {
  commit: string;
  path: string;
  line: number;
  text: string;
}

const COMMIT_MARK = '\x01';
const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** Git C-quotes paths with unusual characters: `"dir/\303\251.txt"`. */
function unquotePath(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  const bytes: number[] = [];
  const escapes: Record<string, number> = { n: 10, t: 9, '"': 34, '\\': 92, a: 7, b: 8, f: 12, r: 13, v: 11 };
  for (let i = 1; i < raw.length - 1; i++) {
    const char = raw[i]!;
    if (char !== '\\') {
      bytes.push(...Buffer.from(char));
      continue;
    }
    const next = raw[++i]!;
    if (/[0-7]/.test(next)) {
      bytes.push(Number.parseInt(raw.slice(i, i + 3), 8));
      i += 2;
    } else bytes.push(escapes[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Every added line of every commit reachable from any ref, streamed from `git log -p`:
 * memory stays bounded however long the history. Hunk line counts tell content from headers,
 * so an added line that itself starts with `+++` is never mistaken for a file header.
 */
export async function* addedLines(root: string): AsyncGenerator<AddedLine> {
  const child = spawn(
    'git',
    [
      '-c',
      'core.quotePath=false',
      'log',
      '--all',
      '-p',
      '-U0',
      '--no-color',
      '--no-ext-diff',
      `--format=${COMMIT_MARK}%H`,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  let commit = '';
  let path: string | undefined;
  let newLine = 0;
  let oldLeft = 0;
  let newLeft = 0;
  for await (const raw of createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (oldLeft > 0 || newLeft > 0) {
      if (raw.startsWith('+')) {
        newLeft--;
        if (path !== undefined) yield { commit, path, line: newLine, text: raw.slice(1) };
        newLine++;
      } else if (raw.startsWith('-')) oldLeft--;
      continue;
    }
    if (raw.startsWith(COMMIT_MARK)) {
      commit = raw.slice(1);
      path = undefined;
    } else if (raw.startsWith('+++ ')) {
      const target = raw.slice(4);
      path = target === '/dev/null' ? undefined : unquotePath(target).replace(/^b\//, '');
    } else if (raw.startsWith('@@ ')) {
      const hunk = HUNK_HEADER.exec(raw);
      if (!hunk) continue;
      oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      newLine = Number(hunk[2]);
      newLeft = hunk[3] === undefined ? 1 : Number(hunk[3]);
    }
  }
  const code = await exited;
  // An empty repository has no commits to scan; that is not an error.
  const message = Buffer.concat(errors).toString().trim();
  if (code !== 0 && !/does not have any commits/.test(message))
    throw new GitError(message || `git log exited with ${code}`);
}
