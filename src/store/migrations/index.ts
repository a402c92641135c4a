import type { Migration } from 'kysely';
import * as keys from './001_keys.js';
import * as ledger from './002_ledger.js';
import * as budgets from './003_budgets.js';
import * as billing from './004_billing_from_usage.js';
import * as changes from './005_changes.js';
import * as catalogDocuments from './006_catalog_documents.js';
import * as upstreamObjects from './007_upstream_objects.js';
import * as messageBatches from './008_batches.js';
import * as ledgerClient from './009_ledger_client.js';
import * as developerKeys from './010_developer_keys.js';

/** Every schema change, in order; the name's number decides the order. */
export const migrations: Record<string, Migration> = {
  '001_keys': keys,
  '002_ledger': ledger,
  '003_budgets': budgets,
  '004_billing_from_usage': billing,
  '005_changes': changes,
  '006_catalog_documents': catalogDocuments,
  '007_upstream_objects': upstreamObjects,
  '008_batches': messageBatches,
  '009_ledger_client': ledgerClient,
  '010_developer_keys': developerKeys,
};
