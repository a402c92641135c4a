import type { RouteDecision } from './resolve.js';

export const ROUTE_HEADER = 'x-sluice-route';
const MAX_REASONS = 3;
const MAX_LENGTH = 200;

/** Keeps header values printable ASCII and free of the separators the value itself uses. */
function token(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '_').replace(/[;,=]/g, '_');
}

/**
 * The `x-sluice-route` value of a routed decision, e.g.
 * `tier=reasoning; score=0.45; by=classifier; reasons=code+0.45,short-prompt-0.10`.
 * Short and ASCII only; undefined for a request that named its model.
 */
export function formatRouteHeader(decision: RouteDecision): string | undefined {
  if (decision.kind !== 'routed') return undefined;
  const parts = [`tier=${decision.tier}`];
  if (decision.score !== null) parts.push(`score=${decision.score.toFixed(2)}`);
  parts.push(`by=${decision.source}`);
  const reasons = decision.reasons.slice(0, MAX_REASONS).map(token);
  if (reasons.length > 0) parts.push(`reasons=${reasons.join(',')}`);
  const value = parts.join('; ');
  return value.length <= MAX_LENGTH ? value : value.slice(0, MAX_LENGTH);
}
