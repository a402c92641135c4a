import type { Command } from 'commander';
import { Catalog, currentCatalogDocument, isNewerVersion, parseCatalogDocument } from '../catalog/catalog.js';
import { diffCatalogs, formatDiff } from '../catalog/diff.js';
import { installCatalogFile, readCatalogSource } from '../catalog/install.js';
import { publishCatalog } from '../catalog/publish.js';
import type { CatalogDocument } from '../catalog/schema.js';
import { loadConfig } from '../config/load.js';
import { type ConfigFlags, withStore } from './context.js';
import { type CommandIo, EXIT_CLEAN, EXIT_ERROR } from './scan.js';

export interface UpdateFlags extends ConfigFlags {
  from?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A catalog that is not installed: the reason, and the file left as it was. */
class Refused extends Error {}

const json = (io: CommandIo, value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/**
 * Fetches a catalog, validates it, refuses anything not newer than the one in force, shows what
 * changes and installs it atomically. Exit 0 installed (or would be, with --dry-run), 2 refused.
 */
export async function runCatalogUpdate(flags: UpdateFlags, io: CommandIo): Promise<number> {
  let file: string | undefined;
  try {
    const loaded = loadConfig({ cwd: io.cwd, env: io.env, configPath: flags.config });
    for (const warning of loaded.warnings) io.stderr.write(`warning: ${warning}\n`);
    file = loaded.config.catalog.file;
    const source = flags.from ?? loaded.config.catalog.updateUrl;
    if (!source)
      throw new Refused(
        'no catalog source: give --from URL|FILE, or set catalog.updateUrl in sluice.yaml or SLUICE_CATALOG_URL',
      );
    const inForce = currentCatalogDocument(file);
    const next = await fetchValid(source, loaded.config.catalog);
    if (!isNewerVersion(next.document.version, inForce.version))
      throw new Refused(
        `${source}: version ${next.document.version} is not newer than the catalog in force (${inForce.version})`,
      );
    const diff = diffCatalogs(inForce, next.document);
    if (!flags.dryRun) {
      installCatalogFile(file, next.text);
      // Instances on other hosts read the same store: the change feed brings it to them.
      await withStore(loaded, (store) => publishCatalog(store.db, next.document, next.text));
    }
    if (flags.json) {
      json(io, { installed: !flags.dryRun, file, source, from: inForce.version, to: diff.to, diff });
    } else {
      const outcome = flags.dryRun
        ? `Dry run: nothing installed (${file} unchanged).`
        : `Installed catalog ${diff.to} at ${file} and in the database; every running gateway puts it in force within a second.`;
      io.stdout.write(`${formatDiff(diff)}\n\n${outcome}\n`);
    }
    return EXIT_CLEAN;
  } catch (error) {
    const reason = `${error instanceof Refused ? 'refused: ' : ''}${(error as Error).message}${file ? `; ${file} left as it was` : ''}`;
    if (flags.json) json(io, { installed: false, file: file ?? null, error: reason });
    else io.stderr.write(`sluice catalog update: ${reason}\n`);
    return EXIT_ERROR;
  }
}

/** The source's text and document, refused unless it validates and makes a catalog with the overrides. */
async function fetchValid(
  source: string,
  overrides: ConstructorParameters<typeof Catalog>[0],
): Promise<{ text: string; document: CatalogDocument }> {
  let text: string;
  try {
    text = await readCatalogSource(source);
  } catch (error) {
    throw new Refused(`cannot read ${source}: ${(error as Error).message}`);
  }
  try {
    const document = parseCatalogDocument(text, source);
    // What the gateway will build from it: cross-references (prices of known models, the default tier).
    new Catalog(overrides, document);
    return { text, document };
  } catch (error) {
    throw new Refused((error as Error).message);
  }
}

export function registerUpdate(catalogCommand: Command): void {
  catalogCommand
    .command('update')
    .description('install a newer catalog (from a URL or a file) where the gateway reads it')
    .option(
      '--from <source>',
      'HTTP(S) URL or file of the catalog (default: catalog.updateUrl, SLUICE_CATALOG_URL)',
    )
    .option('--dry-run', 'show what would change without installing')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: UpdateFlags) => {
      process.exitCode = await runCatalogUpdate(flags, {
        cwd: process.cwd(),
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });
}
