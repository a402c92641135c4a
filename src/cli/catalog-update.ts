import type { Command } from 'commander';
import { Catalog, currentCatalogDocument, isNewerVersion, parseCatalogDocument } from '../catalog/catalog.js';
import { diffCatalogs, formatDiff } from '../catalog/diff.js';
import { installCatalogFile, readCatalogSource } from '../catalog/install.js';
import type { CatalogDocument } from '../catalog/schema.js';
import { type ConfigFlags, loadForCommand, printJson } from './context.js';

interface UpdateFlags extends ConfigFlags {
  from?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A catalog that is not installed: the reason, and the file left as it was. */
class Refused extends Error {}

/** `sluice catalog update`: fetch, validate, refuse anything not newer, show the change, install. */
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
      const loaded = loadForCommand(flags);
      const file = loaded.config.catalog.file;
      try {
        const source = flags.from ?? loaded.config.catalog.updateUrl;
        if (!source)
          throw new Refused(
            'no catalog source: give --from URL|FILE, or set catalog.updateUrl in sluice.yaml or SLUICE_CATALOG_URL',
          );
        const inForce = currentCatalogDocument(file, (problem) =>
          process.stderr.write(`warning: installed catalog unusable: ${problem}\n`),
        );
        const next = await fetchValid(source, loaded.config.catalog);
        if (!isNewerVersion(next.version, inForce.version))
          throw new Refused(
            `${source}: version ${next.version} is not newer than the catalog in force (${inForce.version})`,
          );
        const diff = diffCatalogs(inForce, next.document);
        if (!flags.dryRun) installCatalogFile(file, next.text);
        if (flags.json) {
          printJson({
            installed: !flags.dryRun,
            file,
            source,
            from: inForce.version,
            to: next.version,
            diff,
          });
          return;
        }
        const outcome = flags.dryRun
          ? `Dry run: nothing installed (${file} unchanged).`
          : `Installed catalog ${next.version} at ${file}; a running gateway puts it in force within a second.`;
        process.stdout.write(`${formatDiff(diff)}\n\n${outcome}\n`);
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        const reason = `refused: ${error.message}; ${file} left as it was`;
        if (flags.json) printJson({ installed: false, file, error: reason });
        else process.stderr.write(`sluice catalog update: ${reason}\n`);
        process.exitCode = 2;
      }
    });
}

/** The source's text and document, refused unless it validates and makes a catalog with the overrides. */
async function fetchValid(
  source: string,
  overrides: ConstructorParameters<typeof Catalog>[0],
): Promise<{ text: string; document: CatalogDocument; version: string }> {
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
    return { text, document, version: document.version };
  } catch (error) {
    throw new Refused((error as Error).message);
  }
}
