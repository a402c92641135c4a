import { type CategoryCounts, countTerms, emptyCounts, LEXICON_CATEGORIES } from './lexicon.js';
import { countStructure, type StructureCounts } from './structure.js';
import type { RequestView } from './view.js';

/**
 * The learned classifier's input: a sparse vector of hashed text features (words, word pairs,
 * word prefixes, CJK characters and character pairs) followed by named dense features (request
 * structure and word-family counts). The trainer (`train.ts`) and the gateway use this one
 * function, so a model is always read with the features it was trained on.
 */
export interface FeatureSpec {
  /** Number of hash buckets for text features (a power of two). */
  buckets: number;
  /** Characters of each text scanned for text features (head, tail, other turns, system). */
  scan: { promptHead: number; promptTail: number; history: number; system: number };
}

export const DEFAULT_FEATURE_SPEC: FeatureSpec = {
  buckets: 1 << 14,
  scan: { promptHead: 3000, promptTail: 1000, history: 1500, system: 1000 },
};

/** Names of the dense features, in order; index `buckets + i` in the vector. */
export const DENSE_FEATURES = [
  'bias-long-input',
  'prompt-words',
  'very-short',
  'messages',
  'system-prompt',
  'tools',
  'tool-results',
  'images',
  'documents',
  'thinking',
  'max-tokens',
  'code-fences',
  'code-lines',
  'data-lines',
  'math-marks',
  'list-items',
  'questions',
  'identifiers',
  'numbers',
  'money',
  'lines',
  'non-latin',
  ...LEXICON_CATEGORIES.map((category) => `words-${category}`),
] as const;

export interface FeatureVector {
  /** Indices into the weight rows, each at most once. */
  indices: Int32Array;
  values: Float64Array;
  length: number;
}

// Namespaces keep the same word in the prompt, the system prompt and earlier turns apart.
const SEED_PROMPT = 0x811c9dc5;
const SEED_SYSTEM = 0x9e3779b1;
const SEED_HISTORY = 0x85ebca6b;
const KIND_WORD = 0x27d4eb2f;
const KIND_PAIR = 0x165667b1;
const KIND_PREFIX = 0xc2b2ae35;
const KIND_CJK = 0x61c88647;
const PREFIX_LENGTH = 5;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ b, 0x5bd1e995);
  h ^= h >>> 15;
  return Math.imul(h, 0x27d4eb2d) >>> 0;
}

/** Lowercase letter or digit code for a word character, or -1. Digits all read as 0: a number is a number. */
function wordCode(code: number): number {
  if (code >= 97 && code <= 122) return code;
  if (code >= 65 && code <= 90) return code + 32;
  if (code >= 48 && code <= 57) return 48;
  if (code < 0xc0) return code === 39 ? -2 : -1; // apostrophe: inside a word, ignored
  if (code <= 0x24f)
    return code === 0xd7 || code === 0xf7 ? -1 : code <= 0xde && code >= 0xc0 ? code + 32 : code;
  if (code >= 0x370 && code <= 0x52f) return code; // Greek, Cyrillic
  return -1;
}

function isCjk(code: number): boolean {
  return (
    (code >= 0x3040 && code <= 0x30ff) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xac00 && code <= 0xd7af)
  );
}

/** Reusable accumulator: one per process, since classification is synchronous. */
class Accumulator {
  readonly counts: Float64Array;
  readonly touched: Int32Array;
  size = 0;
  constructor(readonly buckets: number) {
    this.counts = new Float64Array(buckets);
    this.touched = new Int32Array(buckets);
  }
  add(hash: number, weight: number): void {
    const index = hash & (this.buckets - 1);
    if (this.counts[index] === 0) this.touched[this.size++] = index;
    this.counts[index]! += weight;
  }
}

let shared: Accumulator | undefined;

/** Adds the text features of `text` under a namespace; returns the number of words seen. */
function hashText(text: string, seed: number, weight: number, into: Accumulator): number {
  let words = 0;
  let hash = 0;
  let length = 0;
  let prefix = 0;
  let previousWord = 0;
  let previousCjk = -1;
  const end = text.length;
  for (let i = 0; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : 32;
    const c = wordCode(code);
    if (c >= 0) {
      hash = length === 0 ? mix(seed, c) : mix(hash, c);
      length++;
      if (length === PREFIX_LENGTH) prefix = hash;
      previousCjk = -1;
      continue;
    }
    if (c === -2 && length > 0) continue;
    if (length > 0) {
      words++;
      into.add(mix(hash, KIND_WORD), weight);
      if (previousWord !== 0) into.add(mix(mix(previousWord, hash), KIND_PAIR), weight);
      if (length > PREFIX_LENGTH) into.add(mix(prefix, KIND_PREFIX), weight);
      previousWord = hash;
      length = 0;
    }
    if (isCjk(code)) {
      words++;
      const single = mix(seed ^ KIND_CJK, code);
      into.add(single, weight);
      if (previousCjk >= 0) into.add(mix(mix(seed ^ KIND_CJK, previousCjk), code), weight);
      previousCjk = code;
      previousWord = 0;
    } else if (code !== 32) {
      previousCjk = -1;
      // Sentence punctuation ends a word pair; spaces and hyphens do not.
      if (code === 46 || code === 63 || code === 33 || code === 10 || code === 59) previousWord = 0;
    }
  }
  return words;
}

function headTail(text: string, head: number, tail: number): string {
  if (text.length <= head + tail) return text;
  return `${text.slice(0, head)}\n${text.slice(text.length - tail)}`;
}

function log1p(value: number): number {
  return Math.log1p(Math.max(0, value));
}

/** Structure and word-family measures, the named part of the vector. */
function denseFeatures(
  view: RequestView,
  shape: StructureCounts,
  terms: CategoryCounts,
  promptWords: number,
  nonLatin: number,
): number[] {
  const tokens = view.totalChars / 4;
  return [
    tokens <= 300 ? 0 : Math.min(Math.log(tokens / 300) / Math.log(300), 1.5),
    log1p(promptWords) / 4,
    promptWords <= 6 ? 1 : 0,
    log1p(view.messageCount - 1),
    view.system.length > 0 ? 1 : 0,
    log1p(view.tools),
    view.toolResults > 0 ? 1 : 0,
    log1p(view.images),
    log1p(view.documents),
    view.thinkingBudget > 0 ? 1 + log1p(view.thinkingBudget / 1024) / 2 : 0,
    view.maxTokens >= 4096 ? log1p(view.maxTokens / 4096) : 0,
    log1p(shape.codeFences),
    log1p(shape.codeLines),
    log1p(shape.dataLines),
    log1p(shape.mathMarks),
    log1p(shape.listItems),
    log1p(shape.questions),
    log1p(shape.identifiers),
    log1p(shape.numbers) / 2,
    log1p(shape.money),
    log1p(shape.lines) / 2,
    nonLatin,
    ...LEXICON_CATEGORIES.map((category) => log1p(terms[category])),
  ];
}

function nonLatinShare(text: string): number {
  const sample = Math.min(text.length, 400);
  if (sample === 0) return 0;
  let count = 0;
  for (let i = 0; i < sample; i++) if (text.charCodeAt(i) > 0x2ff) count++;
  return count / sample;
}

/**
 * The feature vector of a request view. Text features are scaled so their squared sum is one
 * (the request's size is told by the dense features, not by how many words it has).
 */
export function extractFeatures(view: RequestView, spec: FeatureSpec = DEFAULT_FEATURE_SPEC): FeatureVector {
  if (!shared || shared.buckets !== spec.buckets) shared = new Accumulator(spec.buckets);
  const acc = shared;
  acc.size = 0;
  const prompt = headTail(view.prompt, spec.scan.promptHead, spec.scan.promptTail);
  const history = view.history.slice(0, spec.scan.history);
  const system = view.system.slice(0, spec.scan.system);
  const promptWords = hashText(prompt, SEED_PROMPT, 1, acc);
  hashText(history, SEED_HISTORY, 0.5, acc);
  hashText(system, SEED_SYSTEM, 0.7, acc);

  const terms = emptyCounts();
  countTerms(prompt, terms);
  countTerms(history, terms, 0.4);
  countTerms(system, terms, 0.5);
  const shape = countStructure(prompt);
  const dense = denseFeatures(view, shape, terms, promptWords, nonLatinShare(prompt));

  const length = acc.size + dense.length;
  const indices = new Int32Array(length);
  const values = new Float64Array(length);
  let squares = 0;
  for (let i = 0; i < acc.size; i++) {
    const value = Math.log1p(acc.counts[acc.touched[i]!]!);
    squares += value * value;
  }
  const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
  for (let i = 0; i < acc.size; i++) {
    const index = acc.touched[i]!;
    indices[i] = index;
    values[i] = Math.log1p(acc.counts[index]!) * scale;
    acc.counts[index] = 0;
  }
  for (let j = 0; j < dense.length; j++) {
    indices[acc.size + j] = spec.buckets + j;
    values[acc.size + j] = dense[j]!;
  }
  return { indices, values, length };
}

export function featureCount(spec: FeatureSpec = DEFAULT_FEATURE_SPEC): number {
  return spec.buckets + DENSE_FEATURES.length;
}
