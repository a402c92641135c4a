import { classifyView, type Decider } from './classify.js';
import type { CompiledRouting, KeyPolicy } from './config.js';
import type { Judge, JudgeVerdict } from './judge.js';
import type { MessagesRequestBody } from './request.js';
import { effectivePolicy, firstMatchingRule } from './rules.js';
import { AUTO_MODEL, isRoutingAlias, isTier, maxTier, TIER_ALIASES, type Tier, tierRank } from './tiers.js';
import { viewRequest } from './view.js';

/** Header a client sends to ask for at least a tier. */
export const MIN_TIER_HEADER = 'x-sluice-min-tier';

export interface RouteInput {
  body: MessagesRequestBody;
  /** Request headers; names are matched case-insensitively. */
  headers: Record<string, string | undefined>;
  keyName: string;
  environment: string;
  keyPolicy?: KeyPolicy;
}

export type RouteSource = 'classifier' | 'rule' | 'alias';

export type RouteDecision =
  | { kind: 'explicit'; model: string }
  | {
      kind: 'routed';
      /** The model name the client sent: `auto` or a tier alias. */
      requested: string;
      tier: Tier;
      model: string;
      /** Classifier score; null when the client named the tier with an alias. */
      score: number | null;
      /** Calibrated classifier confidence; null when no classification was made. */
      confidence: number | null;
      /** Who settled a classified tier: the model, escalation for low confidence, or the judge. */
      decided: Decider | null;
      /** True when the classifier was unsure, the judge is enabled and has not been asked yet. */
      needsJudge: boolean;
      judge?: JudgeVerdict;
      reasons: string[];
      source: RouteSource;
      rule?: string;
    }
  | {
      kind: 'refused';
      status: 400 | 403;
      errorType: 'invalid_request_error' | 'permission_error';
      message: string;
    };

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function refuse(status: 400 | 403, message: string): RouteDecision {
  return {
    kind: 'refused',
    status,
    errorType: status === 400 ? 'invalid_request_error' : 'permission_error',
    message,
  };
}

/**
 * The route stage's decision. An explicit model passes through untouched; `auto` goes through
 * rules, then the classifier; a tier alias names the tier itself. Then the client's minimum tier
 * raises it and the key's policy caps it. A tier the client demands (alias or minimum) above the
 * key's cap is refused rather than silently downgraded; a tier the gateway chose is capped.
 */
export function resolveRoute(
  input: RouteInput,
  config: CompiledRouting,
  verdict?: JudgeVerdict,
): RouteDecision {
  const requested = input.body.model;
  if (typeof requested !== 'string' || !isRoutingAlias(requested))
    return { kind: 'explicit', model: requested };
  if (!config.enabled)
    return refuse(400, `model "${requested}" is not available: routing is disabled on this gateway`);

  const policy = effectivePolicy(config, input.keyName, input.keyPolicy);
  if (requested === AUTO_MODEL && !policy.allowAuto) {
    return refuse(
      403,
      'this key may not use model "auto": name a model or a tier alias such as "sluice-fast"',
    );
  }

  const minHeader = header(input.headers, MIN_TIER_HEADER)?.trim().toLowerCase();
  if (minHeader !== undefined && minHeader !== '' && !isTier(minHeader)) {
    return refuse(400, `${MIN_TIER_HEADER} must be one of fast, reasoning, critical`);
  }
  const minimum: Tier | undefined = minHeader && isTier(minHeader) ? minHeader : undefined;

  let tier: Tier;
  let score: number | null = null;
  let confidence: number | null = null;
  let decided: Decider | null = null;
  let needsJudge = false;
  let reasons: string[];
  let source: RouteSource;
  let ruleName: string | undefined;
  const aliasTier = TIER_ALIASES[requested];
  if (aliasTier) {
    tier = aliasTier;
    source = 'alias';
    reasons = [`alias:${requested}`];
  } else {
    const view = viewRequest(input.body);
    const classification = classifyView(view, { model: config.model, threshold: config.confidenceThreshold });
    score = classification.score;
    confidence = classification.confidence;
    const rule = firstMatchingRule(config.rules, {
      keyName: input.keyName,
      environment: input.environment,
      headers: input.headers,
      metadata: input.body.metadata,
      prompt: view.prompt,
    });
    if (rule) {
      tier = rule.tier;
      source = 'rule';
      ruleName = rule.name;
      reasons = [`rule:${rule.name}`];
    } else {
      tier = classification.tier;
      source = 'classifier';
      reasons = classification.reasons;
      decided = classification.decidedBy;
      if (classification.uncertain && config.judge.enabled) {
        if (!verdict) needsJudge = true;
        else if (verdict.tier) {
          // The judge decides; a request asking for thinking still never goes below reasoning.
          tier = view.thinkingBudget > 0 ? maxTier(verdict.tier, 'reasoning') : verdict.tier;
          decided = 'judge';
          reasons = [`judge:${verdict.tier}`, ...reasons.filter((r) => !r.startsWith('escalated:'))];
        } else {
          reasons = [`judge-${verdict.outcome}`, ...reasons];
        }
      }
    }
  }

  const demanded = source === 'alias' ? (minimum ? maxTier(tier, minimum) : tier) : minimum;
  if (demanded && tierRank(demanded) > tierRank(policy.maxTier)) {
    return refuse(403, `this key may not use the ${demanded} tier (highest allowed: ${policy.maxTier})`);
  }
  if (minimum && tierRank(minimum) > tierRank(tier)) {
    tier = minimum;
    reasons = [...reasons, `min-tier-header:${minimum}`];
  }
  if (tierRank(tier) > tierRank(policy.maxTier)) {
    tier = policy.maxTier;
    reasons = [...reasons, `capped:${policy.maxTier}`];
  }
  return {
    kind: 'routed',
    requested,
    tier,
    model: config.models[tier],
    score,
    confidence,
    decided,
    needsJudge,
    ...(verdict ? { judge: verdict } : {}),
    reasons,
    source,
    ...(ruleName ? { rule: ruleName } : {}),
  };
}

/**
 * resolveRoute, then, when the classifier was unsure and the judge is enabled, the judge's call
 * and the decision again with its verdict. Without a judge, or when it fails or times out, the
 * uncertain request keeps the tier one above the model's.
 */
export async function routeRequest(
  input: RouteInput,
  config: CompiledRouting,
  judge?: Judge,
  principal?: Parameters<Judge>[1],
  /** The decision without a verdict, when the caller already has it. */
  first: RouteDecision = resolveRoute(input, config),
): Promise<RouteDecision> {
  if (first.kind !== 'routed' || !first.needsJudge || !judge) return first;
  const verdict = await judge(viewRequest(input.body), principal);
  return resolveRoute(input, config, verdict);
}
