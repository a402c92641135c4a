export {
  checkLimitsConfig,
  initialUpstreamLimits,
  type LimitsConfig,
  LimitsConfigError,
  limitsConfigSchema,
  limitsFromEnvironment,
} from './config.js';
export { InputTokenEstimator } from './estimate.js';
export { FailoverBucketStore } from './failover-store.js';
export { parseRateLimitHeaders, type RateLimitReading, type Speed } from './headers.js';
export type {
  Admission,
  AdmitInput,
  LimiterOptions,
  LimitsSnapshot,
  Refusal,
  RefusalReason,
} from './limiter.js';
export { Limiter } from './limiter.js';
export { MemoryBucketStore } from './memory-store.js';
export { RedisBucketStore } from './redis-store.js';
export { requestSpeed } from './speed.js';
export { type BucketStore, LimitsUnavailableError } from './store.js';
export { createBucketStore } from './stores.js';
