import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DENSE_FEATURES, type FeatureSpec, type FeatureVector, featureCount } from './features.js';
import { TIERS, type Tier } from './tiers.js';

/** The weights file shipped with Sluice, written by `npm run train:routing`. */
export const SHIPPED_MODEL_PATH = fileURLToPath(new URL('../../catalog/routing-model.json', import.meta.url));

export const MODEL_FORMAT = 'sluice-routing-model';
export const MODEL_VERSION = 1;

const finite = z.number().finite();

/** The weights file: a multinomial logistic regression over the features of `features.ts`. */
export const modelFileSchema = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(MODEL_VERSION),
  classes: z.tuple([z.literal('fast'), z.literal('reasoning'), z.literal('critical')]),
  features: z.strictObject({
    buckets: z
      .number()
      .int()
      .min(2)
      .max(1 << 22)
      .refine((n) => (n & (n - 1)) === 0, { message: 'buckets must be a power of two' }),
    scan: z.strictObject({
      promptHead: z.number().int().min(0),
      promptTail: z.number().int().min(0),
      history: z.number().int().min(0),
      system: z.number().int().min(0),
    }),
    dense: z.array(z.string()),
  }),
  /** Softmax temperature fitted on held-out folds of the training corpus (calibration). */
  temperature: finite.positive(),
  /** Confidence below which the request goes up one tier, chosen on the training corpus's folds. */
  recommendedThreshold: finite.min(0).max(1),
  /**
   * Cost of sending a request one tier too low, against 1 for one tier too high; two tiers too
   * low cost four times that. The tier chosen is the one of least expected cost (quality first).
   */
  underRoutingCost: finite.min(1),
  bias: z.tuple([finite, finite, finite]),
  /** Non-zero hashed buckets, ascending, and their weights (three per bucket, one per class). */
  hashedIndex: z.array(z.number().int().min(0)),
  hashedWeights: z.array(finite),
  /** One row of three weights per dense feature, in `features.dense` order. */
  denseWeights: z.array(z.tuple([finite, finite, finite])),
  training: z.record(z.string(), z.unknown()),
});

export type ModelFile = z.output<typeof modelFileSchema>;

export class RoutingModelError extends Error {
  override readonly name = 'RoutingModelError';
}

export interface RoutingModel {
  spec: FeatureSpec;
  temperature: number;
  recommendedThreshold: number;
  underRoutingCost: number;
  /** weights[feature * 3 + class] */
  weights: Float64Array;
  bias: [number, number, number];
  /** Where it came from, for messages. */
  source: string;
  training: Record<string, unknown>;
}

export interface Prediction {
  tier: Tier;
  /** Calibrated probability of each tier, in TIERS order. */
  probabilities: [number, number, number];
  /** Calibrated probability that the chosen tier is high enough (the right tier or a lower one is). */
  confidence: number;
  /** Per-class logits before the temperature, kept for explanations. */
  logits: [number, number, number];
}

/** Checks a parsed weights file and builds the dense weight table. Throws RoutingModelError. */
export function modelFromData(data: unknown, source = 'routing model'): RoutingModel {
  const parsed = modelFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RoutingModelError(
      `${source} is not a valid routing model: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  const file = parsed.data;
  const expected = DENSE_FEATURES as readonly string[];
  if (
    file.features.dense.length !== expected.length ||
    file.features.dense.some((n, i) => n !== expected[i])
  ) {
    throw new RoutingModelError(
      `${source} was trained on other features (${file.features.dense.length} named features, this Sluice has ${expected.length}): retrain it with npm run train:routing`,
    );
  }
  if (file.denseWeights.length !== expected.length)
    throw new RoutingModelError(
      `${source}: denseWeights has ${file.denseWeights.length} rows, expected ${expected.length}`,
    );
  if (file.hashedWeights.length !== file.hashedIndex.length * 3)
    throw new RoutingModelError(`${source}: hashedWeights must hold three weights per hashedIndex entry`);
  const spec: FeatureSpec = { buckets: file.features.buckets, scan: file.features.scan };
  const weights = new Float64Array(featureCount(spec) * 3);
  file.hashedIndex.forEach((index, i) => {
    if (index >= spec.buckets)
      throw new RoutingModelError(`${source}: hashed index ${index} is outside ${spec.buckets} buckets`);
    for (let c = 0; c < 3; c++) weights[index * 3 + c] = file.hashedWeights[i * 3 + c]!;
  });
  file.denseWeights.forEach((row, j) => {
    for (let c = 0; c < 3; c++) weights[(spec.buckets + j) * 3 + c] = row[c]!;
  });
  return {
    spec,
    temperature: file.temperature,
    recommendedThreshold: file.recommendedThreshold,
    underRoutingCost: file.underRoutingCost,
    weights,
    bias: file.bias,
    source,
    training: file.training,
  };
}

/** Reads and checks a weights file. A missing or malformed file is a RoutingModelError naming it. */
export function loadRoutingModel(path: string = SHIPPED_MODEL_PATH): RoutingModel {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RoutingModelError(`cannot read the routing model ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new RoutingModelError(`the routing model ${path} is not JSON: ${(error as Error).message}`);
  }
  return modelFromData(data, `the routing model ${path}`);
}

let shipped: RoutingModel | undefined;

/** The shipped model, read once per process. */
export function shippedModel(): RoutingModel {
  shipped ??= loadRoutingModel();
  return shipped;
}

/** Raw per-class scores of a feature vector. */
export function logitsOf(model: RoutingModel, x: FeatureVector): [number, number, number] {
  const w = model.weights;
  let l0 = model.bias[0];
  let l1 = model.bias[1];
  let l2 = model.bias[2];
  for (let i = 0; i < x.length; i++) {
    const row = x.indices[i]! * 3;
    const v = x.values[i]!;
    l0 += v * w[row]!;
    l1 += v * w[row + 1]!;
    l2 += v * w[row + 2]!;
  }
  return [l0, l1, l2];
}

export function softmax(logits: readonly number[], temperature = 1): [number, number, number] {
  const scaled = logits.map((l) => l / temperature);
  const top = Math.max(...scaled);
  const exps = scaled.map((l) => Math.exp(l - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return [exps[0]! / sum, exps[1]! / sum, exps[2]! / sum];
}

/** Expected cost of routing to `routed` given the tier probabilities (see `underRoutingCost`). */
function expectedCost(probabilities: readonly number[], routed: number, underRoutingCost: number): number {
  let cost = 0;
  for (let label = 0; label < 3; label++) {
    const steps = label - routed;
    cost += probabilities[label]! * (steps > 0 ? underRoutingCost * steps * steps : -steps);
  }
  return cost;
}

/** The tier of least expected cost; the first (cheapest) on a tie. */
export function decide(probabilities: readonly number[], underRoutingCost: number): number {
  let best = 0;
  let bestCost = expectedCost(probabilities, 0, underRoutingCost);
  for (let routed = 1; routed < 3; routed++) {
    const cost = expectedCost(probabilities, routed, underRoutingCost);
    if (cost < bestCost) {
      best = routed;
      bestCost = cost;
    }
  }
  return best;
}

/** Probability that routing to `routed` is not too low: the label is that tier or a cheaper one. */
export function adequacy(probabilities: readonly number[], routed: number): number {
  let sum = 0;
  for (let label = 0; label <= routed; label++) sum += probabilities[label]!;
  return Math.min(1, sum);
}

export function predict(model: RoutingModel, x: FeatureVector): Prediction {
  const logits = logitsOf(model, x);
  const probabilities = softmax(logits, model.temperature);
  const best = decide(probabilities, model.underRoutingCost);
  return { tier: TIERS[best]!, probabilities, confidence: adequacy(probabilities, best), logits };
}
