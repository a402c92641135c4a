/**
 * Trains the routing classifier offline: `npm run train:routing` reads the training sets under
 * `src/routing/eval/` (never the frozen hold-out), fits a multinomial logistic regression on the
 * features of `features.ts`, calibrates its confidence on held-out folds of the same corpus, and
 * writes `catalog/routing-model.json`. Deterministic: same corpus, same file, byte for byte.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type EvalItem, loadEvalSet, requestFor, TRAINING_SETS } from './eval-sets.js';
import {
  DEFAULT_FEATURE_SPEC,
  DENSE_FEATURES,
  extractFeatures,
  type FeatureVector,
  featureCount,
} from './features.js';
import {
  adequacy,
  decide,
  MODEL_FORMAT,
  MODEL_VERSION,
  type ModelFile,
  SHIPPED_MODEL_PATH,
  softmax,
} from './model.js';
import { TIERS, tierRank } from './tiers.js';
import { viewRequest } from './view.js';

export interface TrainOptions {
  /** L2 penalty per example on all weights but the biases. */
  l2: number;
  epochs: number;
  learningRate: number;
  folds: number;
  seed: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  l2: 1e-3,
  epochs: 300,
  learningRate: 0.05,
  folds: 5,
  seed: 16,
};
const L2_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2];
const THRESHOLD_GRID = [0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9];
const UNDER_COST_GRID = [1, 1.5, 2, 3];

interface Example {
  x: FeatureVector;
  y: number;
}

interface Weights {
  w: Float64Array;
  b: Float64Array;
}

/** mulberry32: a small seeded generator, so folds are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function examplesOf(items: EvalItem[]): Example[] {
  return items.map((item) => {
    const x = extractFeatures(viewRequest(requestFor(item)), DEFAULT_FEATURE_SPEC);
    return {
      x: { indices: x.indices.slice(), values: x.values.slice(), length: x.length },
      y: tierRank(item.tier),
    };
  });
}

function logits(model: Weights, x: FeatureVector): number[] {
  const out = [model.b[0]!, model.b[1]!, model.b[2]!];
  for (let i = 0; i < x.length; i++) {
    const row = x.indices[i]! * 3;
    const v = x.values[i]!;
    out[0]! += v * model.w[row]!;
    out[1]! += v * model.w[row + 1]!;
    out[2]! += v * model.w[row + 2]!;
  }
  return out;
}

/** Full-batch Adam on class-balanced cross-entropy with an L2 penalty: no sampling, so no randomness. */
export function fitModel(examples: Example[], options: TrainOptions): Weights {
  const size = featureCount(DEFAULT_FEATURE_SPEC) * 3;
  const model: Weights = { w: new Float64Array(size), b: new Float64Array(3) };
  const perClass = [0, 0, 0];
  for (const e of examples) perClass[e.y]!++;
  const classWeight = perClass.map((n) => (n === 0 ? 0 : examples.length / (3 * n)));
  const gw = new Float64Array(size);
  const gb = new Float64Array(3);
  const mw = new Float64Array(size);
  const vw = new Float64Array(size);
  const mb = new Float64Array(3);
  const vb = new Float64Array(3);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  const n = examples.length;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    gw.fill(0);
    gb.fill(0);
    for (const e of examples) {
      const p = softmax(logits(model, e.x));
      const weight = classWeight[e.y]! / n;
      for (let c = 0; c < 3; c++) {
        const g = (p[c]! - (c === e.y ? 1 : 0)) * weight;
        gb[c]! += g;
        for (let i = 0; i < e.x.length; i++) gw[e.x.indices[i]! * 3 + c]! += g * e.x.values[i]!;
      }
    }
    const correction1 = 1 - beta1 ** epoch;
    const correction2 = 1 - beta2 ** epoch;
    for (let k = 0; k < size; k++) {
      const g = gw[k]! + options.l2 * model.w[k]!;
      if (g === 0 && mw[k] === 0) continue;
      mw[k] = beta1 * mw[k]! + (1 - beta1) * g;
      vw[k] = beta2 * vw[k]! + (1 - beta2) * g * g;
      model.w[k]! -=
        (options.learningRate * (mw[k]! / correction1)) / (Math.sqrt(vw[k]! / correction2) + eps);
    }
    for (let c = 0; c < 3; c++) {
      mb[c] = beta1 * mb[c]! + (1 - beta1) * gb[c]!;
      vb[c] = beta2 * vb[c]! + (1 - beta2) * gb[c]! ** 2;
      model.b[c]! -=
        (options.learningRate * (mb[c]! / correction1)) / (Math.sqrt(vb[c]! / correction2) + eps);
    }
  }
  return model;
}

/** Stratified fold of each example, from the seed. */
function foldsOf(examples: Example[], folds: number, seed: number): number[] {
  const random = seeded(seed);
  const fold = new Array<number>(examples.length).fill(0);
  for (let y = 0; y < 3; y++) {
    const members = examples.map((e, i) => (e.y === y ? i : -1)).filter((i) => i >= 0);
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    members.forEach((index, k) => {
      fold[index] = k % folds;
    });
  }
  return fold;
}

/** Logits of every example from a model that did not see it (k-fold). */
function outOfFold(examples: Example[], options: TrainOptions): number[][] {
  const fold = foldsOf(examples, options.folds, options.seed);
  const out: number[][] = new Array(examples.length);
  for (let k = 0; k < options.folds; k++) {
    const model = fitModel(
      examples.filter((_, i) => fold[i] !== k),
      options,
    );
    examples.forEach((e, i) => {
      if (fold[i] === k) out[i] = logits(model, e.x);
    });
  }
  return out;
}

function negativeLogLikelihood(all: number[][], examples: Example[], temperature: number): number {
  let total = 0;
  all.forEach((l, i) => {
    total -= Math.log(Math.max(softmax(l, temperature)[examples[i]!.y]!, 1e-12));
  });
  return total / examples.length;
}

/** Temperature scaling: the T minimising held-out log loss, by golden-section search on log T. */
export function fitTemperature(all: number[][], examples: Example[]): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const ratio = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 80; i++) {
    const a = hi - ratio * (hi - lo);
    const b = lo + ratio * (hi - lo);
    if (negativeLogLikelihood(all, examples, Math.exp(a)) < negativeLogLikelihood(all, examples, Math.exp(b)))
      hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}

export interface FoldScore {
  agreement: number;
  criticalToFast: number;
  under: number;
  over: number;
  /** confusion[label][routed], tiers in rank order. */
  confusion: number[][];
}

/** Routing with escalation below a confidence threshold, scored against the labels. */
export function scoreWithThreshold(
  all: number[][],
  examples: Example[],
  temperature: number,
  threshold: number,
  underCost: number,
): FoldScore {
  const score = {
    agreement: 0,
    criticalToFast: 0,
    under: 0,
    over: 0,
    confusion: TIERS.map(() => TIERS.map(() => 0)),
  };
  all.forEach((l, i) => {
    const p = softmax(l, temperature);
    const best = decide(p, underCost);
    const routed = adequacy(p, best) < threshold ? Math.min(2, best + 1) : best;
    const y = examples[i]!.y;
    score.confusion[y]![routed]!++;
    if (routed === y) score.agreement++;
    else if (routed < y) score.under++;
    else score.over++;
    if (y === 2 && routed === 0) score.criticalToFast++;
  });
  score.agreement /= examples.length;
  return score;
}

/** Quality first: a critical prompt sent to fast costs most, any under-routing costs more than over. */
function utility(s: FoldScore, n: number): number {
  return s.agreement - (3 * s.criticalToFast) / n - (0.5 * s.under) / n;
}

function round(value: number): number {
  return Math.round(value * 1e5) / 1e5;
}

/**
 * What the weights file records of the corpus it was trained on: changes when anything the
 * features read (prompt, system prompt, turns, tools, thinking) or a label does.
 */
export function corpusSha256(items: EvalItem[]): string {
  return createHash('sha256')
    .update(
      JSON.stringify(
        items.map((item) => [
          item.id,
          item.tier,
          item.prompt,
          item.system ?? '',
          ...(item.turns ? [item.turns] : []),
          ...(item.tools || item.thinkingBudget ? [item.tools ?? 0, item.thinkingBudget ?? 0] : []),
        ]),
      ),
    )
    .digest('hex');
}

export function train(log: (line: string) => void = () => {}): ModelFile {
  const items = TRAINING_SETS.flatMap((name) => loadEvalSet(name));
  const examples = examplesOf(items);
  log(`training corpus: ${items.length} prompts from ${TRAINING_SETS.join(', ')}`);
  let best:
    | {
        l2: number;
        oof: number[][];
        temperature: number;
        threshold: number;
        underCost: number;
        score: FoldScore;
      }
    | undefined;
  for (const l2 of L2_GRID) {
    const options = { ...DEFAULT_TRAIN_OPTIONS, l2 };
    const oof = outOfFold(examples, options);
    const temperature = fitTemperature(oof, examples);
    for (const underCost of UNDER_COST_GRID) {
      for (const threshold of THRESHOLD_GRID) {
        const score = scoreWithThreshold(oof, examples, temperature, threshold, underCost);
        log(
          `  l2=${l2} T=${temperature.toFixed(3)} under-cost=${underCost} threshold=${threshold}: ${options.folds}-fold agreement ${(score.agreement * 100).toFixed(1)} %, critical->fast ${score.criticalToFast}, under ${score.under}, over ${score.over}`,
        );
        // On a tie the later (higher) threshold wins: quality first.
        if (!best || utility(score, examples.length) >= utility(best.score, examples.length))
          best = { l2, oof, temperature, threshold, underCost, score };
      }
    }
  }
  const chosen = best!;
  const plain = scoreWithThreshold(chosen.oof, examples, chosen.temperature, 0, 1);
  log(
    `chosen: l2=${chosen.l2}, temperature ${chosen.temperature.toFixed(3)}, under-routing cost ${chosen.underCost}, threshold ${chosen.threshold}; cross-validated agreement ${(plain.agreement * 100).toFixed(1)} % by the most probable tier, ${(chosen.score.agreement * 100).toFixed(1)} % (critical->fast ${chosen.score.criticalToFast}) as routed`,
  );
  log('cross-validated confusion as routed (rows: label, columns: routed fast/reasoning/critical):');
  TIERS.forEach((tier, y) => {
    log(`  ${tier.padEnd(9)} ${chosen.score.confusion[y]!.map((n) => String(n).padStart(4)).join(' ')}`);
  });
  const model = fitModel(examples, { ...DEFAULT_TRAIN_OPTIONS, l2: chosen.l2 });
  const hashedIndex: number[] = [];
  const hashedWeights: number[] = [];
  const buckets = DEFAULT_FEATURE_SPEC.buckets;
  for (let k = 0; k < buckets; k++) {
    const row = [model.w[k * 3]!, model.w[k * 3 + 1]!, model.w[k * 3 + 2]!].map(round);
    if (row.some((v) => v !== 0)) {
      hashedIndex.push(k);
      hashedWeights.push(...row);
    }
  }
  const denseWeights = DENSE_FEATURES.map(
    (_, j) => [0, 1, 2].map((c) => round(model.w[(buckets + j) * 3 + c]!)) as [number, number, number],
  );
  const corpus = corpusSha256(items);
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    classes: [...TIERS] as ['fast', 'reasoning', 'critical'],
    features: { buckets, scan: DEFAULT_FEATURE_SPEC.scan, dense: [...DENSE_FEATURES] },
    temperature: round(chosen.temperature),
    recommendedThreshold: chosen.threshold,
    underRoutingCost: chosen.underCost,
    bias: [round(model.b[0]!), round(model.b[1]!), round(model.b[2]!)],
    hashedIndex,
    hashedWeights,
    denseWeights,
    training: {
      sets: [...TRAINING_SETS],
      examples: items.length,
      corpusSha256: corpus,
      seed: DEFAULT_TRAIN_OPTIONS.seed,
      folds: DEFAULT_TRAIN_OPTIONS.folds,
      epochs: DEFAULT_TRAIN_OPTIONS.epochs,
      learningRate: DEFAULT_TRAIN_OPTIONS.learningRate,
      l2: chosen.l2,
      crossValidatedAgreement: round(plain.agreement),
      crossValidatedAgreementWithEscalation: round(chosen.score.agreement),
      crossValidatedCriticalToFast: chosen.score.criticalToFast,
    },
  };
}

function main(): void {
  const out = process.argv[2] ?? SHIPPED_MODEL_PATH;
  const file = train((line) => console.log(line));
  writeFileSync(out, `${JSON.stringify(file)}\n`);
  console.log(`wrote ${out} (${file.hashedIndex.length} hashed buckets in use)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
