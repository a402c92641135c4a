import { fetch } from 'undici';
import type { Catalog } from './catalog.js';
import type { ModelStatus } from './schema.js';

/** A model as `GET /v1/models` lists it (the fields the check reads). */
export interface UpstreamModel {
  id: string;
  display_name?: string;
  max_input_tokens?: number | null;
  max_tokens?: number | null;
}

const PAGE_LIMIT = 1000;
// A list that never ends is a broken upstream, not a long catalog.
const MAX_PAGES = 100;

/**
 * Every model the upstream offers, page by page (`after_id`/`limit`). The key is sent as
 * `x-api-key` and never appears in an error: an upstream message quoting it is redacted.
 */
export async function listUpstreamModels(baseUrl: string, apiKey: string): Promise<UpstreamModel[]> {
  const models: UpstreamModel[] = [];
  let afterId: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = new URL(`${baseUrl.replace(/\/+$/, '')}/v1/models`);
    url.searchParams.set('limit', String(PAGE_LIMIT));
    if (afterId) url.searchParams.set('after_id', afterId);
    const response = await fetch(url, {
      headers: { 'x-api-key': apiKey, 'anthropic-version': '2023-06-01', accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        // not JSON: the start of the body says enough
      }
      throw new Error(
        `GET ${url.pathname} answered ${response.status}: ${message.split(apiKey).join('[key]')}`,
      );
    }
    const body = JSON.parse(text) as { data?: UpstreamModel[]; has_more?: boolean; last_id?: string | null };
    if (!Array.isArray(body.data)) throw new Error(`GET ${url.pathname}: the answer has no "data" list`);
    models.push(...body.data);
    if (!body.has_more) return models;
    const next = body.last_id ?? body.data.at(-1)?.id;
    if (!next || next === afterId) throw new Error(`GET ${url.pathname}: has_more without a new last_id`);
    afterId = next;
  }
  throw new Error(`GET /v1/models: more than ${MAX_PAGES} pages`);
}

/** A configured model (routing default or fallback) and the setting that names it. */
export interface ConfiguredModel {
  setting: string;
  model: string;
}

export interface CheckReport {
  /** Offered upstream, unknown to the catalog. */
  missing: Array<{
    id: string;
    displayName: string | null;
    maxInputTokens: number | null;
    maxTokens: number | null;
  }>;
  /** Upstream limits that differ from the catalog's figures. */
  limits: Array<{
    model: string;
    field: 'contextWindow' | 'maxOutputTokens';
    catalog: number;
    upstream: number;
  }>;
  /** Catalog models not retired that the upstream no longer lists. */
  unlisted: string[];
  /** Configured models that are deprecated, retired or unknown to the catalog. */
  configured: Array<
    ConfiguredModel & {
      status: ModelStatus | 'unknown';
      retiresAt: string | null;
      replacement: string | null;
    }
  >;
}

export const hasFindings = (report: CheckReport) =>
  report.missing.length + report.limits.length + report.unlisted.length + report.configured.length > 0;

/** Compares the catalog with what the upstream lists, and the configured models with the catalog. */
export function compareWithUpstream(
  catalog: Catalog,
  upstream: UpstreamModel[],
  configured: ConfiguredModel[],
  now: Date,
): CheckReport {
  const report: CheckReport = { missing: [], limits: [], unlisted: [], configured: [] };
  const listed = new Set<string>();
  for (const offered of upstream) {
    const model = catalog.model(offered.id);
    if (!model) {
      report.missing.push({
        id: offered.id,
        displayName: offered.display_name ?? null,
        maxInputTokens: offered.max_input_tokens ?? null,
        maxTokens: offered.max_tokens ?? null,
      });
      continue;
    }
    listed.add(model.id);
    const compare = (field: 'contextWindow' | 'maxOutputTokens', value: number | null | undefined) => {
      if (typeof value === 'number' && value !== model[field])
        report.limits.push({ model: model.id, field, catalog: model[field], upstream: value });
    };
    compare('contextWindow', offered.max_input_tokens);
    compare('maxOutputTokens', offered.max_tokens);
  }
  for (const model of catalog.models) {
    if (!listed.has(model.id) && catalog.statusAt(model, now) !== 'retired') report.unlisted.push(model.id);
  }
  for (const entry of configured) {
    const model = catalog.model(entry.model);
    const status = model ? catalog.statusAt(model, now) : 'unknown';
    if (status !== 'deprecated' && status !== 'retired' && status !== 'unknown') continue;
    report.configured.push({
      ...entry,
      status,
      retiresAt: model?.retiresAt ?? null,
      replacement: model?.replacement ?? null,
    });
  }
  return report;
}

/** The report as text; empty sections are left out. */
export function formatCheckReport(report: CheckReport, catalogVersion: string, upstreamUrl: string): string {
  const n = (value: number | null) => (value === null ? '?' : value.toLocaleString('en-US'));
  const lines: string[] = [];
  const section = (title: string, body: string[]) => {
    if (body.length > 0) lines.push(`${title}:`, ...body.map((line) => `  ${line}`), '');
  };
  section(
    'Offered upstream, missing from the catalog',
    report.missing.map(
      (m) =>
        `${m.id}${m.displayName ? ` (${m.displayName})` : ''}: context ${n(m.maxInputTokens)}, max output ${n(m.maxTokens)}`,
    ),
  );
  section(
    'Limits that differ',
    report.limits.map(
      (l) =>
        `${l.model}: ${l.field === 'contextWindow' ? 'context window (max_input_tokens)' : 'max output (max_tokens)'} catalog ${n(l.catalog)}, upstream ${n(l.upstream)}`,
    ),
  );
  section('In the catalog, no longer listed upstream', report.unlisted);
  section(
    'Configured models to replace',
    report.configured.map((c) => {
      const what =
        c.status === 'unknown'
          ? 'not in the catalog'
          : `${c.status}${c.retiresAt ? ` (retires ${c.retiresAt})` : ''}${c.replacement ? `, use ${c.replacement}` : ''}`;
      return `${c.setting}: ${c.model} is ${what}`;
    }),
  );
  if (lines.length === 0) return `Catalog ${catalogVersion} agrees with ${upstreamUrl}`;
  return [`Catalog ${catalogVersion} against ${upstreamUrl}:`, '', ...lines].join('\n').trimEnd();
}
