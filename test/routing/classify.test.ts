import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/routing/classify.js';
import {
  EVAL_SETS,
  evaluate,
  FROZEN_HOLDOUT,
  loadEvalSet,
  requestFor,
  TRAINING_SETS,
} from '../../src/routing/evaluate.js';
import type { MessagesRequestBody } from '../../src/routing/request.js';

function ask(prompt: string, extra: Partial<MessagesRequestBody> = {}): MessagesRequestBody {
  return { model: 'auto', max_tokens: 1024, messages: [{ role: 'user', content: prompt }], ...extra };
}

describe('evaluation sets', () => {
  it('hold several hundred labelled training prompts and a frozen hold-out of at least 60', () => {
    const training = TRAINING_SETS.flatMap((name) => loadEvalSet(name));
    const holdout = loadEvalSet(FROZEN_HOLDOUT);
    expect(training.length).toBeGreaterThanOrEqual(1100);
    expect(holdout.length).toBeGreaterThanOrEqual(60);
    for (const tier of ['fast', 'reasoning', 'critical'] as const)
      expect(holdout.filter((item) => item.tier === tier).length).toBeGreaterThanOrEqual(20);
    const all = EVAL_SETS.flatMap((name) => loadEvalSet(name));
    expect(new Set(all.map((item) => item.id)).size).toBe(all.length);
    // No hold-out prompt is in the training corpus.
    const trained = new Set(training.map((item) => item.prompt));
    expect(holdout.filter((item) => trained.has(item.prompt))).toEqual([]);
  });

  it('the second training corpus is balanced across tiers and has multi-turn items', () => {
    const corpus = loadEvalSet('training-2');
    expect(corpus.length).toBeGreaterThanOrEqual(450);
    expect(corpus.length).toBeLessThanOrEqual(700);
    for (const tier of ['fast', 'reasoning', 'critical'] as const)
      expect(corpus.filter((item) => item.tier === tier).length).toBeGreaterThanOrEqual(corpus.length / 4);
    const multiTurn = corpus.filter((item) => item.turns);
    expect(multiTurn.length).toBeGreaterThan(0);
    for (const item of multiTurn) expect(item.turns!.length % 2).toBe(0);
  });

  it('an item with earlier turns stands for a conversation: user and assistant alternate, the prompt last', () => {
    const body = requestFor({
      id: 'x',
      tier: 'fast',
      category: 'chat',
      prompt: 'and of Peru?',
      turns: ['Capital of Chile?', 'Santiago.'],
    });
    expect(body.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Capital of Chile?'],
      ['assistant', 'Santiago.'],
      ['user', 'and of Peru?'],
    ]);
  });

  it('the frozen hold-out is byte for byte the file committed before any training (0f67cd3)', () => {
    const text = readFileSync(
      fileURLToPath(new URL('../../src/routing/eval/frozen-holdout.json', import.meta.url)),
    );
    expect(createHash('sha256').update(text).digest('hex')).toBe(
      'e0237397b9b02774e6e562bea18bf0fc9f1468aadceb007d6efcf629cf54e349',
    );
  });

  it("the frozen hold-out meets the issue's targets (64/67 measured): >= 90 % exact, no critical to fast, cost <= 1.1x oracle", () => {
    const report = evaluate(loadEvalSet(FROZEN_HOLDOUT));
    expect(report.agreement).toBeGreaterThanOrEqual(0.9);
    expect(report.criticalToFast).toEqual([]);
    expect(report.cost.router / report.cost.oracle).toBeLessThanOrEqual(1.1);
    expect(report.cost.router).toBeLessThan(report.cost.allCritical);
  });

  it('the training sets are learned: >= 97 % exact, no critical to fast', () => {
    const report = evaluate(TRAINING_SETS.flatMap((name) => loadEvalSet(name)));
    expect(report.agreement).toBeGreaterThanOrEqual(0.97);
    expect(report.criticalToFast).toEqual([]);
  });
});

describe('classify', () => {
  it('is deterministic, with calibrated probabilities that sum to one and ASCII reasons', () => {
    const body = ask(
      'Refactor this function and explain the trade-offs:\n```ts\nconst f = (x) => x * 2;\n```',
    );
    const first = classify(body);
    expect(classify(body)).toEqual(first);
    const { fast, reasoning, critical } = first.probabilities;
    expect(fast + reasoning + critical).toBeCloseTo(1, 1);
    expect(first.confidence).toBeGreaterThanOrEqual(0);
    expect(first.confidence).toBeLessThanOrEqual(1);
    for (const reason of first.reasons) expect(reason).toMatch(/^[\x21-\x7e]+$/);
  });

  it('sends a greeting to fast, code to reasoning and a risky personal decision to critical', () => {
    expect(classify(ask('hello!')).tier).toBe('fast');
    expect(
      classify(ask('Implement a binary search tree in Rust with insert, delete and an in-order iterator.'))
        .tier,
    ).toBe('reasoning');
    expect(
      classify(ask('Should I stop taking my insulin if my blood sugar has been normal for a week?')).tier,
    ).toBe('critical');
  });

  it('goes up one tier when the confidence is below the threshold, and not above it', () => {
    const body = ask('hello!');
    const sure = classify(body, { threshold: 0 });
    expect(sure.tier).toBe('fast');
    expect(sure.decidedBy).toBe('model');
    const unsure = classify(body, { threshold: 1.01 });
    expect(unsure.uncertain).toBe(true);
    expect(unsure.tier).toBe('reasoning');
    expect(unsure.decidedBy).toBe('escalation');
    expect(unsure.reasons[0]).toMatch(/^escalated:confidence<1\.01$/);
  });

  it('lifts a trivial prompt to at least reasoning when thinking is requested', () => {
    const thinking = classify(ask('hello', { thinking: { type: 'enabled', budget_tokens: 8000 } }), {
      threshold: 0,
    });
    expect(thinking.tier).toBe('reasoning');
    expect(thinking.reasons).toContain('min-reasoning:thinking');
  });

  it('classifies a 100k-token prompt', () => {
    const paragraph = 'The quarterly report lists revenue by region and product line for the period. ';
    const long = paragraph.repeat(Math.ceil(400_000 / paragraph.length));
    const result = classify(ask(`${long}\nSummarize the main changes.`));
    expect(['fast', 'reasoning', 'critical']).toContain(result.tier);
    expect(Number.isFinite(result.score)).toBe(true);
  });

  it('survives malformed content without throwing', () => {
    const odd = {
      model: 'auto',
      max_tokens: 10,
      messages: [{ role: 'user', content: [null, { type: 'text' }] }],
    };
    expect(() => classify(odd as unknown as MessagesRequestBody)).not.toThrow();
    expect(() => classify({ model: 'auto', max_tokens: 10, messages: [] })).not.toThrow();
  });
});
