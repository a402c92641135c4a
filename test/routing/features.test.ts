import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEATURE_SPEC,
  DENSE_FEATURES,
  extractFeatures,
  type FeatureVector,
  hashLexicon,
} from '../../src/routing/features.js';
import type { MessagesRequestBody } from '../../src/routing/request.js';
import { viewRequest } from '../../src/routing/view.js';

function features(prompt: string, extra: Partial<MessagesRequestBody> = {}): FeatureVector {
  return extractFeatures(
    viewRequest({ model: 'auto', max_tokens: 1024, messages: [{ role: 'user', content: prompt }], ...extra }),
  );
}

function dense(x: FeatureVector, name: (typeof DENSE_FEATURES)[number]): number {
  const index = DEFAULT_FEATURE_SPEC.buckets + DENSE_FEATURES.indexOf(name);
  for (let i = 0; i < x.length; i++) if (x.indices[i] === index) return x.values[i]!;
  return Number.NaN;
}

function textIndices(x: FeatureVector): number[] {
  return [...x.indices.slice(0, x.length)].filter((i) => i < DEFAULT_FEATURE_SPEC.buckets).sort();
}

describe('routing features', () => {
  it('counts word-list words, stems and phrases from the feature hashes', () => {
    const x = features('We must investigate the diagnosis step-by-step; what would you do?');
    expect(dense(x, 'words-medical')).toBeGreaterThan(0); // diagnos*
    expect(dense(x, 'words-multiStep')).toBeGreaterThan(0); // "step by step"
    expect(dense(x, 'words-analysis')).toBeGreaterThan(0); // investigat*
    expect(dense(features('hello there'), 'words-medical')).toBe(0);
  });

  it('counts word-list words written with accents, in other languages than English', () => {
    expect(dense(features('Dois-je appeler le médecin ?'), 'words-medical')).toBeGreaterThan(0);
    expect(dense(features('Dois-je appeler le médecin ?'), 'words-advice')).toBeGreaterThan(0);
    expect(dense(features('Übersetze diesen Satz.'), 'words-simple')).toBeGreaterThan(0);
    expect(dense(features('La cláusula de responsabilidad'), 'words-legal')).toBeGreaterThan(0);
    // Without its accent it is another word: "medecin" is not in the lists.
    expect(dense(features('medecin'), 'words-medical')).toBe(0);
  });

  it('refuses a word-list phrase longer than four words', () => {
    expect(() => hashLexicon({ code: 'one two three four five' })).toThrow(/longer than 4 words/);
  });

  it('reads case, accents and numbers the same way, and CJK text character by character', () => {
    expect(textIndices(features('Refactor THIS in 2026'))).toEqual(
      textIndices(features('refactor this in 1999')),
    );
    expect(textIndices(features('Élan vital'))).toEqual(textIndices(features('élan vital')));
    expect(textIndices(features('救急車を呼ぶべきですか')).length).toBeGreaterThan(10);
  });

  it('keeps the prompt, the system prompt and earlier turns apart', () => {
    const inPrompt = features('contract review');
    const inSystem = features('ok', { system: 'contract review' });
    const shared = textIndices(inPrompt).filter((i) => textIndices(inSystem).includes(i));
    expect(shared.length).toBeLessThan(textIndices(inPrompt).length);
  });

  it('scales text features to unit length and reads a bounded part of a long prompt', () => {
    const x = features('the quick brown fox jumps over the lazy dog '.repeat(20));
    let squares = 0;
    for (let i = 0; i < x.length; i++)
      if (x.indices[i]! < DEFAULT_FEATURE_SPEC.buckets) squares += x.values[i]! ** 2;
    expect(squares).toBeCloseTo(1, 6);
    const words = Array.from({ length: 100_000 }, (_, i) => `w${i.toString(36)}`).join(' ');
    const long = features(words);
    // At most 2,500 characters of text: a few hundred words, whatever the prompt's size.
    expect(textIndices(long).length).toBeLessThan(2_500);
    expect(dense(long, 'bias-long-input')).toBeGreaterThan(dense(features('short'), 'bias-long-input'));
  });
});
