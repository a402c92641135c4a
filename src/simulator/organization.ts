import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { type Exchange, parseJson, readBody, sendJson } from './http.js';
import type { Usage } from './types.js';

/**
 * The organization behind the simulator, as the Admin API shows it: its API keys (name, hint,
 * status, creation) and their Messages usage. Keys accepted for Messages are listed as the
 * organization's keys; a seed adds others with past usage, so audits have something to find.
 * Admin keys (`sk-ant-admin01-…`) are accepted only here, never for Messages.
 */
export interface OrganizationSeed {
  /** Accepted admin keys; without a list any key starting `sk-ant-admin01-` is accepted. */
  adminKeys?: string[];
  /** Keys beyond those accepted for Messages, or names and dates for those (matched by `key`). */
  apiKeys?: OrgApiKeySeed[];
}

export interface OrgApiKeySeed {
  name: string;
  /** The secret, if Messages should accept it (or to name a key already accepted). */
  key?: string;
  /** RFC 3339; default: the simulator's start. */
  createdAt?: string;
  status?: 'active' | 'inactive' | 'archived';
  workspaceId?: string | null;
  /** Past usage, one entry per request or per day. */
  usage?: Array<{ at: string; model: string; inputTokens: number; outputTokens: number }>;
}

interface OrgApiKey {
  id: string;
  name: string;
  secret?: string;
  hint: string;
  createdAt: number;
  status: 'active' | 'inactive' | 'archived';
  workspaceId: string | null;
}

interface UsageEntry {
  at: number;
  apiKeyId: string;
  workspaceId: string | null;
  model: string;
  uncachedInput: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  output: number;
  webSearches: number;
  serviceTier: string;
}

const DAY = 86_400_000;
const BUCKETS = {
  '1d': { ms: DAY, default: 7, max: 31 },
  '1h': { ms: 3_600_000, default: 24, max: 168 },
  '1m': { ms: 60_000, default: 60, max: 1440 },
} as const;
const GROUPS = ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window'] as const;

/** The hint the Console shows: the key's prefix and last four characters. */
export function partialKeyHint(secret: string): string {
  return `${secret.slice(0, 16)}...${secret.slice(-4)}`;
}

function keyId(seed: string): string {
  return `apikey_01${createHash('sha256').update(seed).digest('base64url').replace(/[-_]/g, 'x').slice(0, 22)}`;
}

export class Organization {
  private readonly keys: OrgApiKey[] = [];
  private readonly usage: UsageEntry[] = [];
  private readonly adminKeys: Set<string> | undefined;

  constructor(
    messageKeys: Iterable<string>,
    seed: OrganizationSeed,
    private readonly now: () => number,
  ) {
    this.adminKeys = seed.adminKeys ? new Set(seed.adminKeys) : undefined;
    const started = now();
    const seeds = seed.apiKeys ?? [];
    const named = new Map(seeds.filter((s) => s.key).map((s) => [s.key!, s]));
    let index = 0;
    for (const secret of messageKeys) {
      if (named.has(secret)) continue;
      index++;
      this.keys.push(this.keyFrom({ name: `simulator-key-${index}`, key: secret }, started));
    }
    for (const entry of seeds) {
      const key = this.keyFrom(entry, started);
      this.keys.push(key);
      for (const use of entry.usage ?? [])
        this.usage.push({
          at: Date.parse(use.at),
          apiKeyId: key.id,
          workspaceId: key.workspaceId,
          model: use.model,
          uncachedInput: use.inputTokens,
          cacheRead: 0,
          cacheWrite5m: 0,
          cacheWrite1h: 0,
          output: use.outputTokens,
          webSearches: 0,
          serviceTier: 'standard',
        });
    }
  }

  private keyFrom(seed: OrgApiKeySeed, started: number): OrgApiKey {
    return {
      id: keyId(seed.key ?? `${seed.name}\u0000${this.keys.length}`),
      name: seed.name,
      secret: seed.key,
      hint: seed.key ? partialKeyHint(seed.key) : `sk-ant-api03-${seed.name.slice(0, 3)}...${'x'.repeat(4)}`,
      createdAt: seed.createdAt ? Date.parse(seed.createdAt) : started,
      status: seed.status ?? 'active',
      workspaceId: seed.workspaceId ?? null,
    };
  }

  isAdminKey(secret: string): boolean {
    return this.adminKeys ? this.adminKeys.has(secret) : secret.startsWith('sk-ant-admin01-');
  }

  /** Whether a Messages key was deactivated through the Admin API. */
  isDeactivated(secret: string): boolean {
    const key = this.keys.find((k) => k.secret === secret);
    return key !== undefined && key.status !== 'active';
  }

  /** Adds an answered request's usage to its key's report. */
  record(secret: string | undefined, model: string, usage: Usage): void {
    const key = secret === undefined ? undefined : this.keys.find((k) => k.secret === secret);
    if (!key) return;
    const split = usage.cache_creation;
    this.usage.push({
      at: this.now(),
      apiKeyId: key.id,
      workspaceId: key.workspaceId,
      model,
      uncachedInput: usage.input_tokens,
      cacheRead: usage.cache_read_input_tokens,
      cacheWrite5m: split ? split.ephemeral_5m_input_tokens : usage.cache_creation_input_tokens,
      cacheWrite1h: split ? split.ephemeral_1h_input_tokens : 0,
      output: usage.output_tokens,
      webSearches: usage.server_tool_use?.web_search_requests ?? 0,
      serviceTier: usage.service_tier ?? 'standard',
    });
  }

  /** Serves `/v1/organizations/…`; false when the path is not one of the Admin API's. */
  serve(exchange: Exchange, path: string): Promise<void> | undefined {
    const method = exchange.req.method ?? 'GET';
    if (path === '/v1/organizations/api_keys' && method === 'GET') return this.listKeys(exchange);
    const one = /^\/v1\/organizations\/api_keys\/([^/]+)$/.exec(path);
    if (one && method === 'GET')
      return Promise.resolve(sendJson(exchange, 200, this.view(this.find(one[1]!))));
    if (one && method === 'POST') return this.updateKey(exchange, one[1]!);
    if (path === '/v1/organizations/usage_report/messages' && method === 'GET')
      return this.usageReport(exchange);
    return undefined;
  }

  private find(id: string): OrgApiKey {
    const key = this.keys.find((k) => k.id === id);
    if (!key) throw new ApiError(404, `API key ${id} not found`);
    return key;
  }

  private view(key: OrgApiKey) {
    return {
      type: 'api_key',
      id: key.id,
      name: key.name,
      created_at: new Date(key.createdAt).toISOString(),
      created_by: { id: 'user_01SimulatorOwner0000000000', type: 'user' },
      expires_at: null,
      partial_key_hint: key.hint,
      principal: null,
      scope: key.workspaceId
        ? { type: 'workspace', workspace_id: key.workspaceId }
        : { type: 'organization' },
      status: key.status,
      workspace_id: key.workspaceId,
    };
  }

  private async listKeys(exchange: Exchange): Promise<void> {
    const query = exchange.url.searchParams;
    const limit = boundedInt(query.get('limit'), 20, 1, 1000, 'limit');
    const status = query.get('status');
    const workspace = query.get('workspace_id');
    let keys = this.keys.filter(
      (k) => (!status || k.status === status) && (!workspace || k.workspaceId === workspace),
    );
    const after = query.get('after_id');
    const before = query.get('before_id');
    if (after) keys = keys.slice(keys.findIndex((k) => k.id === after) + 1);
    if (before)
      keys = keys.slice(
        0,
        Math.max(
          0,
          keys.findIndex((k) => k.id === before),
        ),
      );
    const page = before ? keys.slice(-limit) : keys.slice(0, limit);
    sendJson(exchange, 200, {
      data: page.map((k) => this.view(k)),
      has_more: keys.length > page.length,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    });
  }

  private async updateKey(exchange: Exchange, id: string): Promise<void> {
    const key = this.find(id);
    const body = updateSchema.safeParse(parseJson(await readBody(exchange.req)));
    if (!body.success)
      throw new ApiError(400, `${body.error.issues[0]?.path.join('.')}: ${body.error.issues[0]?.message}`);
    if (body.data.name) key.name = body.data.name;
    if (body.data.status) key.status = body.data.status;
    sendJson(exchange, 200, this.view(key));
  }

  private async usageReport(exchange: Exchange): Promise<void> {
    const query = exchange.url.searchParams;
    const width = (query.get('bucket_width') ?? '1d') as keyof typeof BUCKETS;
    const spec = BUCKETS[width];
    if (!spec) throw new ApiError(400, 'bucket_width: must be one of 1d, 1h, 1m');
    const startText = query.get('starting_at');
    if (!startText) throw new ApiError(400, 'starting_at: Field required');
    const start = Date.parse(startText);
    if (Number.isNaN(start)) throw new ApiError(400, 'starting_at: invalid datetime');
    const limit = boundedInt(query.get('limit'), spec.default, 1, spec.max, 'limit');
    const firstBucket = Math.floor(start / spec.ms) * spec.ms;
    const pageStart = query.get('page')
      ? Number(Buffer.from(query.get('page')!, 'base64url').toString())
      : firstBucket;
    const endText = query.get('ending_at');
    const end = endText ? Date.parse(endText) : this.now();
    const groups = [...query.getAll('group_by[]'), ...query.getAll('group_by')];
    for (const group of groups)
      if (!(GROUPS as readonly string[]).includes(group))
        throw new ApiError(400, `group_by: invalid value ${group}`);
    const keyFilter = [...query.getAll('api_key_ids[]'), ...query.getAll('api_key_ids')];
    const modelFilter = [...query.getAll('models[]'), ...query.getAll('models')];

    const data = [];
    let bucket = pageStart;
    for (; bucket < end && data.length < limit; bucket += spec.ms) {
      const entries = this.usage.filter(
        (u) =>
          u.at >= bucket &&
          u.at < bucket + spec.ms &&
          (keyFilter.length === 0 || keyFilter.includes(u.apiKeyId)) &&
          (modelFilter.length === 0 || modelFilter.includes(u.model)),
      );
      const results = new Map<string, Record<string, unknown> & { sums: number[] }>();
      for (const u of entries) {
        const dims = {
          api_key_id: groups.includes('api_key_id') ? u.apiKeyId : null,
          workspace_id: groups.includes('workspace_id') ? u.workspaceId : null,
          model: groups.includes('model') ? u.model : null,
          service_tier: groups.includes('service_tier') ? u.serviceTier : null,
          context_window: groups.includes('context_window') ? '0-200k' : null,
        };
        const id = JSON.stringify(dims);
        let row = results.get(id);
        if (!row) {
          row = { ...dims, sums: [0, 0, 0, 0, 0, 0] };
          results.set(id, row);
        }
        const add = [u.uncachedInput, u.cacheRead, u.cacheWrite5m, u.cacheWrite1h, u.output, u.webSearches];
        add.forEach((n, i) => {
          row!.sums[i]! += n;
        });
      }
      data.push({
        starting_at: new Date(bucket).toISOString(),
        ending_at: new Date(bucket + spec.ms).toISOString(),
        results: [...results.values()].map(({ sums, ...dims }) => ({
          uncached_input_tokens: sums[0],
          cache_read_input_tokens: sums[1],
          cache_creation: { ephemeral_5m_input_tokens: sums[2], ephemeral_1h_input_tokens: sums[3] },
          output_tokens: sums[4],
          server_tool_use: { web_search_requests: sums[5] },
          ...dims,
        })),
      });
    }
    const hasMore = bucket < end;
    sendJson(exchange, 200, {
      data,
      has_more: hasMore,
      next_page: hasMore ? Buffer.from(String(bucket)).toString('base64url') : null,
    });
  }
}

const updateSchema = z.object({
  name: z.string().min(1).max(500).nullish(),
  status: z.enum(['active', 'inactive', 'archived']).nullish(),
});

function boundedInt(text: string | null, fallback: number, min: number, max: number, name: string): number {
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ApiError(400, `${name}: must be an integer from ${min} to ${max}`);
  return value;
}
