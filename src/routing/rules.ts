import type { CompiledRouting, KeyPolicy, RoutingRuleConfig } from './config.js';
import { globMatcher } from './glob.js';
import { minTier, type Tier } from './tiers.js';

/** What a rule can look at. Header names are lowercase. */
export interface RuleContext {
  keyName: string;
  environment: string;
  headers: Record<string, string | undefined>;
  metadata: Record<string, unknown> | undefined;
  prompt: string;
}

/** Compiled matchers are cached per rule object, so a regex is built once per configuration. */
const compiled = new WeakMap<RoutingRuleConfig, (context: RuleContext) => boolean>();

function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

function compileRule(rule: RoutingRuleConfig): (context: RuleContext) => boolean {
  const checks: Array<(context: RuleContext) => boolean> = [];
  const { key, environment, header, metadata, prompt } = rule.when;
  if (key !== undefined) {
    const matches = globMatcher(key);
    checks.push((c) => matches(c.keyName));
  }
  if (environment !== undefined) {
    const matches = globMatcher(environment);
    checks.push((c) => matches(c.environment));
  }
  for (const [name, glob] of Object.entries(header ?? {})) {
    const matches = globMatcher(glob);
    checks.push((c) => {
      const value = headerValue(c.headers, name);
      return value !== undefined && matches(value);
    });
  }
  for (const [field, glob] of Object.entries(metadata ?? {})) {
    const matches = globMatcher(glob);
    checks.push((c) => {
      const value = c.metadata?.[field];
      return value !== undefined && value !== null && matches(String(value));
    });
  }
  if (prompt !== undefined) {
    const pattern = new RegExp(prompt, 'i');
    checks.push((c) => pattern.test(c.prompt));
  }
  return (context) => checks.every((check) => check(context));
}

export function ruleMatches(rule: RoutingRuleConfig, context: RuleContext): boolean {
  let test = compiled.get(rule);
  if (!test) {
    test = compileRule(rule);
    compiled.set(rule, test);
  }
  return test(context);
}

export function firstMatchingRule(
  rules: RoutingRuleConfig[],
  context: RuleContext,
): RoutingRuleConfig | undefined {
  return rules.find((rule) => ruleMatches(rule, context));
}

export interface EffectivePolicy {
  maxTier: Tier;
  allowAuto: boolean;
}

/** Combines the key's own policy with every matching `routing.keys` entry: the strictest wins. */
export function effectivePolicy(
  config: CompiledRouting,
  keyName: string,
  keyPolicy: KeyPolicy | undefined,
): EffectivePolicy {
  const policies = [keyPolicy ?? {}];
  for (const [glob, policy] of Object.entries(config.keys))
    if (globMatcher(glob)(keyName)) policies.push(policy);
  let cap: Tier = 'critical';
  let allowAuto = true;
  for (const policy of policies) {
    if (policy.maxTier) cap = minTier(cap, policy.maxTier);
    if (policy.allowAuto === false) allowAuto = false;
  }
  return { maxTier: cap, allowAuto };
}
