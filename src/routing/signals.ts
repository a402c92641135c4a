import type { Tier } from './tiers.js';

/**
 * The classifier's weights and thresholds, kept as data. A signal's raw value (a count, or a
 * count-like measure) becomes a strength in [0, 1] by dividing by `saturateAt`; its contribution
 * to the score is strength × weight. `floor` lifts the tier to at least `tier` once the strength
 * reaches `atStrength`, whatever the score: that is how a risky question never lands on the fast
 * tier even when it is short.
 */
export type SignalGroup = 'complexity' | 'stakes' | 'simplicity';

export interface SignalSpec {
  group: SignalGroup;
  weight: number;
  saturateAt: number;
  /** Short ASCII name used in reasons and the x-sluice-route header. */
  label: string;
  floor?: { tier: Tier; atStrength: number };
}

export const SIGNALS = {
  // complexity: how much work the answer takes
  length: { group: 'complexity', weight: 0.2, saturateAt: 1, label: 'long-input' },
  detail: { group: 'complexity', weight: 0.15, saturateAt: 1, label: 'detailed-prompt' },
  quantities: { group: 'complexity', weight: 0.1, saturateAt: 8, label: 'numbers' },
  code: { group: 'complexity', weight: 0.45, saturateAt: 2, label: 'code' },
  structuredData: { group: 'complexity', weight: 0.25, saturateAt: 4, label: 'structured-data' },
  math: { group: 'complexity', weight: 0.35, saturateAt: 2, label: 'math' },
  multiStep: { group: 'complexity', weight: 0.3, saturateAt: 3, label: 'multi-step' },
  analysis: { group: 'complexity', weight: 0.3, saturateAt: 3, label: 'analysis' },
  tools: { group: 'complexity', weight: 0.15, saturateAt: 4, label: 'tools' },
  agentLoop: { group: 'complexity', weight: 0.1, saturateAt: 1, label: 'tool-results' },
  images: { group: 'complexity', weight: 0.15, saturateAt: 2, label: 'images' },
  documents: { group: 'complexity', weight: 0.15, saturateAt: 1, label: 'documents' },
  thinking: {
    group: 'complexity',
    weight: 0.3,
    saturateAt: 16_000,
    label: 'thinking',
    floor: { tier: 'reasoning', atStrength: 0.01 },
  },
  longOutput: { group: 'complexity', weight: 0.1, saturateAt: 16_000, label: 'long-output' },
  conversation: { group: 'complexity', weight: 0.1, saturateAt: 12, label: 'long-conversation' },
  // stakes: how much a wrong answer costs
  research: {
    group: 'stakes',
    weight: 0.45,
    saturateAt: 3,
    label: 'research',
    floor: { tier: 'critical', atStrength: 1 },
  },
  domainRisk: {
    group: 'stakes',
    weight: 0.25,
    saturateAt: 3,
    label: 'domain-risk',
    floor: { tier: 'reasoning', atStrength: 0.66 },
  },
  riskyDecision: {
    group: 'stakes',
    weight: 0.45,
    saturateAt: 1,
    label: 'risky-decision',
    floor: { tier: 'critical', atStrength: 1 },
  },
  highStakes: { group: 'stakes', weight: 0.25, saturateAt: 2, label: 'high-stakes' },
  /** Advice asked about a situation described in detail, or where something is at stake. */
  stakedAdvice: {
    group: 'stakes',
    weight: 0,
    saturateAt: 2,
    label: 'staked-advice',
    floor: { tier: 'reasoning', atStrength: 1 },
  },
  nuancedCreative: {
    group: 'stakes',
    weight: 0.6,
    saturateAt: 2,
    label: 'nuanced-creative',
    floor: { tier: 'critical', atStrength: 1 },
  },
  creative: { group: 'stakes', weight: 0.05, saturateAt: 1, label: 'creative' },
  systemHint: { group: 'stakes', weight: 0.15, saturateAt: 3, label: 'system-hint' },
  // simplicity: signs of a quick, bounded task
  simpleTask: { group: 'simplicity', weight: -0.3, saturateAt: 1, label: 'simple-task' },
  shortPrompt: { group: 'simplicity', weight: -0.1, saturateAt: 1, label: 'short-prompt' },
  brevity: { group: 'simplicity', weight: -0.1, saturateAt: 1, label: 'brevity-asked' },
} as const satisfies Record<string, SignalSpec>;

export type SignalId = keyof typeof SIGNALS;
export type SignalTable = Record<SignalId, SignalSpec>;

/**
 * The most a group may add (or, for simplicity, subtract). Complexity alone stops below the
 * critical threshold: hard work goes to the reasoning tier, only stakes justify the top tier.
 */
export const GROUP_CAPS: Readonly<Record<SignalGroup, number>> = {
  complexity: 0.6,
  stakes: 1,
  simplicity: 0.35,
};

/** Score at or above which a tier is chosen. */
export interface Thresholds {
  reasoning: number;
  critical: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { reasoning: 0.3, critical: 0.65 };

/** Parameters of the measures behind some signals. */
export const MEASURES = {
  /** Input below this many tokens adds nothing for length; the strength grows with log size. */
  lengthFromTokens: 600,
  /** Input at this many tokens gives full length strength. */
  lengthFullTokens: 30_000,
  charsPerToken: 4,
  /** Prompt words from which the detail signal starts, and at which it is full. */
  detailFromWords: 25,
  detailFullWords: 90,
  /** Weight of analysis language, against advice language, in a risky-domain decision. */
  analysisAsDecision: 0.5,
  /** A prompt with fewer words than this is short. */
  shortPromptWords: 15,
  /** Weight of earlier turns and of the system prompt against the last user turn. */
  historyWeight: 0.4,
  systemWeight: 0.5,
  /** Top reasons kept in a decision. */
  maxReasons: 4,
} as const;
