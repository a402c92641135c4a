import { z } from 'zod';

/**
 * Where counters shared by gateway instances live: `memory` (one instance) or `redis` (several),
 * under a key prefix; `failOpen` says what to do while Redis cannot be reached (each section
 * documents its own meaning).
 */
export function sharedCountersSchema(defaultPrefix: string) {
  return z
    .strictObject({
      backend: z.enum(['memory', 'redis']).default('memory'),
      url: z.string().optional(),
      prefix: z.string().default(defaultPrefix),
      failOpen: z.boolean().default(true),
    })
    .default({ backend: 'memory', prefix: defaultPrefix, failOpen: true });
}
