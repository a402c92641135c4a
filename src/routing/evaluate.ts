import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Catalog, defaultCatalog } from '../catalog/catalog.js';
import { type ClassifyOptions, classify } from './classify.js';
import {
  type EvalItem,
  type EvalSetName,
  FROZEN_HOLDOUT,
  loadEvalSet,
  requestFor,
  TRAINING_SETS,
} from './eval-sets.js';
import { DEFAULT_TIER_MODELS, TIERS, type Tier, tierRank } from './tiers.js';

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
  misses: Array<{ id: string; label: Tier; routed: Tier; confidence: number; reasons: string[] }>;
  /** Requests whose confidence was below the threshold (escalated). */
  escalated: number;
}

const EVAL_DIR = fileURLToPath(new URL('./eval/', import.meta.url));

export { type EvalItem, type EvalSetName, FROZEN_HOLDOUT, loadEvalSet, requestFor, TRAINING_SETS };

/** Every set the evaluation scores: the training sets, then the frozen hold-out. */
export const EVAL_SETS: readonly EvalSetName[] = [...TRAINING_SETS, FROZEN_HOLDOUT];

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

function costOf(item: EvalItem, tier: Tier, prices: PriceTable): number {
  const price = prices.models[DEFAULT_TIER_MODELS[tier]];
  if (!price) throw new Error(`no price for ${DEFAULT_TIER_MODELS[tier]}`);
  const inputTokens = Math.ceil((item.prompt.length + (item.system?.length ?? 0)) / 4);
  const outputTokens = prices.outputTokensByLabel[item.tier];
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}

export function evaluate(
  items: EvalItem[],
  prices: PriceTable = loadPrices(),
  options: ClassifyOptions = {},
): EvalReport {
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
    escalated: 0,
  };
  for (const item of items) {
    const decision = classify(requestFor(item), options);
    if (decision.decidedBy === 'escalation') report.escalated++;
    confusion[item.tier][decision.tier]++;
    if (decision.tier === item.tier) report.agreed++;
    else {
      report.misses.push({
        id: item.id,
        label: item.tier,
        routed: decision.tier,
        confidence: decision.confidence,
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
    `under-routed (cheaper than label): ${report.underRouted.length}; over-routed: ${report.overRouted.length}; escalated for low confidence: ${report.escalated}`,
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
        `  ${miss.id} label=${miss.label} routed=${miss.routed} confidence=${miss.confidence} ${miss.reasons.join(' ')}`,
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
    'all-training': evaluate(
      TRAINING_SETS.flatMap((name) => sets[name]),
      prices,
    ),
  } as Record<EvalSetName | 'all-training', EvalReport>;
  if (json) {
    process.stdout.write(`${JSON.stringify(reports)}\n`);
    return;
  }
  console.log(
    `Output tokens assumed per prompt, by labelled tier: ${Object.entries(prices.outputTokensByLabel)
      .map(([tier, tokens]) => `${tier} ${tokens}`)
      .join(', ')}; prices per million tokens (catalog in force today): ${Object.entries(prices.models)
      .map(([model, p]) => `${model} $${p.input}/$${p.output}`)
      .join(', ')}\n`,
  );
  const titles: Record<EvalSetName, string> = {
    prompts: 'training set 1 (eval/prompts.json)',
    'holdout-1': 'training set 2 (eval/holdout-1.json)',
    'holdout-2': 'training set 3 (eval/holdout-2.json)',
    training: 'training corpus (eval/training.json)',
    'training-2': 'second training corpus (eval/training-2.json)',
    'frozen-holdout': 'FROZEN HOLD-OUT, never trained or tuned on (eval/frozen-holdout.json)',
  };
  for (const name of TRAINING_SETS) console.log(`${formatReport(titles[name], reports[name])}\n`);
  console.log(
    `${formatReport('all training sets', reports['all-training']).split('\n').slice(0, 5).join('\n')}\n`,
  );
  console.log(formatReport(titles[FROZEN_HOLDOUT], reports[FROZEN_HOLDOUT]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
