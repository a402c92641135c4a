import { LEXICON, LEXICON_CATEGORIES } from './lexicon.js';
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
  scan: { promptHead: 2000, promptTail: 500, history: 1000, system: 800 },
};

/** Characters of the prompt the line-shape scan reads (head, tail): shape shows early. */
const STRUCTURE_HEAD = 1500;
const STRUCTURE_TAIL = 500;

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

// Words hash the same everywhere (so the word lists are looked up by hash); namespaces keep the
// same word in the prompt, the system prompt and earlier turns apart as features.
const WORD_START = 0x3c6ef372;
const PHRASE_START = 0x1b873593;
const SEED_PROMPT = 0x811c9dc5;
const SEED_SYSTEM = 0x9e3779b1;
const SEED_HISTORY = 0x85ebca6b;
const KIND_WORD = 0x27d4eb2f;
const KIND_PAIR = 0x165667b1;
const KIND_PREFIX = 0xc2b2ae35;
const KIND_CJK = 0x61c88647;
const PREFIX_LENGTH = 5;

/** One character into a word's running hash (FNV-1a step: one multiply per character). */
function step(hash: number, c: number): number {
  return Math.imul(hash ^ c, 0x01000193);
}

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

/** The word lists of `lexicon.ts` by word hash: exact words, stems (by length) and phrases. */
interface LexiconHashes {
  exact: Map<number, number[]>;
  stems: Map<number, number[]>;
  /** stemLength[n] is 1 when some stem has n characters. */
  stemLength: Uint8Array;
  phrases: Map<number, number[]>;
  /** Low 16 bits of every hash above: most words miss here, before any map look-up. */
  seen: Uint8Array;
}

function wordHash(word: string): { hash: number; prefixes: number[] } {
  let hash = WORD_START;
  const prefixes: number[] = [];
  for (let i = 0; i < word.length; i++) {
    const c = wordCode(word.charCodeAt(i));
    if (c < 0) continue;
    hash = step(hash, c);
    prefixes.push(hash);
  }
  return { hash, prefixes };
}

function phraseHash(words: number[]): number {
  let hash = PHRASE_START;
  for (const word of words) hash = mix(hash, word);
  return hash;
}

function push(map: Map<number, number[]>, key: number, category: number): void {
  const list = map.get(key);
  if (!list) map.set(key, [category]);
  else if (!list.includes(category)) list.push(category);
}

/** Phrases are matched over the last four words. */
const MAX_PHRASE_WORDS = 4;

export function hashLexicon(lists: Record<string, string> = LEXICON): LexiconHashes {
  const lexicon: LexiconHashes = {
    exact: new Map(),
    stems: new Map(),
    stemLength: new Uint8Array(256),
    phrases: new Map(),
    seen: new Uint8Array(1 << 16),
  };
  LEXICON_CATEGORIES.forEach((name, category) => {
    for (const entry of (lists[name] ?? '').split(',')) {
      const words =
        entry
          .trim()
          .toLowerCase()
          .match(/[\p{L}\p{N}']+/gu) ?? [];
      if (words.length === 0) continue;
      if (words.length > MAX_PHRASE_WORDS)
        throw new Error(`word list phrase longer than ${MAX_PHRASE_WORDS} words: ${entry.trim()}`);
      if (words.length > 1) push(lexicon.phrases, phraseHash(words.map((w) => wordHash(w).hash)), category);
      else if (entry.trim().endsWith('*')) {
        push(lexicon.stems, wordHash(words[0]!).hash, category);
        lexicon.stemLength[Math.min(words[0]!.length, 255)] = 1;
      } else push(lexicon.exact, wordHash(words[0]!).hash, category);
    }
  });
  for (const map of [lexicon.exact, lexicon.stems, lexicon.phrases])
    for (const key of map.keys()) lexicon.seen[key & 0xffff] = 1;
  return lexicon;
}

const LEXICON_HASHES = hashLexicon();
const CATEGORY_COUNT = LEXICON_CATEGORIES.length;

function hit(terms: Float64Array, map: Map<number, number[]>, key: number, weight: number): void {
  if (LEXICON_HASHES.seen[key & 0xffff] === 0) return;
  const categories = map.get(key);
  if (categories) for (const category of categories) terms[category]! += weight;
}

/**
 * Adds the text features of `text` under a namespace, and counts its word-list hits into
 * `terms` (one pass: the word lists are looked up by the hashes the features use anyway).
 * Returns the number of words seen.
 */
function hashText(
  text: string,
  seed: number,
  weight: number,
  into: Accumulator,
  terms: Float64Array,
): number {
  const { exact, stems, stemLength, phrases } = LEXICON_HASHES;
  let words = 0;
  let hash = WORD_START;
  let length = 0;
  let prefix = 0;
  let previousWord = 0;
  // The last three words, most recent first, for the word lists' phrases.
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  let previousCjk = -1;
  const end = text.length;
  for (let i = 0; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : 32;
    const c = wordCode(code);
    if (c >= 0) {
      hash = step(hash, c);
      length++;
      if (length === PREFIX_LENGTH) prefix = hash;
      if (length < 256 && stemLength[length] === 1) hit(terms, stems, hash, weight);
      previousCjk = -1;
      continue;
    }
    if (c === -2 && length > 0) continue;
    if (length > 0) {
      words++;
      const word = hash ^ seed;
      into.add(mix(word, KIND_WORD), weight);
      if (previousWord !== 0) into.add(mix(mix(previousWord, word), KIND_PAIR), weight);
      if (length > PREFIX_LENGTH) into.add(mix(prefix ^ seed, KIND_PREFIX), weight);
      hit(terms, exact, hash, weight);
      if (w1 !== 0) {
        hit(terms, phrases, mix(mix(PHRASE_START, w1), hash), weight);
        if (w2 !== 0) {
          hit(terms, phrases, mix(mix(mix(PHRASE_START, w2), w1), hash), weight);
          if (w3 !== 0) hit(terms, phrases, mix(mix(mix(mix(PHRASE_START, w3), w2), w1), hash), weight);
        }
      }
      w3 = w2;
      w2 = w1;
      w1 = hash;
      previousWord = word;
      hash = WORD_START;
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
  terms: Float64Array,
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
    ...Array.from(terms, log1p),
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
  const terms = new Float64Array(CATEGORY_COUNT);
  // Earlier turns and the system prompt count for less, as features and as word-list hits.
  const promptWords = hashText(prompt, SEED_PROMPT, 1, acc, terms);
  hashText(history, SEED_HISTORY, 0.5, acc, terms);
  hashText(system, SEED_SYSTEM, 0.7, acc, terms);
  const shape = countStructure(headTail(prompt, STRUCTURE_HEAD, STRUCTURE_TAIL));
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
