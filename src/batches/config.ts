import { z } from 'zod';

/**
 * The `batches` section of sluice.yaml:
 *
 * ```yaml
 * batches:
 *   pollMs: 10000      # how often the collector looks at batches in progress
 *   leaseMs: 120000    # how long one instance keeps a batch to itself while recording it
 *   defer:
 *     maxRequests: 1000        # a batch is sent once this many requests wait…
 *     maxBytes: 52428800       # …or their bodies reach this size…
 *     maxAgeMs: 60000          # …or the oldest has waited this long
 *     keys: [nightly-*]        # keys whose Messages requests are all deferred (names, globs)
 * ```
 */
export const deferralConfigSchema = z
  .object({
    maxRequests: z.number().int().positive().max(100_000).default(1000),
    maxBytes: z
      .number()
      .int()
      .positive()
      // Under the API's 256 MB per batch, with room for the custom_ids and the JSON around them.
      .max(250 * 1024 * 1024)
      .default(50 * 1024 * 1024),
    maxAgeMs: z.number().int().positive().default(60_000),
    keys: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const batchesConfigSchema = z
  .object({
    pollMs: z.number().int().positive().default(10_000),
    leaseMs: z.number().int().positive().default(120_000),
    defer: deferralConfigSchema.prefault({}),
  })
  .strict();

export type BatchesConfig = z.infer<typeof batchesConfigSchema>;
export type DeferralConfig = z.infer<typeof deferralConfigSchema>;

export function parseBatchesConfig(section: unknown): BatchesConfig {
  return batchesConfigSchema.parse(section ?? {});
}
