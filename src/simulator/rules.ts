import type { Catalog } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/schema.js';
import { invalidRequest } from './errors.js';
import type { MessagesRequest } from './types.js';

/**
 * The per-model request rules of the catalog (`rules` of each model entry), by id. A rule throws
 * a 400 when the request breaks it. Ids the simulator does not know are skipped, so the catalog
 * can name a rule before the simulator learns it. `prefix-check` (edited turns before a thinking
 * block) is one of those: it needs the previous turns as the service saw them, which a stateless
 * simulator does not keep.
 */
type Rule = (request: MessagesRequest, model: ModelInfo) => void;

/** Sampling defaults: temperature and top_p 1 (no reshaping); top_k has none, so any value counts. */
const samplingDefaults = { temperature: 1, top_p: 1 } as const;

const rules: Record<string, Rule> = {
  'no-assistant-prefill': (request) => {
    const last = request.messages[request.messages.length - 1];
    if (last?.role === 'assistant') {
      throw invalidRequest(
        'This model does not support assistant message prefill. The conversation must end with a user message.',
      );
    }
  },

  'no-non-default-sampling': (request) => {
    if (request.temperature !== undefined && request.temperature !== samplingDefaults.temperature)
      throw invalidRequest('`temperature` is deprecated for this model.');
    if (request.top_p !== undefined && request.top_p !== samplingDefaults.top_p)
      throw invalidRequest('`top_p` is deprecated for this model.');
    if (request.top_k !== undefined) throw invalidRequest('`top_k` is deprecated for this model.');
  },

  'no-temperature-with-top-p': (request) => {
    if (request.temperature !== undefined && request.top_p !== undefined) {
      throw invalidRequest(
        '`temperature` and `top_p` cannot both be specified for this model. Please use only one.',
      );
    }
  },

  'no-manual-thinking': (request) => {
    if (request.thinking?.type === 'enabled') throw manualThinking();
  },

  'thinking-always-on': (request) => {
    if (request.thinking?.type === 'disabled') throw disabledThinking();
  },

  // Thinking can be turned off at low to high effort only (the model's default effort counts).
  'thinking-on-at-high-effort': (request, model) => {
    const effort = request.effort ?? model.thinking.defaultEffort;
    if (request.thinking?.type === 'disabled' && (effort === 'xhigh' || effort === 'max')) {
      throw invalidRequest(
        `"thinking.type.disabled" is not supported with effort "${effort}" for this model. Use a lower "output_config.effort" or adaptive thinking.`,
      );
    }
  },

  'no-forced-tool-choice': (request) => {
    const type = request.tool_choice?.type;
    if (type === 'any' || type === 'tool') {
      throw invalidRequest(
        `tool_choice: forced tool use ("${type}") is not supported for this model. Use "auto" or "none".`,
      );
    }
  },

  'no-computer-20251124': (request) => {
    const index = (request.tools ?? []).findIndex((tool) => tool.type === 'computer_20251124');
    if (index >= 0) {
      throw invalidRequest(`tools.${index}: 'computer_20251124' is not supported for this model.`);
    }
  },
};

/** The rule ids the simulator enforces (the others in the catalog are skipped). */
export const knownRules: readonly string[] = Object.keys(rules);

/** Applies the model's catalog rules to a Messages request, in the catalog's order. */
export function checkModelRules(request: MessagesRequest, model: ModelInfo): void {
  for (const id of model.rules) rules[id]?.(request, model);
}

function manualThinking() {
  return invalidRequest(
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.',
  );
}

function disabledThinking() {
  return invalidRequest(
    '"thinking.type.disabled" is not supported for this model. Thinking is always on; use "output_config.effort" to control it.',
  );
}

export interface FeatureContext {
  catalog: Catalog;
  /** The simulator clock's moment: fast mode can end on a date. */
  at: Date;
  /** `anthropic-beta` values of the request. */
  betas: ReadonlySet<string>;
}

/**
 * What the model entry says about fields every model reads the same way: thinking modes,
 * `inference_geo` and `speed`. Returns the speed the request runs at.
 */
export function checkModelFeatures(
  request: MessagesRequest,
  model: ModelInfo,
  context: FeatureContext,
): 'standard' | 'fast' {
  const thinking = request.thinking?.type;
  if (thinking === 'enabled' && !model.thinking.modes.includes('manual')) throw manualThinking();
  if (thinking === 'adaptive' && !model.thinking.modes.includes('adaptive')) {
    throw invalidRequest(
      '"thinking.type.adaptive" is not supported for this model. Use "thinking.type.enabled" with "budget_tokens".',
    );
  }
  checkInferenceGeo(request, model, context.catalog);
  return speedOf(request, model, context);
}

function checkInferenceGeo(request: MessagesRequest, model: ModelInfo, catalog: Catalog): void {
  const geo = request.inference_geo;
  if (geo === undefined) return;
  if (!model.inferenceGeo) throw invalidRequest(`inference_geo: not supported for model ${model.id}.`);
  const known = Object.keys(catalog.document.multipliers.inferenceGeo.values);
  if (!known.includes(geo)) {
    throw invalidRequest(`inference_geo: Input should be ${known.map((g) => `'${g}'`).join(' or ')}`);
  }
}

function speedOf(request: MessagesRequest, model: ModelInfo, context: FeatureContext): 'standard' | 'fast' {
  if (request.speed !== 'fast') return 'standard';
  const fast = model.fastMode;
  if (!fast || !context.catalog.fastModeAt(model, context.at)) {
    const ended = fast?.until ? ` (it ended on ${fast.until})` : '';
    throw invalidRequest(`speed: fast mode is not supported for model ${model.id}${ended}.`);
  }
  if (fast.status === 'preview' && fast.beta && !context.betas.has(fast.beta)) {
    throw invalidRequest(
      `speed: fast mode for model ${model.id} is a research preview; send the header "anthropic-beta: ${fast.beta}".`,
    );
  }
  // Accepted and answered at standard speed, as usage.speed says.
  return fast.status === 'ignored' ? 'standard' : 'fast';
}

/** The request's `anthropic-beta` values. */
export function betasOf(header: string | string[] | undefined): Set<string> {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return new Set(
    text
      .split(',')
      .map((beta) => beta.trim())
      .filter(Boolean),
  );
}
