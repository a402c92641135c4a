/**
 * Token-bucket arithmetic shared by every store (the Redis Lua scripts mirror it line for line).
 * A bucket holds up to `limit` tokens and refills continuously at `limit` per window, the way
 * Anthropic replenishes its limits. Tokens may go negative: a settled request that used more
 * than it reserved leaves a debt that later requests wait out.
 */
export interface BucketState {
  limit: number;
  tokens: number;
  updatedAt: number;
  pausedUntil: number;
}

export function freshBucket(limit: number, now: number): BucketState {
  return { limit, tokens: limit, updatedAt: now, pausedUntil: 0 };
}

/** Brings a state to `now` in place: refilled since the last update, never above the limit. */
export function refill(state: BucketState, windowMs: number, now: number): BucketState {
  const elapsed = now - state.updatedAt;
  if (elapsed > 0) {
    state.tokens = Math.min(state.limit, state.tokens + (elapsed * state.limit) / windowMs);
    state.updatedAt = now;
  }
  return state;
}

/**
 * Milliseconds until `amount` tokens can be taken (0 = now). A request larger than the whole
 * bucket needs a full bucket rather than waiting forever.
 */
export function waitFor(state: BucketState, amount: number, windowMs: number, now: number): number {
  const need = Math.min(amount, state.limit);
  const pause = Math.max(0, state.pausedUntil - now);
  const shortfall = need - state.tokens;
  const refillWait = shortfall > 0 ? (shortfall * windowMs) / state.limit : 0;
  return Math.max(pause, refillWait);
}

/**
 * A new limit keeps what was spent recently (limit minus level): learning that the limit is twice
 * as high frees the difference at once, instead of waiting for a slow refill to find it.
 */
export function withLimit(state: BucketState, limit: number): BucketState {
  return { ...state, limit, tokens: Math.min(limit, state.tokens + limit - state.limit) };
}
