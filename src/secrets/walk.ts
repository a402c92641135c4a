import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Regular files under each path (relative to `cwd` or absolute), named as `displayPath` names them,
 * depth first. Symbolic links
 * are not followed (they could loop or leave the tree) and `.git` directories are skipped.
 */
export async function* walkFiles(cwd: string, paths: string[]): AsyncGenerator<string> {
  for (const path of paths) {
    const absolute = resolve(cwd, path);
    const info = await stat(absolute);
    if (info.isFile()) {
      yield displayPath(cwd, absolute);
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
        } else if (entry.isFile()) yield displayPath(cwd, child);
      }
    }
  }
}

/** A file's name in reports: relative to `cwd` with forward slashes, or absolute outside `cwd`. */
export function displayPath(cwd: string, absolute: string): string {
  const path = relative(cwd, absolute);
  if (path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path)) return absolute;
  return path.split(sep).join('/');
}
