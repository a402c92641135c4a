import { Counter } from 'prom-client';
import type { UnpricedPolicy } from './schema.js';

/**
 * Requests whose model has no price in the catalog. Registered nowhere by default so the server
 * can add it to its own registry (`registry.registerMetric(unpricedRequests)`).
 */
export const unpricedRequests = new Counter({
  name: 'sluice_unpriced_requests_total',
  help: 'Requests whose model has no price in the catalog (counted at the worst case unless allowed)',
  labelNames: ['model', 'reason'],
  registers: [],
});

type Warn = (message: string, model: string) => void;

const warnedModels = new Set<string>();
let warn: Warn = (message) => process.emitWarning(message, { code: 'SLUICE_UNPRICED_MODEL' });

/** Where the once-per-model warning goes (the server passes its logger). */
export function setUnpricedWarning(handler: Warn): void {
  warn = handler;
}

/** What happens to requests for a model without a price under a policy, for people to read. */
export function unpricedTreatment(policy: UnpricedPolicy): string {
  if (policy === 'allow') return 'let through uncounted';
  if (policy === 'refuse') return 'refused';
  return "counted at their family's dearest price";
}

/** Counts an unpriced request and warns the first time a model is seen without a price. */
export function noteUnpriced(model: string, reason: string, policy: UnpricedPolicy): void {
  unpricedRequests.inc({ model, reason });
  if (warnedModels.has(model)) return;
  warnedModels.add(model);
  warn(
    `model "${model}" has no price in the catalog (${reason}): its requests are ${unpricedTreatment(policy)} ` +
      'and recorded as unpriced; run `sluice catalog update` or add a price under catalog.prices in sluice.yaml',
    model,
  );
}
