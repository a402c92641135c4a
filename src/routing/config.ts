import { z } from 'zod';
import { loadRoutingModel, type RoutingModel, shippedModel } from './model.js';
import { TIERS, type Tier, tierModels } from './tiers.js';

const tier = z.enum(TIERS);
const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

/** Conditions of a rule; all given conditions must hold. Values are globs (`*` = anything). */
const ruleConditions = z
  .strictObject({
    key: globs.optional(),
    environment: globs.optional(),
    header: z.record(z.string().min(1), z.string()).optional(),
    metadata: z.record(z.string().min(1), z.string()).optional(),
    /** Regular expression over the last user turn, case-insensitive. */
    prompt: regexSource.optional(),
  })
  .refine((when) => Object.values(when).some((value) => value !== undefined), {
    message: 'a rule needs at least one condition',
  });

const rule = z.strictObject({
  name: z.string().min(1),
  when: ruleConditions,
  tier,
});

const keyPolicy = z.strictObject({
  /** Highest tier the key may be routed to. */
  maxTier: tier.optional(),
  /** False: the key must name a model or a tier alias, `auto` is refused. */
  allowAuto: z.boolean().optional(),
});

const judge = z.strictObject({
  /** Off by default: below the confidence threshold the tier goes up one instead. */
  enabled: z.boolean().default(false),
  /** The judge's answer must arrive within this; otherwise the tier goes up one. */
  timeoutMs: z.number().int().min(1).max(60_000).default(1500),
  /** At most 5: the answer is one word. */
  maxTokens: z.number().int().min(1).max(5).default(5),
});

/** The `routing` section of sluice.yaml. */
export const routingConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Tier → model. Unset tiers fall back to the environment, then to the built-in defaults. */
    models: z
      .strictObject({ fast: z.string().min(1), reasoning: z.string().min(1), critical: z.string().min(1) })
      .partial()
      .default({}),
    /** Score thresholds of the former word-list classifier: accepted, no longer used. */
    thresholds: z
      .strictObject({ reasoning: z.number().min(0).max(1), critical: z.number().min(0).max(1) })
      .refine((t) => t.reasoning < t.critical, { message: 'reasoning threshold must be below critical' })
      .optional(),
    /** Classifier confidence below which the request goes up one tier (or the judge decides). */
    confidence: z
      .strictObject({ threshold: z.number().min(0).max(1) })
      .partial()
      .default({}),
    /** A cheap call to the fast tier's model decides uncertain requests. */
    judge: judge.default({ enabled: false, timeoutMs: 1500, maxTokens: 5 }),
    /** Weights file of the classifier; the shipped catalog/routing-model.json when absent. */
    model: z.string().min(1).optional(),
    /** Evaluated in order before the classifier; the first match pins the tier. */
    rules: z.array(rule).default([]),
    /** Policies by key name (glob); every matching entry applies, the strictest wins. */
    keys: z.record(z.string().min(1), keyPolicy).default({}),
  })
  .default({
    enabled: true,
    models: {},
    rules: [],
    keys: {},
    confidence: {},
    judge: { enabled: false, timeoutMs: 1500, maxTokens: 5 },
  });

export type RoutingConfig = z.output<typeof routingConfigSchema>;
export type RoutingConfigInput = z.input<typeof routingConfigSchema>;
export type RoutingRuleConfig = z.output<typeof rule>;
export type KeyPolicy = z.output<typeof keyPolicy>;
export type JudgeConfig = z.output<typeof judge>;

export interface CompiledRouting {
  enabled: boolean;
  models: Record<Tier, string>;
  /** The classifier and the confidence threshold it escalates below. */
  model: RoutingModel;
  confidenceThreshold: number;
  judge: JudgeConfig;
  rules: RoutingRuleConfig[];
  keys: Record<string, KeyPolicy>;
}

/**
 * Validates a routing section and fixes what does not change per request: tier models (from the
 * section, then the environment, then defaults), the classifier's weights and its threshold.
 */
export function compileRouting(
  section: unknown,
  env: Record<string, string | undefined> = process.env,
): CompiledRouting {
  const config = routingConfigSchema.parse(section ?? {});
  const model = config.model ? loadRoutingModel(config.model) : shippedModel();
  return {
    enabled: config.enabled,
    models: tierModels(config.models, env),
    model,
    confidenceThreshold: config.confidence.threshold ?? model.recommendedThreshold,
    judge: config.judge,
    rules: config.rules,
    keys: config.keys,
  };
}
