import type { RouteDecision } from './resolve.js';

export const ROUTE_HEADER = 'x-sluice-route';
const MAX_REASONS = 3;
const MAX_LENGTH = 240;

/** Keeps header values printable ASCII and free of the separators the value itself uses. */
function token(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '_').replace(/[;,=]/g, '_');
}

/**
 * The `x-sluice-route` value of a routed decision, e.g.
 * `tier=reasoning; score=0.45; by=classifier; confidence=0.91; decided=model; reasons=words-code+1.20`
 * (`judge=answered; judge-ms=212` when the judge was asked). Fields only ever get added.
 * Short and ASCII only; undefined for a request that named its model.
 */
export function formatRouteHeader(decision: RouteDecision): string | undefined {
  if (decision.kind !== 'routed') return undefined;
  const parts = [`tier=${decision.tier}`];
  if (decision.score !== null) parts.push(`score=${decision.score.toFixed(2)}`);
  parts.push(`by=${decision.source}`);
  if (decision.confidence !== null) parts.push(`confidence=${decision.confidence.toFixed(2)}`);
  if (decision.decided !== null) parts.push(`decided=${decision.decided}`);
  if (decision.judge)
    parts.push(`judge=${decision.judge.outcome}; judge-ms=${Math.round(decision.judge.latencyMs)}`);
  const reasons = decision.reasons.slice(0, MAX_REASONS).map(token);
  if (reasons.length > 0) parts.push(`reasons=${reasons.join(',')}`);
  const value = parts.join('; ');
  return value.length <= MAX_LENGTH ? value : value.slice(0, MAX_LENGTH);
}
