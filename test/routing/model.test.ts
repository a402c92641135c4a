import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRouting } from '../../src/routing/config.js';
import { loadEvalSet, TRAINING_SETS } from '../../src/routing/eval-sets.js';
import { DENSE_FEATURES } from '../../src/routing/features.js';
import {
  loadRoutingModel,
  MODEL_FORMAT,
  modelFromData,
  RoutingModelError,
  SHIPPED_MODEL_PATH,
} from '../../src/routing/model.js';
import { corpusSha256, examplesOf, fitModel } from '../../src/routing/train.js';

const shippedText = readFileSync(SHIPPED_MODEL_PATH, 'utf8');

function writeModel(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-model-')), 'model.json');
  writeFileSync(path, content);
  return path;
}

describe('routing model file', () => {
  it('loads the shipped weights: versioned, calibrated, trained on the training sets only', () => {
    const model = loadRoutingModel();
    const file = JSON.parse(shippedText);
    expect(file.format).toBe(MODEL_FORMAT);
    expect(file.features.dense).toEqual([...DENSE_FEATURES]);
    expect(model.temperature).toBeGreaterThan(0);
    expect(model.recommendedThreshold).toBeGreaterThanOrEqual(0);
    expect(model.recommendedThreshold).toBeLessThanOrEqual(1);
    expect(file.training.sets).not.toContain('frozen-holdout');
    expect(model.weights.some((w) => w !== 0)).toBe(true);
  });

  it('was trained on the training sets as they are now: a changed prompt or label needs npm run train:routing', () => {
    const file = JSON.parse(shippedText);
    const items = TRAINING_SETS.flatMap((name) => loadEvalSet(name));
    expect(file.training.sets).toEqual([...TRAINING_SETS]);
    expect(file.training.examples).toBe(items.length);
    expect(file.training.corpusSha256).toBe(corpusSha256(items));
    const relabelled = items.map((item, i) => (i === 0 ? { ...item, tier: 'critical' as const } : item));
    expect(corpusSha256(relabelled)).not.toBe(file.training.corpusSha256);
  });

  it('refuses a malformed file with a clear error naming it', () => {
    const notJson = writeModel('{"format": "sluice-routing-model",');
    expect(() => loadRoutingModel(notJson)).toThrow(RoutingModelError);
    expect(() => loadRoutingModel(notJson)).toThrow(/routing model .*model\.json is not JSON/);
    expect(() => loadRoutingModel('/nonexistent/model.json')).toThrow(/cannot read the routing model/);

    const file = JSON.parse(shippedText);
    expect(() => modelFromData({ ...file, format: 'other' })).toThrow(/format/);
    expect(() => modelFromData({ ...file, temperature: -1 })).toThrow(/temperature/);
    expect(() => modelFromData({ ...file, bias: [0, 'x', 0] })).toThrow(/bias\.1/);
    expect(() => modelFromData({ ...file, hashedWeights: file.hashedWeights.slice(1) })).toThrow(
      /three weights per hashedIndex/,
    );
    expect(() =>
      modelFromData({ ...file, features: { ...file.features, dense: file.features.dense.slice(1) } }),
    ).toThrow(/trained on other features.*npm run train:routing/);
  });

  it('routing.model points the gateway at another weights file; a bad one fails at start', () => {
    const good = writeModel(shippedText);
    expect(compileRouting({ model: good }).model.source).toContain(good);
    const bad = writeModel('[]');
    expect(() => compileRouting({ model: bad })).toThrow(RoutingModelError);
  });

  it('training is deterministic: the same examples give the same weights', () => {
    const examples = examplesOf(loadEvalSet('prompts'));
    const options = { l2: 1e-3, epochs: 10, learningRate: 0.05, folds: 5, seed: 16 };
    const first = fitModel(examples, options);
    const second = fitModel(examples, options);
    expect(Buffer.from(first.w.buffer).equals(Buffer.from(second.w.buffer))).toBe(true);
    expect([...first.b]).toEqual([...second.b]);
  });
});
