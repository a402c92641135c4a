import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Catalog, defaultCatalog } from '../catalog/catalog.js';
import { classify } from './classify.js';
import type { MessagesRequestBody } from './request.js';
import { DEFAULT_TIER_MODELS, TIERS, type Tier, tierRank } from './tiers.js';

/** One labelled prompt. Optional fields describe the rest of the request. */
export interface EvalItem {
  id: string;
  tier: Tier;
  category: string;
  prompt: string;
  system?: string;
  tools?: number;
  thinkingBudget?: number;
}

export interface PriceTable {
  models: Record<string, { input: number; output: number }>;
  outputTokensByLabel: Record<Tier, number>;
}

export interface EvalReport {
  total: number;
  agreed: number;
  agreement: number;
  /** confusion[label][routed] */
  confusion: Record<Tier, Record<Tier, number>>;
  criticalToFast: string[];
  underRouted: string[];
  overRouted: string[];
  cost: { router: number; oracle: number; allCritical: number; allFast: number };
  misses: Array<{ id: string; label: Tier; routed: Tier; score: number; reasons: string[] }>;
}

const EVAL_DIR = fileURLToPath(new URL('./eval/', import.meta.url));

export type EvalSetName = 'prompts' | 'holdout-1' | 'holdout-2';

export const EVAL_SETS: readonly EvalSetName[] = ['prompts', 'holdout-1', 'holdout-2'];

export function loadEvalSet(name: EvalSetName): EvalItem[] {
  return (JSON.parse(readFileSync(`${EVAL_DIR}${name}.json`, 'utf8')) as { prompts: EvalItem[] }).prompts;
}

/** The tier models' prices from the catalog in force on a day, with the assumed output lengths. */
export function loadPrices(catalog: Catalog = defaultCatalog(), at: Date = new Date()): PriceTable {
  const models: PriceTable['models'] = {};
  for (const tier of TIERS) {
    const name = DEFAULT_TIER_MODELS[tier];
    const price = catalog.priceAt(name, at);
    if (price) models[name] = { input: Number(price.input), output: Number(price.output) };
  }
  const lengths = JSON.parse(readFileSync(`${EVAL_DIR}output-lengths.json`, 'utf8')) as Pick<
    PriceTable,
    'outputTokensByLabel'
  >;
  return { models, outputTokensByLabel: lengths.outputTokensByLabel };
}

export function requestFor(item: EvalItem): MessagesRequestBody {
  return {
    model: 'auto',
    max_tokens: 1024,
    messages: [{ role: 'user', content: item.prompt }],
    ...(item.system ? { system: item.system } : {}),
    ...(item.tools
      ? { tools: Array.from({ length: item.tools }, (_, i) => ({ name: `tool_${i}`, input_schema: {} })) }
      : {}),
    ...(item.thinkingBudget ? { thinking: { type: 'enabled', budget_tokens: item.thinkingBudget } } : {}),
  };
}

function costOf(item: EvalItem, tier: Tier, prices: PriceTable): number {
  const price = prices.models[DEFAULT_TIER_MODELS[tier]];
  if (!price) throw new Error(`no price for ${DEFAULT_TIER_MODELS[tier]}`);
  const inputTokens = Math.ceil((item.prompt.length + (item.system?.length ?? 0)) / 4);
  const outputTokens = prices.outputTokensByLabel[item.tier];
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}

export function evaluate(items: EvalItem[], prices: PriceTable = loadPrices()): EvalReport {
  const confusion = Object.fromEntries(
    TIERS.map((label) => [label, Object.fromEntries(TIERS.map((routed) => [routed, 0]))]),
  ) as EvalReport['confusion'];
  const report: EvalReport = {
    total: items.length,
    agreed: 0,
    agreement: 0,
    confusion,
    criticalToFast: [],
    underRouted: [],
    overRouted: [],
    cost: { router: 0, oracle: 0, allCritical: 0, allFast: 0 },
    misses: [],
  };
  for (const item of items) {
    const decision = classify(requestFor(item));
    confusion[item.tier][decision.tier]++;
    if (decision.tier === item.tier) report.agreed++;
    else {
      report.misses.push({
        id: item.id,
        label: item.tier,
        routed: decision.tier,
        score: decision.score,
        reasons: decision.reasons,
      });
      (tierRank(decision.tier) < tierRank(item.tier) ? report.underRouted : report.overRouted).push(item.id);
    }
    if (item.tier === 'critical' && decision.tier === 'fast') report.criticalToFast.push(item.id);
    report.cost.router += costOf(item, decision.tier, prices);
    report.cost.oracle += costOf(item, item.tier, prices);
    report.cost.allCritical += costOf(item, 'critical', prices);
    report.cost.allFast += costOf(item, 'fast', prices);
  }
  report.agreement = items.length === 0 ? 0 : report.agreed / items.length;
  return report;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}

export function formatReport(title: string, report: EvalReport): string {
  const pad = (text: string | number, width = 11) => String(text).padStart(width);
  const lines = [
    `== ${title}: ${report.total} prompts`,
    `exact agreement: ${report.agreed}/${report.total} = ${percent(report.agreement)}`,
    `critical routed to fast: ${report.criticalToFast.length}${report.criticalToFast.length ? ` (${report.criticalToFast.join(', ')})` : ''}`,
    `under-routed (cheaper than label): ${report.underRouted.length}; over-routed: ${report.overRouted.length}`,
    '',
    `confusion (rows: label, columns: routed)${pad('fast', 4)}${pad('reasoning')}${pad('critical')}`,
    ...TIERS.map(
      (label) =>
        `${pad(label, 40)}${TIERS.map((routed) => pad(report.confusion[label][routed], routed === 'fast' ? 4 : 11)).join('')}`,
    ),
    '',
    `cost (USD for the whole set; input = chars/4, output fixed per labelled tier):`,
    `  router ${report.cost.router.toFixed(4)}  oracle ${report.cost.oracle.toFixed(4)}  (router/oracle ${(report.cost.router / report.cost.oracle).toFixed(3)})`,
    `  all on critical tier ${report.cost.allCritical.toFixed(4)} (router saves ${percent(1 - report.cost.router / report.cost.allCritical)})  all on fast tier ${report.cost.allFast.toFixed(4)}`,
  ];
  if (report.misses.length > 0) {
    lines.push('', 'disagreements:');
    for (const miss of report.misses) {
      lines.push(
        `  ${miss.id} label=${miss.label} routed=${miss.routed} score=${miss.score} ${miss.reasons.join(' ')}`,
      );
    }
  }
  return lines.join('\n');
}

function main(): void {
  const prices = loadPrices();
  const json = process.argv.includes('--json');
  const sets = Object.fromEntries(EVAL_SETS.map((name) => [name, loadEvalSet(name)])) as Record<
    EvalSetName,
    EvalItem[]
  >;
  const reports = {
    ...Object.fromEntries(EVAL_SETS.map((name) => [name, evaluate(sets[name], prices)])),
    all: evaluate(
      EVAL_SETS.flatMap((name) => sets[name]),
      prices,
    ),
  } as Record<EvalSetName | 'all', EvalReport>;
  if (json) {
    process.stdout.write(`${JSON.stringify(reports)}\n`);
    return;
  }
  console.log(
    `Output tokens assumed per prompt, by labelled tier: ${Object.entries(prices.outputTokensByLabel)
      .map(([tier, tokens]) => `${tier} ${tokens}`)
      .join(', ')}; prices per million tokens: ${Object.entries(prices.models)
      .map(([model, p]) => `${model} $${p.input}/$${p.output}`)
      .join(', ')}\n`,
  );
  const titles: Record<EvalSetName, string> = {
    prompts: 'first set, used for tuning (eval/prompts.json)',
    'holdout-1': 'second set; first look before tuning on it: 61.3 %, 1 critical->fast (eval/holdout-1.json)',
    'holdout-2': 'third set; first look before tuning on it: 76.7 %, 3 critical->fast (eval/holdout-2.json)',
  };
  for (const name of EVAL_SETS) console.log(`${formatReport(titles[name], reports[name])}\n`);
  console.log(formatReport('all sets', reports.all).split('\n').slice(0, 5).join('\n'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
