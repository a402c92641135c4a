import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { batchOverview } from '../batches/report.js';
import { type Catalog, currentCatalogDocument } from '../catalog/catalog.js';
import { auditKeys } from '../keys/audit.js';
import { parseDuration } from '../keys/duration.js';
import { KeyError, type KeyPolicy, type KeyService } from '../keys/service.js';
import { recentRequests, requestActivity, spendSeries } from '../ledger/activity.js';
import type { AnyDb } from '../ledger/tables.js';
import { keyGuardsSchema } from '../limits/runaway-config.js';
import { ApiError, errorBody, newRequestId } from '../pipeline/errors.js';
import type { Database } from '../store/database.js';
import { parseJsonBody, readBody, sendJson } from './http-io.js';

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

const RANGE = /^(\d+)([mhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** Step sizes offered when none is asked for: the finest that keeps a chart within MAX_STEPS points. */
const STEP_LADDER_MS = [60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000];
const MAX_STEPS = 400;

function durationParam(query: URLSearchParams, name: string, fallback: string, units: RegExp): number {
  const text = query.get(name) ?? fallback;
  const match = units.exec(text);
  if (!match)
    throw new ApiError(400, `${name}: a duration such as "24h", "30d" or "15m", got "${text.slice(0, 40)}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new ApiError(400, `${name}: must be more than zero`);
  return ms;
}

/** The time range of a series request: `since` (default 24h) back from now, in `step`s. */
export function seriesRange(
  query: URLSearchParams,
  now: number,
): { from: number; until: number; stepMs: number } {
  const span = durationParam(query, 'since', '24h', RANGE);
  if (span > 400 * UNIT_MS.d) throw new ApiError(400, 'since: at most 400d');
  const stepMs = query.has('step')
    ? durationParam(query, 'step', '', /^(\d+)([smhd])$/)
    : (STEP_LADDER_MS.find((step) => span / step <= MAX_STEPS) ?? UNIT_MS.d);
  if (span / stepMs > MAX_STEPS * 5)
    throw new ApiError(400, `step: too fine for since (at most ${MAX_STEPS * 5} steps)`);
  return { from: now - span, until: now, stepMs };
}

/**
 * Ledger activity: spend over time (`GET /admin/spend/series?since=24h&by=model|key|env&step=1h`),
 * request outcomes over time (`GET /admin/requests/activity?since=24h`) and the latest requests'
 * metadata (`GET /admin/requests/recent?limit=50`). The dashboard draws these; scripts read them.
 */
export function activityRoutes(db: AnyDb, clock: () => number = Date.now): AdminRoute[] {
  return [
    {
      method: 'GET',
      pattern: /^\/admin\/spend\/series$/,
      handle: async (_params, _body, query) => {
        const by = query.get('by') ?? 'model';
        if (by !== 'model' && by !== 'key' && by !== 'env')
          throw new ApiError(400, 'by: one of model, key, env');
        return { status: 200, body: await spendSeries(db, { ...seriesRange(query, clock()), by }) };
      },
    },
    {
      method: 'GET',
      pattern: /^\/admin\/requests\/activity$/,
      handle: async (_params, _body, query) => ({
        status: 200,
        body: await requestActivity(db, seriesRange(query, clock())),
      }),
    },
    {
      method: 'GET',
      pattern: /^\/admin\/requests\/recent$/,
      handle: async (_params, _body, query) => {
        const limit = Number(query.get('limit') ?? 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new ApiError(400, 'limit: a whole number from 1 to 500');
        return { status: 200, body: { data: await recentRequests(db, { limit }) } };
      },
    },
    {
      method: 'GET',
      pattern: /^\/admin\/batches$/,
      handle: async (_params, _body, query) => {
        const limit = Number(query.get('limit') ?? 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new ApiError(400, 'limit: a whole number from 1 to 500');
        const since = new Date(clock() - 30 * 86_400_000);
        return { status: 200, body: await batchOverview(db, { limit, since }) };
      },
    },
  ];
}

/**
 * Answers one admin request from a route table (the admin API with its token, the dashboard with
 * its session): the route's JSON, or Anthropic's error shape for bad paths, bodies and failures.
 */
export async function answerAdmin(
  routes: AdminRoute[],
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  logger: Logger,
): Promise<void> {
  const requestId = newRequestId();
  try {
    const match = matchAdminRoute(routes, req.method ?? 'GET', path);
    if (!match) throw new ApiError(404, `Not found: ${req.method} ${path}`);
    if (match === 'method') throw new ApiError(405, `${req.method} is not allowed on ${path}`);
    const raw =
      req.method === 'GET' || req.method === 'DELETE' ? Buffer.alloc(0) : await readBody(req, 1024 * 1024);
    const parsed = raw.length > 0 ? parseJsonBody(raw) : undefined;
    const result = await match.route.handle(match.params, parsed, query);
    sendJson(res, result.status, result.body, { 'request-id': requestId });
  } catch (error) {
    if (error instanceof ApiError) return sendAdminError(res, error.status, error.message, requestId);
    logger.error({ err: error, path }, 'admin request failed');
    sendAdminError(res, 500, 'internal error in the admin API', requestId);
  }
}

/** An error in Anthropic's shape, with its request id. */
export function sendAdminError(
  res: ServerResponse,
  status: number,
  message: string,
  requestId = newRequestId(),
): void {
  const error = new ApiError(status, message);
  const body = errorBody(error.type, error.message, requestId);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'request-id': requestId,
  });
  res.end(body);
}
