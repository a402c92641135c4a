import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { type Catalog, currentCatalogDocument } from '../catalog/catalog.js';
import { auditKeys } from '../keys/audit.js';
import { parseDuration } from '../keys/duration.js';
import { KeyError, type KeyPolicy, type KeyService } from '../keys/service.js';
import { keyGuardsSchema } from '../limits/runaway-config.js';
import { ApiError } from '../pipeline/errors.js';
import type { Database } from '../store/database.js';

export interface AdminResult {
  status: number;
  body: unknown;
}

/** One admin endpoint: method, path pattern with named groups, handler of params and JSON body. */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  pattern: RegExp;
  handle(
    params: Record<string, string>,
    body: unknown,
    query: URLSearchParams,
  ): Promise<AdminResult> | AdminResult;
}

/** Constant-time comparison of the presented admin token with the configured one. */
export function adminTokenMatches(presented: string | undefined, expected: string | undefined): boolean {
  if (!expected || !presented) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

const tiers = z.enum(['fast', 'reasoning', 'critical']);
const keySettings = z.object({
  models: z.array(z.string()).nullable().optional(),
  maxTokens: z.number().int().positive().nullable().optional(),
  rpm: z.number().int().positive().nullable().optional(),
  tpm: z.number().int().positive().nullable().optional(),
  tpd: z.number().int().positive().nullable().optional(),
  priority: z.enum(['interactive', 'batch']).nullable().optional(),
  maxTier: tiers.nullable().optional(),
  allowAuto: z.boolean().optional(),
  /** A duration from now, e.g. "90d"; null removes the expiry. */
  expires: z.string().nullable().optional(),
  developer: z.string().min(1).nullable().optional(),
  /** The key's own runaway guards (docs/limits.md); null returns it to the defaults. */
  guards: keyGuardsSchema.nullable().optional(),
});
const keyCreate = keySettings.extend({ name: z.string().min(1), environment: z.string().min(1) });

export function parseAdminBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ApiError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
}

function expiry(expires: string | null | undefined, now: number): number | null | undefined {
  if (expires === undefined || expires === null) return expires;
  try {
    return now + parseDuration(expires);
  } catch (error) {
    throw new ApiError(400, `expires: ${(error as Error).message}`);
  }
}

async function keyCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof KeyError) throw new ApiError(error.status, error.message);
    throw error;
  }
}

/** Virtual key management over HTTP: the same operations as `sluice keys`. */
/** `GET /admin/keys/audit?unused_days=90`: what `sluice keys audit --json` prints. */
export function keyAuditRoutes(
  db: Database,
  keys: KeyService,
  policy: KeyPolicy,
  catalog: Catalog,
): AdminRoute[] {
  return [
    {
      method: 'GET',
      pattern: /^\/admin\/keys\/audit$/,
      handle: async (_params, _body, query) => {
        const days = Number(query.get('unused_days') ?? 90);
        if (!Number.isInteger(days) || days < 1)
          throw new ApiError(400, 'unused_days: a whole number of days, at least 1');
        return { status: 200, body: await auditKeys(db, keys, policy, catalog, { unusedDays: days }) };
      },
    },
  ];
}

export function keyRoutes(keys: KeyService, onChange: (keyId: string) => void): AdminRoute[] {
  const changed = <T extends { body: { id: string } }>(value: T) => {
    onChange(value.body.id);
    return value;
  };
  return [
    {
      method: 'GET',
      pattern: /^\/admin\/keys$/,
      handle: async () => ({ status: 200, body: { data: await keys.list() } }),
    },
    {
      method: 'POST',
      pattern: /^\/admin\/keys$/,
      handle: async (_params, body) => {
        const input = parseAdminBody(keyCreate, body);
        const { expires, ...rest } = input;
        const created = await keyCall(() => keys.create({ ...rest, expiresAt: expiry(expires, Date.now()) }));
        return { status: 201, body: { key: created.key, ...created.view } };
      },
    },
    {
      method: 'GET',
      pattern: /^\/admin\/keys\/(?<name>[^/]+)$/,
      handle: async ({ name }) => ({ status: 200, body: await keyCall(() => keys.get(name!)) }),
    },
    {
      method: 'PATCH',
      pattern: /^\/admin\/keys\/(?<name>[^/]+)$/,
      handle: async ({ name }, body) => {
        const { expires, ...rest } = parseAdminBody(keySettings, body);
        const view = await keyCall(() =>
          keys.update(name!, { ...rest, expiresAt: expiry(expires, Date.now()) }),
        );
        return changed({ status: 200, body: view });
      },
    },
    {
      method: 'POST',
      pattern: /^\/admin\/keys\/(?<name>[^/]+)\/revoke$/,
      handle: async ({ name }) => changed({ status: 200, body: await keyCall(() => keys.revoke(name!)) }),
    },
    {
      method: 'POST',
      pattern: /^\/admin\/keys\/(?<name>[^/]+)\/rotate$/,
      handle: async ({ name }) => {
        const rotated = await keyCall(() => keys.rotate(name!));
        return changed({ status: 200, body: { key: rotated.key, ...rotated.view } });
      },
    },
  ];
}

export function matchAdminRoute(
  routes: AdminRoute[],
  method: string,
  path: string,
): { route: AdminRoute; params: Record<string, string> } | 'method' | undefined {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method === method) {
      const params = Object.fromEntries(
        Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodePathPart(v)]),
      );
      return { route, params };
    }
  }
  return pathMatched ? 'method' : undefined;
}

/** `GET /admin/catalog`: the catalog version in force, and where updates are read from. */
export function catalogRoutes(catalog: Catalog, file: string | undefined): AdminRoute[] {
  return [
    {
      method: 'GET',
      pattern: /^\/admin\/catalog$/,
      handle: () => ({
        status: 200,
        body: {
          version: catalog.version,
          checked: catalog.document.checked,
          source: catalog.document.source,
          shipped: catalog.document === currentCatalogDocument(undefined),
          file: file ?? null,
          generation: catalog.generation,
          models: catalog.models.length,
          prices: catalog.prices.length,
        },
      }),
    },
  ];
}

/** A percent-encoded path segment as text; bad encoding (`%zz`, a broken UTF-8 sequence) is the client's mistake. */
function decodePathPart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ApiError(400, `path segment "${value.slice(0, 100)}" is not valid percent-encoding`);
  }
}
