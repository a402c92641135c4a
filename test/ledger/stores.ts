import { type Cost, costOf, tokenCounts } from '../../src/catalog/cost.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import type { Usage } from '../../src/pipeline/types.js';
import { openStore, type Store } from '../../src/store/database.js';
import { createPostgresDatabase } from '../helpers/services.js';

/** Runs a suite against SQLite (in memory) and against a fresh PostgreSQL database. */
export const storeKinds: Array<{ kind: 'sqlite' | 'postgres'; open: (label: string) => Promise<Store> }> = [
  { kind: 'sqlite', open: async () => openStore('sqlite::memory:') },
  {
    kind: 'postgres',
    open: async (label) => {
      const database = await createPostgresDatabase(label);
      const store = await openStore(database.url);
      return {
        ...store,
        close: async () => {
          await store.close();
          await database.drop();
        },
      };
    },
  },
];

let sequence = 0;

/** A ledger entry for a request with these counts, priced by the catalog. */
export function entry(fields: Partial<LedgerEntry> & { usage?: Partial<Usage> } = {}): LedgerEntry {
  const { usage: partial, ...rest } = fields;
  const usage: Usage = {
    input_tokens: 100,
    output_tokens: 50,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...partial,
  };
  const at = rest.at ?? Date.UTC(2026, 9, 15, 12, 0, 0);
  const model = rest.model ?? 'claude-haiku-4-5-20251001';
  const cost: Cost =
    rest.cost ?? costOf(usage, model, new Date(at), { batch: rest.batch, inferenceGeo: rest.geo });
  sequence += 1;
  return {
    requestId: `req_test_${process.pid}_${sequence}`,
    environment: 'production',
    keyId: 'key_a',
    requestedModel: model,
    model,
    status: 200,
    upstreamStatus: 200,
    latencyMs: 120,
    ttftMs: 40,
    ...rest,
    at,
    cost,
    tokens: tokenCounts(usage),
    speed: usage.speed ?? null,
  };
}
