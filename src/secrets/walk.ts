import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * Regular files under each path (relative to `cwd`, forward slashes), depth first. Symbolic links
 * are not followed (they could loop or leave the tree) and `.git` directories are skipped.
 */
export async function* walkFiles(cwd: string, paths: string[]): AsyncGenerator<string> {
  for (const path of paths) {
    const absolute = join(cwd, path);
    const info = await stat(absolute);
    if (info.isFile()) {
      yield toRelative(cwd, absolute);
      continue;
    }
    const pending = [absolute];
    while (pending.length > 0) {
      const directory = pending.pop()!;
      const entries = await readdir(directory, { withFileTypes: true });
      for (const entry of entries) {
        const child = join(directory, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== '.git') pending.push(child);
        } else if (entry.isFile()) yield toRelative(cwd, child);
      }
    }
  }
}

function toRelative(cwd: string, absolute: string): string {
  return relative(cwd, absolute).split(sep).join('/');
}
