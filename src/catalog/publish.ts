import type { Kysely } from 'kysely';
import { type Change, recordChange } from '../store/changes.js';
import { writeTransaction } from '../store/database.js';
import { type Catalog, isNewerVersion, parseCatalogDocument } from './catalog.js';
import type { CatalogDocument } from './schema.js';

// biome-ignore lint/suspicious/noExplicitAny: the catalog documents table only.
type AnyDb = Kysely<any>;

/**
 * Stores an installed catalog in the shared store and announces it on the change feed, in one
 * transaction: every gateway instance on that store puts it in force within a second.
 */
export async function publishCatalog(db: AnyDb, document: CatalogDocument, text: string): Promise<Change> {
  return writeTransaction(db, async (trx) => {
    await trx
      .insertInto('catalog_documents')
      .values({ version: document.version, document: text, installed_at: Date.now() })
      .onConflict((conflict) => conflict.column('version').doNothing())
      .execute();
    return recordChange(trx, 'catalog', document.version);
  });
}

/**
 * Puts the newest published catalog in force when it is newer than `catalog`'s; returns the
 * version put in force, if any. A stored document that no longer validates is reported, not used.
 */
export async function followPublishedCatalog(
  db: AnyDb,
  catalog: Catalog,
  onProblem: (message: string) => void,
): Promise<string | undefined> {
  const rows = await db.selectFrom('catalog_documents').select(['version', 'document']).execute();
  let newest: { version: string; document: string } | undefined;
  for (const row of rows) if (!newest || isNewerVersion(row.version, newest.version)) newest = row;
  if (!newest || !isNewerVersion(newest.version, catalog.version)) return undefined;
  try {
    catalog.replace(parseCatalogDocument(newest.document, `published catalog ${newest.version}`));
    return newest.version;
  } catch (error) {
    onProblem(`${(error as Error).message}; catalog ${catalog.version} kept`);
    return undefined;
  }
}
