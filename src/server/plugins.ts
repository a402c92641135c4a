import type { GatewayCore, GatewayPlugins } from './gateway.js';

/** Upstream limits given on the command line (they win over SLUICE_TIER and sluice.yaml). */
export interface LimitFlags {
  tier?: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
}

/** The pipeline's pluggable stages (routing, budgets, limits, pricing, ledger), built from configuration. */
export async function gatewayPlugins(_core: GatewayCore, _limits: LimitFlags = {}): Promise<GatewayPlugins> {
  return {};
}
