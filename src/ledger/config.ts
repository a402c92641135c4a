import { z } from 'zod';

/**
 * The `ledger` section of sluice.yaml:
 *
 * ```yaml
 * ledger:
 *   flushIntervalMs: 250   # rows wait at most this long in memory (what a crash can lose)
 *   batchSize: 500
 *   retainDays: 90         # older rows are rolled up per day, key and model, then pruned
 *   spoolDir: ./sluice-spool   # rows the store refused, until it is back (SLUICE_LEDGER_SPOOL_DIR)
 * ```
 */
export const ledgerConfigSchema = z
  .object({
    flushIntervalMs: z.number().int().positive().default(250),
    batchSize: z.number().int().positive().max(1000).default(500),
    /** Raw rows kept this many days; 0 keeps them forever. */
    retainDays: z.number().int().nonnegative().default(0),
    /**
     * Where rows wait on disk while the store is away, replayed when it is back (relative to the
     * working directory; created when first needed). Instances may share it.
     */
    spoolDir: z.string().min(1).default('./sluice-spool'),
  })
  .strict();

export type LedgerConfig = z.infer<typeof ledgerConfigSchema>;

export function parseLedgerConfig(section: unknown): LedgerConfig {
  return ledgerConfigSchema.parse(section ?? {});
}
