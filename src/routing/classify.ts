import { DENSE_FEATURES, extractFeatures, type FeatureVector } from './features.js';
import { predict, type RoutingModel, shippedModel } from './model.js';
import type { MessagesRequestBody } from './request.js';
import { TIERS, type Tier, tierRank } from './tiers.js';
import { type RequestView, viewRequest } from './view.js';

/** Who settled the tier: the model alone, escalation for low confidence, or the judge call. */
export type Decider = 'model' | 'escalation' | 'judge';

export interface Classification {
  tier: Tier;
  /** The model's own tier, before escalation and floors. */
  modelTier: Tier;
  /** Expected tier position in [0, 1]: P(reasoning) × 0.5 + P(critical). */
  score: number;
  /** Calibrated probability that `modelTier` is high enough (it, or a cheaper tier, is right). */
  confidence: number;
  /** Calibrated probability of each tier. */
  probabilities: Record<Tier, number>;
  /** True when the confidence was below the threshold (the tier went up one, or the judge is asked). */
  uncertain: boolean;
  decidedBy: Decider;
  /** A floor or escalation that changed the tier, then the features that weighed most (`words-code+1.20`). */
  reasons: string[];
}

export interface ClassifyOptions {
  model?: RoutingModel;
  /** Confidence below which the tier goes up one; the model's recommended value when absent. */
  threshold?: number;
}

const MAX_REASONS = 3;

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The features that pushed hardest toward the chosen tier, against the mean of the tiers. */
function explain(model: RoutingModel, x: FeatureVector, tier: Tier): string[] {
  const c = tierRank(tier);
  const w = model.weights;
  let text = 0;
  const named: Array<[string, number]> = [];
  for (let i = 0; i < x.length; i++) {
    const row = x.indices[i]! * 3;
    const lift = x.values[i]! * (w[row + c]! - (w[row]! + w[row + 1]! + w[row + 2]!) / 3);
    if (x.indices[i]! < model.spec.buckets) text += lift;
    else named.push([DENSE_FEATURES[x.indices[i]! - model.spec.buckets]!, lift]);
  }
  named.push(['text', text]);
  return named
    .filter(([, lift]) => lift > 0.05)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_REASONS)
    .map(([name, lift]) => `${name}+${lift.toFixed(2)}`);
}

/**
 * Routes a request view with the learned model: the tier of least expected cost, up one tier when
 * the calibrated confidence is below the threshold (quality first), and never below reasoning
 * when extended thinking is asked. Pure and deterministic; reads a bounded part of long texts.
 */
export function classifyView(view: RequestView, options: ClassifyOptions = {}): Classification {
  const model = options.model ?? shippedModel();
  const threshold = options.threshold ?? model.recommendedThreshold;
  const features = extractFeatures(view, model.spec);
  const prediction = predict(model, features);
  const [fast, reasoning, critical] = prediction.probabilities;
  let tier = prediction.tier;
  const floors: string[] = [];
  const uncertain = prediction.confidence < threshold;
  let decidedBy: Decider = 'model';
  if (uncertain && tier !== 'critical') {
    tier = TIERS[tierRank(tier) + 1]!;
    decidedBy = 'escalation';
    floors.push(`escalated:confidence<${threshold.toFixed(2)}`);
  }
  if (view.thinkingBudget > 0 && tier === 'fast') {
    tier = 'reasoning';
    floors.push('min-reasoning:thinking');
  }
  return {
    tier,
    modelTier: prediction.tier,
    score: round(reasoning * 0.5 + critical),
    confidence: round(prediction.confidence),
    probabilities: { fast: round(fast), reasoning: round(reasoning), critical: round(critical) },
    uncertain,
    decidedBy,
    reasons: [...floors, ...explain(model, features, prediction.tier)],
  };
}

/** Classifies a Messages request. */
export function classify(body: MessagesRequestBody, options: ClassifyOptions = {}): Classification {
  return classifyView(viewRequest(body), options);
}
