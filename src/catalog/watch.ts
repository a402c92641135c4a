import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type Catalog, currentCatalogDocument, isNewerVersion, readCatalogDocument } from './catalog.js';

export interface CatalogWatchOptions {
  /** A catalog was put in force (its version). */
  onReload?: (version: string, previous: string) => void;
  /** The installed file could not be used (the message names the file and the field). */
  onProblem?: (message: string) => void;
  /** The safety-net check of the file's size and modification time (default 1 s). */
  intervalMs?: number;
}

export interface CatalogWatch {
  close(): void;
}

/** What changes when a file is replaced or rewritten: a re-read is due when this does. */
function signatureOf(path: string): string {
  try {
    const stat = statSync(path, { bigint: true });
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
  } catch {
    return 'absent';
  }
}

/**
 * Keeps `catalog` on the document in force as `sluice catalog update` installs new ones at
 * `path`. fs.watch on the directory notices the rename at once; a cheap stat every second
 * covers file systems where fs.watch says nothing (network mounts, some containers). A file that
 * does not validate is reported and the catalog in force kept.
 */
export function watchCatalog(
  catalog: Catalog,
  path: string,
  options: CatalogWatchOptions = {},
): CatalogWatch {
  let seen = signatureOf(path);
  const check = () => {
    const signature = signatureOf(path);
    if (signature === seen) return;
    seen = signature;
    const previous = catalog.version;
    const shipped = currentCatalogDocument(undefined);
    let document = shipped;
    if (signature !== 'absent') {
      try {
        const installed = readCatalogDocument(path);
        // As at start: an installed catalog older than the shipped one is not used.
        if (!isNewerVersion(shipped.version, installed.version)) document = installed;
      } catch (error) {
        options.onProblem?.(`${(error as Error).message}; catalog ${previous} kept`);
        return;
      }
    }
    if (document.version === previous) return;
    try {
      catalog.replace(document);
    } catch (error) {
      options.onProblem?.(`${path}: ${(error as Error).message}; catalog ${previous} kept`);
      return;
    }
    options.onReload?.(document.version, previous);
  };

  let watcher: FSWatcher | undefined;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) check();
    });
    // A watcher that fails later (directory removed) leaves the periodic check to do the work.
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined; // no such directory yet: the periodic check sees the file once it exists
  }
  const timer = setInterval(check, options.intervalMs ?? 1000);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
