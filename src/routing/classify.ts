import { type CategoryCounts, countTerms, emptyCounts } from './lexicon.js';
import type { MessagesRequestBody } from './request.js';
import {
  DEFAULT_THRESHOLDS,
  GROUP_CAPS,
  MEASURES,
  SIGNALS,
  type SignalGroup,
  type SignalId,
  type SignalTable,
  type Thresholds,
} from './signals.js';
import { countStructure, type StructureCounts } from './structure.js';
import { maxTier, type Tier, tierRank } from './tiers.js';
import { type RequestView, viewRequest } from './view.js';

export interface Classification {
  tier: Tier;
  /** Sum of the signal contributions, clamped to [0, 1]. */
  score: number;
  /** The floor that lifted the tier, if any (`min-critical:risky-decision`), then the main contributions (`code+0.45`). */
  reasons: string[];
  /** Every non-zero contribution, for explanation and tuning. */
  contributions: Partial<Record<SignalId, number>>;
}

export interface ClassifyOptions {
  signals?: SignalTable;
  thresholds?: Thresholds;
}

interface Features {
  view: RequestView;
  terms: CategoryCounts;
  promptTerms: CategoryCounts;
  shape: StructureCounts;
  promptWords: number;
}

function extractFeatures(view: RequestView): Features {
  const promptTerms = emptyCounts();
  const promptWords = countTerms(view.prompt, promptTerms);
  const terms = { ...promptTerms };
  countTerms(view.history, terms, MEASURES.historyWeight);
  countTerms(view.system, terms, MEASURES.systemWeight);
  const shape = countStructure(view.prompt);
  const historyShape = countStructure(view.history);
  shape.codeLines += historyShape.codeLines * MEASURES.historyWeight;
  shape.codeFences += historyShape.codeFences * MEASURES.historyWeight;
  shape.dataLines += historyShape.dataLines * MEASURES.historyWeight;
  shape.identifiers += historyShape.identifiers * MEASURES.historyWeight;
  return { view, terms, promptTerms, shape, promptWords };
}

/** The raw measure behind each signal, before saturation and weighting. */
function rawSignals(f: Features): Record<SignalId, number> {
  const { view, terms, shape } = f;
  const tokens = view.totalChars / MEASURES.charsPerToken;
  const length =
    tokens <= MEASURES.lengthFromTokens
      ? 0
      : Math.log(tokens / MEASURES.lengthFromTokens) /
        Math.log(MEASURES.lengthFullTokens / MEASURES.lengthFromTokens);
  const domain = terms.medical + terms.legal + terms.financial + terms.security + terms.safety + shape.money;
  const decision = terms.advice + terms.stakes + terms.analysis * MEASURES.analysisAsDecision;
  const detail =
    (f.promptWords - MEASURES.detailFromWords) / (MEASURES.detailFullWords - MEASURES.detailFromWords);
  return {
    length,
    detail,
    quantities: shape.numbers,
    code:
      terms.code + Math.min(shape.codeLines, 20) / 2 + shape.codeFences + Math.min(shape.identifiers, 6) / 2,
    structuredData: shape.dataLines + terms.data,
    math: terms.math + shape.mathMarks / 2,
    multiStep:
      terms.multiStep + (shape.listItems >= 3 ? shape.listItems / 2 : 0) + (shape.questions >= 3 ? 1 : 0),
    analysis: terms.analysis,
    tools: view.tools,
    agentLoop: view.toolResults > 0 ? 1 : 0,
    images: view.images,
    documents: view.documents,
    thinking: view.thinkingBudget,
    longOutput: view.maxTokens >= 4096 ? view.maxTokens : 0,
    conversation: Math.max(0, view.messageCount - 3),
    research: terms.research,
    domainRisk: domain,
    riskyDecision: domain > 0 ? (Math.min(domain, 2) * Math.min(decision, 2)) / 2 : 0,
    stakedAdvice:
      f.promptTerms.advice > 0 && (terms.stakes > 0 || f.promptWords >= MEASURES.detailFromWords)
        ? 2 * Math.max(terms.advice + terms.stakes, 1)
        : 0,
    highStakes: terms.stakes,
    nuancedCreative: terms.creative > 0 ? Math.min(terms.creative, 1) * terms.nuance : 0,
    creative: terms.creative,
    systemHint: terms.care,
    // A simple-task word ("summarize", "convert") says less when the prompt also asks for real work.
    simpleTask: terms.simple / (1 + (terms.analysis + terms.multiStep + terms.code + terms.math) / 2),
    shortPrompt:
      f.promptWords > 0 &&
      f.promptWords < MEASURES.shortPromptWords &&
      shape.codeLines === 0 &&
      terms.code + terms.math === 0
        ? 1
        : 0,
    brevity: terms.brevity,
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function formatContribution(label: string, value: number): string {
  return `${label}${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
}

export function classifyView(view: RequestView, options: ClassifyOptions = {}): Classification {
  const signals: SignalTable = options.signals ?? SIGNALS;
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  const raw = rawSignals(extractFeatures(view));
  const contributions: Partial<Record<SignalId, number>> = {};
  const groupTotals: Record<SignalGroup, number> = { complexity: 0, stakes: 0, simplicity: 0 };
  let floor: Tier = 'fast';
  const floorReasons: string[] = [];
  for (const id of Object.keys(signals) as SignalId[]) {
    const spec = signals[id];
    const strength = Math.min(Math.max(raw[id], 0) / spec.saturateAt, 1);
    if (strength === 0) continue;
    const contribution = strength * spec.weight;
    contributions[id] = round(contribution);
    groupTotals[spec.group] += contribution;
    if (spec.floor && strength >= spec.floor.atStrength && tierRank(spec.floor.tier) > tierRank(floor)) {
      floor = maxTier(floor, spec.floor.tier);
      floorReasons.push(`min-${spec.floor.tier}:${spec.label}`);
    }
  }
  let total = 0;
  for (const group of Object.keys(groupTotals) as SignalGroup[]) {
    const cap = GROUP_CAPS[group];
    total += Math.max(-cap, Math.min(cap, groupTotals[group]));
  }
  const score = round(Math.min(Math.max(total, 0), 1));
  const byScore: Tier =
    score >= thresholds.critical ? 'critical' : score >= thresholds.reasoning ? 'reasoning' : 'fast';
  const tier = maxTier(byScore, floor);
  const ranked = (Object.entries(contributions) as Array<[SignalId, number]>)
    .filter(([, value]) => Math.abs(value) >= 0.02)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, MEASURES.maxReasons)
    .map(([id, value]) => formatContribution(signals[id].label, value));
  const reasons = tier !== byScore ? [floorReasons[floorReasons.length - 1]!, ...ranked] : ranked;
  return { tier, score, reasons, contributions };
}

/** Scores a Messages request and picks the cheapest adequate tier. Pure and deterministic. */
export function classify(body: MessagesRequestBody, options: ClassifyOptions = {}): Classification {
  return classifyView(viewRequest(body), options);
}
