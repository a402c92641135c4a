import { spawn } from 'node:child_process';

export class GitError extends Error {}

/** Runs git and returns its stdout; rejects with git's own message on failure. */
export function git(cwd: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new GitError(`git: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitError(Buffer.concat(err).toString().trim() || `git ${args[0]} exited with ${code}`));
    });
    child.stdin.end(input);
  });
}

/** The repository's top-level directory, or undefined outside a work tree. */
export async function repositoryRoot(cwd: string): Promise<string | undefined> {
  try {
    return (await git(cwd, ['rev-parse', '--show-toplevel'])).toString().trim();
  } catch {
    return undefined;
  }
}

export function splitNul(output: Buffer): string[] {
  return output
    .toString('utf8')
    .split('\0')
    .filter((entry) => entry.length > 0);
}

/** Tracked files plus untracked files git would add (not ignored), relative to `cwd`. */
export async function committableFiles(cwd: string, paths: string[]): Promise<string[]> {
  const args = ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate'];
  return splitNul(await git(cwd, paths.length > 0 ? [...args, '--', ...paths] : args));
}

/** Paths changed in the index (added, copied, modified, renamed) with their staged blob ids. */
export async function stagedBlobs(root: string): Promise<Array<{ path: string; blob: string }>> {
  const changed = splitNul(
    await git(root, ['diff', '--cached', '--name-only', '-z', '--diff-filter=ACMR', '--no-renames']),
  );
  if (changed.length === 0) return [];
  const entries = splitNul(await git(root, ['ls-files', '-s', '-z', '--', ...changed]));
  const blobs: Array<{ path: string; blob: string }> = [];
  for (const entry of entries) {
    // "<mode> <object> <stage>\t<path>"; gitlinks (160000) are submodules, not content.
    const tab = entry.indexOf('\t');
    const [mode, blob] = entry.slice(0, tab).split(' ');
    if (mode === '160000' || blob === undefined) continue;
    blobs.push({ path: entry.slice(tab + 1), blob });
  }
  return blobs;
}

/** Reads blobs through one `git cat-file --batch` process, yielding each blob's content. */
export async function* readBlobs(root: string, blobs: string[]): AsyncGenerator<Buffer> {
  const child = spawn('git', ['cat-file', '--batch'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(blobs.map((blob) => `${blob}\n`).join(''));
  let pending: Buffer = Buffer.alloc(0);
  let expected = -1;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (expected < 0) {
        const newline = pending.indexOf(10);
        if (newline === -1) break;
        const header = pending.toString('utf8', 0, newline).split(' ');
        if (header[1] === 'missing') throw new GitError(`git: object ${header[0]} is missing`);
        expected = Number(header[2]);
        pending = pending.subarray(newline + 1);
      }
      // Content is followed by one newline.
      if (pending.length < expected + 1) break;
      yield pending.subarray(0, expected);
      pending = pending.subarray(expected + 1);
      expected = -1;
    }
  }
}
