import type { Migration } from 'kysely';
import * as keys from './001_keys.js';
import * as ledger from './002_ledger.js';
import * as budgets from './003_budgets.js';
import * as billing from './004_billing_from_usage.js';
import * as changes from './005_changes.js';
import * as catalogDocuments from './006_catalog_documents.js';
import * as messageBatches from './008_batches.js';

/** Every schema change, in order; the name's number decides the order. */
export const migrations: Record<string, Migration> = {
  '001_keys': keys,
  '002_ledger': ledger,
  '003_budgets': budgets,
  '004_billing_from_usage': billing,
  '005_changes': changes,
  '006_catalog_documents': catalogDocuments,
  '008_batches': messageBatches,
};
