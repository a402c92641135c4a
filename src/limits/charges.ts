import type { RateLimits } from '../catalog/schema.js';
import type { Quotas, Usage } from '../pipeline/types.js';
import type { QuotaState, Speed } from './headers.js';
import type { BucketCharge, BucketRef, BucketView } from './store.js';

export type QuotaScope = 'key' | 'environment';
const quotaKinds = { rpm: 'requests', tpm: 'tokens', tpd: 'daily-tokens' } as const;

/** The three upstream buckets of one (credential, pool, speed). */
export interface UpstreamRefs {
  rpm: BucketRef;
  itpm: BucketRef;
  otpm: BucketRef;
}

export function upstreamRefs(
  credentialId: string,
  pool: string,
  speed: Speed,
  limits: RateLimits,
  windowMs: number,
): UpstreamRefs {
  const lane = speed === 'fast' ? `${pool}:fast` : pool;
  const ref = (kind: keyof RateLimits): BucketRef => ({
    key: `up:${credentialId}:${lane}:${kind}`,
    limit: limits[kind],
    windowMs,
  });
  return { rpm: ref('rpm'), itpm: ref('itpm'), otpm: ref('otpm') };
}

export interface QuotaCharge extends BucketCharge {
  scope: QuotaScope;
  quota: keyof Quotas;
}

/** Buckets for a key's or an environment's own quotas; a day is 1440 windows. */
export function quotaCharges(
  scope: QuotaScope,
  id: string,
  quotas: Quotas | undefined,
  tokens: number,
  windowMs: number,
): QuotaCharge[] {
  const charges: QuotaCharge[] = [];
  const add = (quota: keyof Quotas, amount: number, window: number) => {
    const limit = quotas?.[quota];
    if (!limit) return;
    const key = `${scope === 'key' ? 'key' : 'env'}:${id}:${quota}`;
    charges.push({ key, limit, windowMs: window, amount, fixedLimit: true, scope, quota });
  };
  add('rpm', 1, windowMs);
  add('tpm', tokens, windowMs);
  add('tpd', tokens, windowMs * 1440);
  return charges;
}

/** A quota bucket as refusal headers describe it. */
export function quotaState(charge: QuotaCharge, view: BucketView): QuotaState {
  return {
    kind: quotaKinds[charge.quota],
    limit: view.limit,
    remaining: view.remaining,
    resetAt: view.fullAt,
  };
}

/** What a request counts against upstream ITPM: input plus cache writes (cache reads are free). */
export function upstreamInputTokens(usage: Usage): number {
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0);
}

/** Everything the model read, the figure the estimate predicts and key quotas count. */
export function totalInputTokens(usage: Usage): number {
  return upstreamInputTokens(usage) + (usage.cache_read_input_tokens ?? 0);
}

/** A charge on one of the three upstream buckets; always the same shape (one per bucket per request). */
export function upstreamCharge(ref: BucketRef, amount: number): BucketCharge {
  return { key: ref.key, limit: ref.limit, windowMs: ref.windowMs, fixedLimit: ref.fixedLimit, amount };
}

/** A charge with another amount (refunds and settlements reuse the reserved buckets). */
export function withAmount<T extends BucketRef>(charge: T, amount: number): T & { amount: number } {
  return { ...charge, amount };
}
