import { request } from 'undici';

/**
 * The organization's real API keys, audited through Anthropic's Admin API with the admin key
 * (never used for anything else): each key's last use from the Messages usage report grouped by
 * `api_key_id`, and flags:
 * - `unused`: no usage for N days (a key created within the window is not flagged);
 * - `bad_name`: its name breaks the naming rule;
 * - `not_held`: an active key Sluice does not hold — someone uses the organization's keys
 *   directly, around the gateway.
 * Deactivation is a separate, confirmed step (`deactivateUpstreamKeys`).
 */
export type UpstreamKeyFlag = 'unused' | 'bad_name' | 'not_held';

export interface UpstreamKeyEntry {
  id: string;
  name: string;
  status: string;
  hint: string | null;
  createdAt: string;
  workspaceId: string | null;
  lastUsedDay: string | null;
  /** Input plus output tokens in the window. */
  tokens: number;
  heldBySluice: boolean;
  flags: UpstreamKeyFlag[];
}

export interface UpstreamAudit {
  generated_at: string;
  unused_days: number;
  keys: UpstreamKeyEntry[];
}

export interface UpstreamAuditOptions {
  /** The API's base URL (the gateway's upstream). */
  baseUrl: string;
  adminKey: string;
  unusedDays: number;
  namePattern: RegExp;
  /** The upstream keys Sluice holds, to recognise them by their hint. */
  heldKeys: Iterable<string>;
  now?: number;
}

const DAY_MS = 86_400_000;

interface ApiKeyObject {
  id: string;
  name: string;
  status: string;
  partial_key_hint: string | null;
  created_at: string;
  workspace_id?: string | null;
  scope?: { type: string; workspace_id?: string };
}

interface UsagePage {
  data: Array<{
    starting_at: string;
    results: Array<{
      api_key_id: string | null;
      uncached_input_tokens: number;
      cache_read_input_tokens?: number;
      cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number };
      output_tokens: number;
    }>;
  }>;
  has_more: boolean;
  next_page: string | null;
}

/** Calls the Admin API; its errors are reported with the API's own message, never the key. */
async function adminGet<T>(options: UpstreamAuditOptions, path: string, query: URLSearchParams): Promise<T> {
  const url = `${options.baseUrl.replace(/\/$/, '')}${path}?${query}`;
  const response = await request(url, {
    headers: { 'x-api-key': options.adminKey, 'anthropic-version': '2023-06-01' },
  });
  const text = await response.body.text();
  if (response.statusCode !== 200)
    throw new Error(`Admin API ${path}: ${response.statusCode} ${errorMessage(text)}`);
  return JSON.parse(text) as T;
}

function errorMessage(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

/** Every key of the organization, page by page. */
async function listApiKeys(options: UpstreamAuditOptions): Promise<ApiKeyObject[]> {
  const keys: ApiKeyObject[] = [];
  let after: string | null = null;
  for (;;) {
    const query = new URLSearchParams({ limit: '1000' });
    if (after) query.set('after_id', after);
    const page: { data: ApiKeyObject[]; has_more: boolean; last_id: string | null } = await adminGet(
      options,
      '/v1/organizations/api_keys',
      query,
    );
    keys.push(...page.data);
    if (!page.has_more || !page.last_id) return keys;
    after = page.last_id;
  }
}

/** Tokens and the last day with usage, per API key id, over the window (daily buckets, paged). */
async function usageByKey(
  options: UpstreamAuditOptions,
  from: number,
  now: number,
): Promise<Map<string, { tokens: number; lastDay: string }>> {
  const usage = new Map<string, { tokens: number; lastDay: string }>();
  let page: string | null = null;
  for (;;) {
    const query = new URLSearchParams({
      starting_at: new Date(from).toISOString(),
      ending_at: new Date(now).toISOString(),
      bucket_width: '1d',
      limit: '31',
    });
    query.append('group_by[]', 'api_key_id');
    if (page) query.set('page', page);
    const report: UsagePage = await adminGet(options, '/v1/organizations/usage_report/messages', query);
    for (const bucket of report.data) {
      for (const result of bucket.results) {
        if (!result.api_key_id) continue;
        const tokens =
          result.uncached_input_tokens +
          (result.cache_read_input_tokens ?? 0) +
          (result.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
          (result.cache_creation?.ephemeral_1h_input_tokens ?? 0) +
          result.output_tokens;
        if (tokens === 0) continue;
        const day = bucket.starting_at.slice(0, 10);
        const entry = usage.get(result.api_key_id);
        if (!entry) usage.set(result.api_key_id, { tokens, lastDay: day });
        else {
          entry.tokens += tokens;
          if (day > entry.lastDay) entry.lastDay = day;
        }
      }
    }
    if (!report.has_more || !report.next_page) return usage;
    page = report.next_page;
  }
}

/** A held key matches a hint when the hint's visible start and end are the key's. */
function hintMatches(hint: string, secret: string): boolean {
  const [start, end] = hint.split('...');
  return start !== undefined && end !== undefined && secret.startsWith(start) && secret.endsWith(end);
}

export async function auditUpstreamKeys(options: UpstreamAuditOptions): Promise<UpstreamAudit> {
  const now = options.now ?? Date.now();
  const from = now - options.unusedDays * DAY_MS;
  const [keys, usage] = await Promise.all([listApiKeys(options), usageByKey(options, from, now)]);
  const held = [...options.heldKeys];
  const entries = keys.map((key): UpstreamKeyEntry => {
    const used = usage.get(key.id);
    const heldBySluice =
      key.partial_key_hint !== null && held.some((s) => hintMatches(key.partial_key_hint!, s));
    const flags: UpstreamKeyFlag[] = [];
    if (key.status === 'active' && !used && Date.parse(key.created_at) < from) flags.push('unused');
    if (!options.namePattern.test(key.name)) flags.push('bad_name');
    if (key.status === 'active' && !heldBySluice) flags.push('not_held');
    return {
      id: key.id,
      name: key.name,
      status: key.status,
      hint: key.partial_key_hint,
      createdAt: key.created_at,
      workspaceId: key.workspace_id ?? key.scope?.workspace_id ?? null,
      lastUsedDay: used?.lastDay ?? null,
      tokens: used?.tokens ?? 0,
      heldBySluice,
      flags,
    };
  });
  return { generated_at: new Date(now).toISOString(), unused_days: options.unusedDays, keys: entries };
}

/** Sets keys inactive through the Admin API (the caller has had the operator confirm). */
export async function deactivateUpstreamKeys(
  options: Pick<UpstreamAuditOptions, 'baseUrl' | 'adminKey'>,
  ids: string[],
): Promise<Array<{ id: string; status: string }>> {
  const done = [];
  for (const id of ids) {
    const response = await request(
      `${options.baseUrl.replace(/\/$/, '')}/v1/organizations/api_keys/${encodeURIComponent(id)}`,
      {
        method: 'POST',
        headers: {
          'x-api-key': options.adminKey,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ status: 'inactive' }),
      },
    );
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`deactivating ${id}: ${response.statusCode} ${errorMessage(text)}`);
    done.push({ id, status: (JSON.parse(text) as { status: string }).status });
  }
  return done;
}
