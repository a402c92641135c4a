import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MessagesRequestBody } from './request.js';
import type { Tier } from './tiers.js';

/** One labelled prompt. Optional fields describe the rest of the request. */
export interface EvalItem {
  id: string;
  tier: Tier;
  category: string;
  prompt: string;
  system?: string;
  /** Earlier turns of the conversation, alternating user and assistant, starting with the user. */
  turns?: string[];
  tools?: number;
  thinkingBudget?: number;
}

export const EVAL_DIR = fileURLToPath(new URL('./eval/', import.meta.url));

/** The sets the classifier learns from. */
export const TRAINING_SETS = ['prompts', 'holdout-1', 'holdout-2', 'training', 'training-2'] as const;
/** Written before any training and never changed, trained or tuned on: the honest estimate. */
export const FROZEN_HOLDOUT = 'frozen-holdout';

export type EvalSetName = (typeof TRAINING_SETS)[number] | typeof FROZEN_HOLDOUT;

export function loadEvalSet(name: EvalSetName): EvalItem[] {
  return (JSON.parse(readFileSync(`${EVAL_DIR}${name}.json`, 'utf8')) as { prompts: EvalItem[] }).prompts;
}

/** The Messages request an evaluation item stands for. */
export function requestFor(item: EvalItem): MessagesRequestBody {
  return {
    model: 'auto',
    max_tokens: 1024,
    messages: [
      ...(item.turns ?? []).map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
      { role: 'user', content: item.prompt },
    ],
    ...(item.system ? { system: item.system } : {}),
    ...(item.tools
      ? { tools: Array.from({ length: item.tools }, (_, i) => ({ name: `tool_${i}`, input_schema: {} })) }
      : {}),
    ...(item.thinkingBudget ? { thinking: { type: 'enabled', budget_tokens: item.thinkingBudget } } : {}),
  };
}
