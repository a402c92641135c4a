import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { Catalog } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/schema.js';
import { unpricedTreatment } from '../catalog/unpriced.js';
import { DEFAULT_MAX_TOKENS } from '../config/schema.js';
import { parseRateLimitHeaders } from '../limits/headers.js';
import { isSecretEnvFile } from './exposure.js';
import { git, repositoryRoot } from './git.js';
import { isHookInstalled } from './hooks.js';
import { maskKey } from './mask.js';
import { findKeys } from './shapes.js';
import { impliedTier } from './tier-match.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export interface DoctorSettings {
  cwd: string;
  /** Process environment; `.env` in `cwd` is read under it (the process environment wins). */
  env: NodeJS.ProcessEnv;
  catalog: Catalog;
  /** Upstream base URL from the configuration (SLUICE_UPSTREAM_URL, sluice.yaml, default). */
  upstreamUrl: string;
  /** Model for the test request; default: the cheapest current model in the catalog. */
  model?: string;
  /** Upper bound for the test request. */
  timeoutMs?: number;
}

const PLACEHOLDER_VALUE = /<[^>]*>|REPLACE|your[_-]?key|x{5,}|\.\.\.|…/i;
const HIGH_MAX_TOKENS = 8192;
const SHORT_TIMEOUT_MS = 5_000;
const LONG_TIMEOUT_MS = 600_000;

/** The environment the application will see: `.env` values under the process environment. */
export function effectiveEnvironment(cwd: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = join(cwd, '.env');
  const fromFile = existsSync(path) ? parseDotenv(readFileSync(path)) : {};
  return { ...fromFile, ...env };
}

interface KeyState {
  name: string;
  value: string;
  usable: boolean;
  oauth: boolean;
}

function checkKey(env: NodeJS.ProcessEnv, checks: Check[]): KeyState | undefined {
  const name = env.ANTHROPIC_AUTH_TOKEN
    ? 'ANTHROPIC_AUTH_TOKEN'
    : env.ANTHROPIC_API_KEY
      ? 'ANTHROPIC_API_KEY'
      : undefined;
  if (!name) {
    checks.push({
      name: 'API key',
      status: 'fail',
      message:
        'no Anthropic key: neither ANTHROPIC_AUTH_TOKEN nor ANTHROPIC_API_KEY is set (in the environment or .env)',
      fix: 'create a key in the Anthropic Console (Settings > API Keys) and put ANTHROPIC_AUTH_TOKEN=… in .env',
    });
    return undefined;
  }
  const raw = env[name]!;
  const value = raw.trim();
  if (PLACEHOLDER_VALUE.test(value)) {
    checks.push({
      name: 'API key',
      status: 'fail',
      message: `${name} still holds the placeholder from .env.example`,
      fix: `replace it in .env with a real key from the Anthropic Console`,
    });
    return undefined;
  }
  const [match] = findKeys(Buffer.from(value));
  const whole = match !== undefined && match.start === 0 && match.secret === value;
  if (!whole) {
    const shape = value.startsWith('sk-ant-')
      ? 'is truncated or has extra characters'
      : 'does not start with sk-ant-';
    checks.push({
      name: 'API key',
      status: 'fail',
      message: `${name} is malformed: it ${shape} (an API key is sk-ant-api03- followed by 95 characters, 108 in all; this value has ${value.length})`,
      fix: 'copy the key again from the Console, without quotes, spaces or line breaks',
    });
    return { name, value, usable: false, oauth: false };
  }
  if (match.rule === 'anthropic-admin-key') {
    checks.push({
      name: 'API key',
      status: 'fail',
      message: `${name} is an Admin API key (${maskKey(match)}): it manages the organization and cannot send messages`,
      fix: 'use a regular API key (sk-ant-api03-…) here, and keep admin keys out of application configuration',
    });
    return { name, value, usable: false, oauth: false };
  }
  const both =
    env.ANTHROPIC_AUTH_TOKEN && env.ANTHROPIC_API_KEY && env.ANTHROPIC_AUTH_TOKEN !== env.ANTHROPIC_API_KEY;
  checks.push({
    name: 'API key',
    status: both || raw !== value ? 'warn' : 'pass',
    message: `${name} is set and well formed (${maskKey(match)})${raw !== value ? ', with surrounding whitespace' : ''}${
      both ? '; ANTHROPIC_API_KEY is also set to a different key (the SDK sends both)' : ''
    }`,
    fix: both
      ? 'keep one of ANTHROPIC_AUTH_TOKEN and ANTHROPIC_API_KEY'
      : raw !== value
        ? 'remove the whitespace'
        : undefined,
  });
  return { name, value, usable: true, oauth: match.rule === 'anthropic-oauth-token' };
}

function checkModels(
  env: NodeJS.ProcessEnv,
  catalog: Catalog,
  today: string,
  checks: Check[],
): ModelInfo | undefined {
  let defaultModel: ModelInfo | undefined;
  for (const variable of [
    'ANTHROPIC_DEFAULT_MODEL',
    'ANTHROPIC_REASONING_MODEL',
    'ANTHROPIC_CRITICAL_MODEL',
  ]) {
    const name = env[variable]?.trim();
    if (!name) {
      if (variable === 'ANTHROPIC_DEFAULT_MODEL') defaultModel = catalog.model(catalog.routingDefaults.fast);
      continue;
    }
    const model = catalog.model(name);
    if (!model) {
      checks.push({
        name: variable,
        status: 'fail',
        message: `unknown model "${name}"`,
        fix: `use a model the catalog knows (\`sluice catalog\`), e.g. ${catalog.routingDefaults.fast}`,
      });
      continue;
    }
    if (variable === 'ANTHROPIC_DEFAULT_MODEL') defaultModel = model;
    if (catalog.statusAt(model, new Date(`${today}T12:00:00Z`)) === 'retired') {
      checks.push({
        name: variable,
        status: 'fail',
        message: `${name} was retired${model.retiresAt ? ` on ${model.retiresAt}` : ''}`,
        fix: `choose a current model${model.replacement ? `, e.g. ${model.replacement}` : ''}`,
      });
    } else if (model.retiresAt) {
      checks.push({
        name: variable,
        status: 'warn',
        message: `${name} is deprecated and retires on ${model.retiresAt}`,
        fix: 'plan the move to a newer model before that date',
      });
    } else checks.push({ name: variable, status: 'pass', message: `${name} (${model.id})` });
  }
  return defaultModel;
}

function wholeNumber(raw: string | undefined): number | undefined | 'invalid' {
  if (raw === undefined || raw.trim() === '') return undefined;
  return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : 'invalid';
}

function checkLimits(env: NodeJS.ProcessEnv, model: ModelInfo | undefined, checks: Check[]): void {
  const maxTokens = wholeNumber(env.ANTHROPIC_MAX_TOKENS);
  const ceiling = model?.maxOutputTokens;
  if (maxTokens === 'invalid' || maxTokens === 0) {
    checks.push({
      name: 'ANTHROPIC_MAX_TOKENS',
      status: 'fail',
      message: `"${env.ANTHROPIC_MAX_TOKENS}" is not a positive whole number`,
      fix: 'set a strict cap such as 1024',
    });
  } else if (maxTokens === undefined) {
    checks.push({
      name: 'ANTHROPIC_MAX_TOKENS',
      status: 'pass',
      message: `not set: the gateway fills in max_tokens ${DEFAULT_MAX_TOKENS} where a request has none`,
    });
  } else if (ceiling !== undefined && maxTokens > ceiling) {
    checks.push({
      name: 'ANTHROPIC_MAX_TOKENS',
      status: 'fail',
      message: `${maxTokens} exceeds ${model!.id}'s maximum output of ${ceiling} tokens; the API refuses such requests`,
      fix: `set it to at most ${ceiling}`,
    });
  } else if (maxTokens > HIGH_MAX_TOKENS) {
    checks.push({
      name: 'ANTHROPIC_MAX_TOKENS',
      status: 'warn',
      message: `${maxTokens} is a loose cap: one runaway answer costs that many output tokens`,
      fix: 'cap lower (e.g. 1024) and raise it per call where needed',
    });
  } else checks.push({ name: 'ANTHROPIC_MAX_TOKENS', status: 'pass', message: String(maxTokens) });

  const timeout = wholeNumber(env.ANTHROPIC_TIMEOUT_MS);
  if (timeout === 'invalid' || timeout === 0) {
    checks.push({
      name: 'ANTHROPIC_TIMEOUT_MS',
      status: 'fail',
      message: `"${env.ANTHROPIC_TIMEOUT_MS}" is not a positive number of milliseconds`,
      fix: 'set e.g. 30000',
    });
  } else if (timeout === undefined) {
    checks.push({
      name: 'ANTHROPIC_TIMEOUT_MS',
      status: 'pass',
      message: 'not set (the SDK default, 10 minutes)',
    });
  } else if (timeout < SHORT_TIMEOUT_MS) {
    checks.push({
      name: 'ANTHROPIC_TIMEOUT_MS',
      status: 'warn',
      message: `${timeout} ms is shorter than many ordinary responses take`,
      fix: 'allow at least 30000 ms (longer for large max_tokens)',
    });
  } else if (timeout > LONG_TIMEOUT_MS) {
    checks.push({
      name: 'ANTHROPIC_TIMEOUT_MS',
      status: 'warn',
      message: `${timeout} ms is longer than the SDK's own 10-minute default`,
      fix: 'use streaming for long answers and a timeout of minutes, not hours',
    });
  } else checks.push({ name: 'ANTHROPIC_TIMEOUT_MS', status: 'pass', message: `${timeout} ms` });
}

async function checkRepository(cwd: string, checks: Check[]): Promise<void> {
  const root = await repositoryRoot(cwd);
  if (root === undefined) {
    checks.push({
      name: '.env ignored',
      status: 'warn',
      message: 'not a git repository: cannot check that .env stays out of commits',
      fix: 'after `git init`, run `sluice init` (ignores .env files, offers the hook)',
    });
    return;
  }
  const tracked = (await git(cwd, ['ls-files', '-z', '--cached']))
    .toString()
    .split('\0')
    .filter(isSecretEnvFile);
  let ignored = true;
  try {
    await git(cwd, ['check-ignore', '-q', '.env']);
  } catch {
    ignored = false;
  }
  if (tracked.length > 0) {
    checks.push({
      name: '.env ignored',
      status: 'fail',
      message: `committed to git: ${tracked.join(', ')}`,
      fix: `git rm --cached ${tracked.join(' ')}, add .env and .env.* to .gitignore, and rotate every key they held`,
    });
  } else if (!ignored) {
    checks.push({
      name: '.env ignored',
      status: 'fail',
      message: '.env is not in .gitignore: the next `git add .` commits your keys',
      fix: 'run `sluice init` or add .env and .env.* to .gitignore',
    });
  } else checks.push({ name: '.env ignored', status: 'pass', message: '.env is ignored by git' });

  checks.push(
    (await isHookInstalled(cwd))
      ? { name: 'pre-commit hook', status: 'pass', message: 'commits are scanned for keys' }
      : {
          name: 'pre-commit hook',
          status: 'warn',
          message: 'not installed: nothing stops a commit that adds a key',
          fix: 'run `sluice hooks install`',
        },
  );
}

/** The cheapest current model with a known price: the right target for a connection test. */
export function cheapestModel(catalog: Catalog, now: Date): ModelInfo | undefined {
  let best: { model: ModelInfo; cost: number } | undefined;
  for (const model of catalog.models) {
    const status = catalog.statusAt(model, now);
    if (status !== 'active' && status !== 'legacy') continue;
    const price = catalog.priceAt(model.id, now);
    if (!price) continue;
    const cost = Number(price.input) + Number(price.output);
    if (!best || cost < best.cost) best = { model, cost };
  }
  return best?.model;
}

function errorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

async function checkConnection(settings: DoctorSettings, key: KeyState, checks: Check[]): Promise<void> {
  const model =
    settings.model ??
    cheapestModel(settings.catalog, new Date())?.id ??
    settings.catalog.routingDefaults.fast;
  const url = new URL('/v1/messages', settings.upstreamUrl);
  const started = performance.now();
  let response: Response;
  let body: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        ...(key.oauth ? { authorization: `Bearer ${key.value}` } : { 'x-api-key': key.value }),
      },
      body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }),
      signal: AbortSignal.timeout(settings.timeoutMs ?? 30_000),
      redirect: 'error',
    });
    body = await response.text();
  } catch (error) {
    checks.push({
      name: 'connection',
      status: 'fail',
      message: `upstream unreachable: ${url.origin} (${errorCode(error)})`,
      fix: 'check SLUICE_UPSTREAM_URL, the network, DNS and any proxy between here and the API',
    });
    return;
  }
  const latencyMs = Math.round(performance.now() - started);
  let errorType = '';
  let errorMessage = '';
  try {
    const parsed = JSON.parse(body) as { error?: { type?: string; message?: string } };
    errorType = parsed.error?.type ?? '';
    errorMessage = parsed.error?.message ?? '';
  } catch {
    // A body that is not JSON (a proxy's HTML page) is described by its status alone.
  }
  const detail = errorType ? ` ${errorType}${errorMessage ? `: ${errorMessage}` : ''}` : '';
  const requestId = response.headers.get('request-id');
  const status = response.status;
  if (status === 200) {
    checks.push({
      name: 'connection',
      status: 'pass',
      message: `${model} answered in ${latencyMs} ms${requestId ? ` (${requestId})` : ''}`,
    });
  } else if (status === 401) {
    checks.push({
      name: 'connection',
      status: 'fail',
      message: `the upstream rejected ${key.name} (401${detail}): the key is revoked, mistyped or from another organization`,
      fix: 'create a new key in the Anthropic Console and replace it in .env',
    });
  } else if (status === 429) {
    checks.push({
      name: 'connection',
      status: 'warn',
      message: `the key works but was rate limited (429${detail}) after ${latencyMs} ms`,
      fix: 'wait for the reset, or move to a higher tier',
    });
  } else {
    const fixes: Record<number, string> = {
      400: 'check the model name and request settings',
      402: 'add a payment method or credits in the Console (Settings > Billing)',
      403: 'the key lacks permission for this model or workspace; check the key’s workspace in the Console',
      404: `the model ${model} is not available to this key; choose another with --model`,
    };
    checks.push({
      name: 'connection',
      status: status >= 500 ? 'warn' : 'fail',
      message: `the upstream answered ${status}${detail} after ${latencyMs} ms`,
      fix: fixes[status] ?? 'try again later; if it persists check the status page',
    });
  }

  const reading = parseRateLimitHeaders(response.headers);
  const parts = [
    ['requests', reading.requests],
    ['input tokens', reading.inputTokens],
    ['output tokens', reading.outputTokens],
  ] as const;
  const shown = parts
    .filter(([, limit]) => limit.limit !== undefined)
    .map(([label, limit]) => `${label} ${limit.remaining ?? '?'}/${limit.limit}`);
  if (shown.length === 0) {
    if (status === 200) {
      checks.push({
        name: 'rate limits',
        status: 'warn',
        message: 'the response carried no anthropic-ratelimit-* headers',
        fix: 'a proxy between here and the API may strip them',
      });
    }
    return;
  }
  const modelClass = settings.catalog.model(model)?.pool;
  const tier = modelClass ? impliedTier(settings.catalog, modelClass, reading) : undefined;
  const tierText = tier
    ? `; implies ${tier.exact ? '' : 'at least '}${tier.tier} for ${modelClass} models`
    : '';
  checks.push({
    name: 'rate limits',
    status: 'pass',
    message: `remaining/limit per minute: ${shown.join(', ')}${tierText}`,
  });
}

/**
 * Models that can still be called but have no price: they are counted at their family's dearest
 * price. Listed always; a warning when one of the configured routing models is among them.
 */
function checkPrices(catalog: Catalog, env: NodeJS.ProcessEnv, now: Date, checks: Check[]): void {
  const unpriced = catalog.models
    .filter((m) => catalog.statusAt(m, now) !== 'retired' && !catalog.priceAt(m.id, now))
    .map((m) => m.id);
  const configured = [
    env.ANTHROPIC_DEFAULT_MODEL?.trim() || catalog.routingDefaults.fast,
    env.ANTHROPIC_REASONING_MODEL?.trim() || catalog.routingDefaults.reasoning,
    env.ANTHROPIC_CRITICAL_MODEL?.trim() || catalog.routingDefaults.critical,
  ].map((name) => catalog.model(name)?.id ?? name);
  const used = configured.filter((id) => unpriced.includes(id));
  const treatment = unpricedTreatment(catalog.unpricedPolicy);
  if (used.length > 0) {
    checks.push({
      name: 'prices',
      status: 'warn',
      message: `no price for the configured ${used.join(', ')}: requests are ${treatment}`,
      fix: 'run `sluice catalog update`, or add a price under catalog.prices in sluice.yaml',
    });
    return;
  }
  checks.push({
    name: 'prices',
    status: 'pass',
    message:
      `catalog ${catalog.version}: the configured models have prices` +
      (unpriced.length ? `; no price for ${unpriced.join(', ')} (requests ${treatment})` : ''),
  });
}

/** Every check, in order: configuration, repository hygiene, then one request upstream. */
export async function runDoctorChecks(settings: DoctorSettings): Promise<Check[]> {
  const checks: Check[] = [];
  const env = effectiveEnvironment(settings.cwd, settings.env);
  const key = checkKey(env, checks);
  const model = checkModels(env, settings.catalog, new Date().toISOString().slice(0, 10), checks);
  checkLimits(env, model, checks);
  checkPrices(settings.catalog, env, new Date(), checks);
  await checkRepository(settings.cwd, checks);
  if (key?.usable) await checkConnection(settings, key, checks);
  else {
    checks.push({
      name: 'connection',
      status: 'warn',
      message: 'skipped: there is no usable key',
      fix: 'fix the API key first',
    });
  }
  return checks;
}
