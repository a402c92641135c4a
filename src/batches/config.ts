import { z } from 'zod';

/**
 * The `batches` section of sluice.yaml:
 *
 * ```yaml
 * batches:
 *   pollMs: 10000      # how often the collector looks at batches in progress
 *   leaseMs: 120000    # how long one instance keeps a batch to itself while recording it
 * ```
 */
export const batchesConfigSchema = z
  .object({
    pollMs: z.number().int().positive().default(10_000),
    leaseMs: z.number().int().positive().default(120_000),
  })
  .strict();

export type BatchesConfig = z.infer<typeof batchesConfigSchema>;

export function parseBatchesConfig(section: unknown): BatchesConfig {
  return batchesConfigSchema.parse(section ?? {});
}
