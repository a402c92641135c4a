import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { BatchEndpoints, BatchGatewayParts } from '../batches/endpoints.js';
import { type Catalog, catalogInForce } from '../catalog/catalog.js';
import { followPublishedCatalog } from '../catalog/publish.js';
import { watchCatalog } from '../catalog/watch.js';
import { upstreamKeyFor } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import { Authenticator } from '../keys/authenticator.js';
import { EXCHANGE_PATH, exchangeHandler } from '../keys/exchange.js';
import { KeyService, keyPolicy } from '../keys/service.js';
import { createAccount } from '../pipeline/account.js';
import { admitStage, type Reserve } from '../pipeline/admit.js';
import { authenticateStage } from '../pipeline/authenticate.js';
import { ApiError, errorBody, newRequestId } from '../pipeline/errors.js';
import { forward } from '../pipeline/forward.js';
import { checkMessagesBody, guardStage, modelsVisibleStage } from '../pipeline/guard.js';
import { checkChatBody, prepareChatBody } from '../pipeline/openai.js';
import { ownershipStage, referencedObjectsStage, UpstreamObjects } from '../pipeline/ownership.js';
import { type Route, runCall } from '../pipeline/pipeline.js';
import { type Router, routeStage } from '../pipeline/route.js';
import { CallSignal, DrainCut } from '../pipeline/signal.js';
import type { Stage } from '../pipeline/stage.js';
import type { Call } from '../pipeline/types.js';
import { isRoutingAlias } from '../routing/tiers.js';
import { type ChangeFeed, changeFeedFor } from '../store/changes.js';
import { openStore, type Store } from '../store/database.js';
import { UpstreamClient } from '../upstream/client.js';
import { messagesUsage, openAiUsage } from '../upstream/usage-readers.js';
import {
  type AdminRoute,
  activityRoutes,
  adminTokenMatches,
  answerAdmin,
  catalogRoutes,
  keyAuditRoutes,
  keyRoutes,
  sendAdminError,
} from './admin.js';
import { answerClientError } from './client-error.js';
import { createDashboard } from './dashboard/index.js';
import { httpResponder, limitedUpload, parseJsonBody, readBody, sendJson } from './http-io.js';
import { createLogger, requestLogWriter } from './logger.js';
import { Metrics } from './metrics.js';
import { type EndpointRoute, matchRoute, ROUTES, type StageName, supportedPaths } from './routes.js';
import type { Telemetry } from './telemetry.js';

const USAGE_READERS = { messages: messagesUsage, openai: openAiUsage } as const;

/** Optional parts that later stages plug in; each is a seam of the pipeline. */
export interface GatewayPlugins {
  router?: Router;
  /** Reservations taken in the admit stage, in order (budgets, then rate limits). */
  reservers?: Reserve[];
  price?: (call: Call) => void;
  record?: (call: Call) => void;
  observe?: (call: Call, status: number, headers: IncomingMessage['headers']) => void;
  adminRoutes?: AdminRoute[];
  /** The Message Batches endpoints, built from the gateway's stages and upstream client. */
  batches?: (parts: BatchGatewayParts) => BatchEndpoints;
  /** Called on close, after in-flight calls finished (flush the ledger, stop timers). */
  close?: () => Promise<void>;
}

export interface GatewayOptions {
  loaded: LoadedConfig;
  catalog?: Catalog;
  logger?: Logger;
  store?: Store;
  plugins?: (parts: GatewayCore) => Promise<GatewayPlugins> | GatewayPlugins;
  /** How long close() waits for in-flight calls before cutting them. */
  drainMs?: number;
}

/** What plugins are built from. */
export interface GatewayCore {
  loaded: LoadedConfig;
  catalog: Catalog;
  store: Store;
  keys: KeyService;
  /** Operator changes made anywhere (CLI, admin API, other instances), for the caches to follow. */
  changes: ChangeFeed;
  logger: Logger;
  metrics: Metrics;
}

export interface Gateway extends GatewayCore {
  url: string;
  server: Server;
  /** OpenTelemetry export, when an OTLP endpoint is configured. */
  telemetry?: Telemetry;
  inFlight(): number;
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);
/** How long calls cut at the drain deadline get to end (their upstream aborted, so at once). */
const CUT_GRACE_MS = 2000;

function absolutePath(target: string): string {
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return target; // not a URL either: no route matches it, so it is answered 404
  }
}

const explicitOnly: Router = (call) =>
  isRoutingAlias(call.body.model)
    ? {
        kind: 'refused',
        status: 400,
        message: `model "${call.body.model}" needs routing, which is not enabled`,
      }
    : { kind: 'explicit' };

/** Header checks the upstream would make too; refusing here saves a round trip and a rate-limit slot. */
function checkHeaders(headers: IncomingMessage['headers'], version: boolean): void {
  const sent = headers['anthropic-version'];
  if (version && (typeof sent !== 'string' || sent.trim() === '')) {
    throw new ApiError(400, 'anthropic-version: header is required, e.g. anthropic-version: 2023-06-01');
  }
  const priority = headers['x-sluice-priority'];
  if (priority !== undefined && priority !== 'interactive' && priority !== 'batch') {
    throw new ApiError(400, 'x-sluice-priority: must be interactive or batch');
  }
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { loaded } = options;
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.log.level);
  const catalogFile = options.catalog ? undefined : config.catalog.file;
  const catalogProblem = (message: string) => logger.warn({ event: 'catalog_refused' }, message);
  const catalogReloaded = (version: string, previous: string, from: string) =>
    logger.info({ event: 'catalog_reloaded', version, previous, from }, 'catalog updated');
  const catalog = options.catalog ?? catalogInForce(config.catalog, catalogProblem);
  // A catalog installed by `sluice catalog update` is put in force in place, without a restart.
  const catalogWatch =
    catalogFile === undefined
      ? undefined
      : watchCatalog(catalog, catalogFile, {
          onProblem: catalogProblem,
          onReload: (version, previous) => catalogReloaded(version, previous, catalogFile),
        });
  const store =
    options.store ??
    (await openStore(config.database.url, {
      onConnectionError: (error) =>
        logger.warn({ err: error }, 'a database connection failed; it is replaced when next needed'),
    }));
  const keys = new KeyService(store.db, keyPolicy(config));
  const metrics = new Metrics({ defaultMetrics: true, keyLabelLimit: config.metrics.keyLabelLimit });
  metrics.trackCatalog(catalog);
  const changes = changeFeedFor(store, {
    pollMs: config.changes.pollMs,
    onError: (error, where) => logger.error({ err: error, where }, 'change feed'),
  });
  // Followed from before the caches load, so no change falls between loading and following.
  await changes.start();
  const core: GatewayCore = { loaded, catalog, store, keys, changes, logger, metrics };
  const plugins = (await options.plugins?.(core)) ?? {};
  const authenticator = new Authenticator(keys, config.changes.refreshMs);
  changes.on('key', (change) => authenticator.forget(change.subject));
  if (catalogFile !== undefined) {
    // A catalog installed from another host reaches this one through the store and the feed.
    const followCatalog = async () => {
      const previous = catalog.version;
      const version = await followPublishedCatalog(store.db, catalog, catalogProblem);
      if (version) catalogReloaded(version, previous, 'database');
    };
    await followCatalog();
    changes.on('catalog', () => followCatalog());
  }
  const client = new UpstreamClient(config.upstream.url, {
    connections: config.upstream.connections,
    timeoutMs: config.upstream.timeoutMs,
  });

  const upstreamKey = (call: Call) => {
    const key = upstreamKeyFor(loaded, call.principal?.environment ?? config.environment);
    if (!key)
      throw new ApiError(
        500,
        `no upstream key is configured for environment "${call.principal?.environment}"`,
      );
    return key;
  };
  const forwardOptions = {
    client,
    retry: config.upstream.retry,
    upstreamKey,
    fallback: config.upstream.fallback,
    price: plugins.price,
    observe: (call: Call, status: number, headers: IncomingHttpHeaders) => {
      metrics.observeAttempt(call, status);
      plugins.observe?.(call, status, headers);
    },
  };
  const forwardCall = (call: Call, responder: Parameters<Route['forward']>[1]) =>
    forward(call, responder, forwardOptions);
  const authenticate = authenticateStage(authenticator);
  const objects = new UpstreamObjects(store.db);
  const namedStages: Record<Exclude<StageName, 'ownership'>, Stage> = {
    route: routeStage(catalog, plugins.router ?? explicitOnly),
    guard: guardStage(catalog, config.maxTokens),
    admit: admitStage(plugins.reservers ?? []),
    references: referencedObjectsStage(objects),
    models: modelsVisibleStage(catalog),
  };
  // The OpenTelemetry SDK and its exporters (some 250 modules) are loaded only when configured.
  const telemetry = config.telemetry.otlpEndpoint
    ? (await import('./telemetry.js')).Telemetry.fromConfig(config)
    : undefined;
  const batches = plugins.batches?.({
    catalog,
    store,
    logger,
    authenticate,
    route: namedStages.route,
    guard: namedStages.guard,
    client,
    upstreamKey: (environment) => upstreamKeyFor(loaded, environment),
  });
  const account = createAccount({
    logger,
    metrics: telemetry
      ? {
          observe: (call: Call) => {
            metrics.observe(call);
            telemetry.observe(call);
          },
        }
      : metrics,
    price: plugins.price,
    record: plugins.record,
    requestLog: requestLogWriter(logger),
  });
  // A change made here applies here at once; other instances follow the feed.
  const adminRoutes = [
    ...keyAuditRoutes(store.db, keys, keyPolicy(config), catalog),
    ...keyRoutes(keys, (keyId) => authenticator.forget(keyId)),
    ...catalogRoutes(catalog, catalogFile),
    ...activityRoutes(store.db),
    ...(plugins.adminRoutes ?? []),
  ];
  let inFlight = 0;
  // Calls in flight, so a shutdown past its drain deadline can cut each one through its own path.
  const calls = new Set<Call>();

  // Each endpoint's stage list is built once, from its entry in the route table: a request only
  // brings its Call.
  const bodyStageOf = (entry: EndpointRoute): Stage => ({
    name: 'body',
    run(call) {
      const req = call.source!;
      checkHeaders(req.headers, entry.version === true);
      call.usageReader = entry.usage ? USAGE_READERS[entry.usage] : undefined;
      call.ledger = entry.ledger === true;
      if (entry.body === 'none') return;
      if (entry.body === 'upload') {
        const limit = catalog.uploadLimitBytes(entry.uploadLimit ?? '');
        call.bodyStream = limitedUpload(req, limit, entry.uploadLimit ?? 'the');
        return;
      }
      return readBody(req, config.server.bodyLimitBytes).then((raw) => {
        call.rawBody = raw;
        const parsed = parseJsonBody(raw);
        if (entry.body === 'messages') checkMessagesBody(parsed);
        else if (entry.body === 'chat') checkChatBody(parsed);
        else if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new ApiError(400, 'request body must be a JSON object');
        }
        call.body = parsed as Call['body'];
        if (entry.body === 'chat') prepareChatBody(call);
      });
    },
  });
  const routes = new Map<EndpointRoute, Route>(
    ROUTES.map((entry) => {
      const route: Route = {
        stages: [
          bodyStageOf(entry),
          authenticate,
          ...entry.stages.map((name) =>
            name === 'ownership' ? ownershipStage(objects, entry.owns!) : namedStages[name],
          ),
        ],
        forward: forwardCall,
      };
      // Messages may be deferred into a Message Batch (`x-sluice-defer: batch`).
      return [entry, entry.deferrable && batches ? batches.deferrable(route) : route];
    }),
  );
  const refusing = (error: ApiError): Route => ({
    stages: [
      {
        name: 'route-table',
        run() {
          throw error;
        },
      },
    ],
    forward: forwardCall,
  });
  const supported = supportedPaths().join(', ');
  /** The pipeline route of a request, from the route table (a refusal for what it does not serve). */
  function routeOf(call: Call, method: string): Route {
    const match = matchRoute(method, call.path);
    switch (match.kind) {
      case 'route':
        call.endpoint = match.route.path;
        call.params = match.params;
        call.path = match.path;
        // Message Batches and deferral bring their own stages (each batch request is checked).
        if (match.route.servedBy === 'batches')
          return (
            batches?.route(method, call.path) ??
            refusing(new ApiError(404, `Not found: ${method} ${call.path.slice(0, 200)}`))
          );
        return routes.get(match.route)!;
      case 'refused':
        call.endpoint = match.refusal.path;
        return refusing(new ApiError(match.refusal.status, match.refusal.message, {}, match.refusal.type));
      case 'method':
        call.endpoint = match.pattern;
        return refusing(
          new ApiError(
            405,
            `${method} is not allowed on ${call.path}; use ${[...new Set(match.allowed)].join(' or ')}`,
          ),
        );
      case 'bad-id':
        call.endpoint = match.pattern;
        return refusing(new ApiError(404, `Not found: ${method} ${call.path.slice(0, 200)}`));
      default:
        return refusing(
          new ApiError(404, `Not found: ${method} ${call.path.slice(0, 200)}. Sluice serves: ${supported}`),
        );
    }
  }

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: string,
  ): Promise<void> {
    const signal = new CallSignal();
    const call: Call = {
      id: newRequestId(),
      receivedAt: performance.now(),
      startedAtMs: Date.now(),
      path,
      method: req.method,
      query,
      headers: req.headers,
      source: req,
      body: { model: '', messages: [] },
      rawBody: EMPTY,
      bodyChanged: false,
      signal,
      priority: req.headers['x-sluice-priority'] === 'batch' ? 'batch' : 'interactive',
      holds: [],
    };
    res.on('close', () => {
      if (!res.writableFinished) signal.abort(new Error('client closed the connection'));
    });
    inFlight++;
    calls.add(call);
    try {
      await runCall(call, httpResponder(res), routeOf(call, req.method ?? 'GET'), account);
    } finally {
      calls.delete(call);
      inFlight--;
      // A body left unread (refused before or while it streamed) is drained, so the client
      // finishes sending and reads the answer.
      if (!req.complete) {
        req.unpipe();
        req.resume();
      }
    }
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    const presented =
      (req.headers['x-sluice-admin-token'] as string | undefined) ??
      req.headers.authorization?.replace(/^bearer\s+/i, '');
    if (!config.admin.token)
      return sendAdminError(res, 403, 'the admin API is disabled: set SLUICE_ADMIN_TOKEN to enable it');
    if (!adminTokenMatches(presented, config.admin.token))
      return sendAdminError(res, 401, 'invalid admin token');
    let url: URL;
    try {
      url = new URL(target, 'http://gateway');
    } catch {
      return sendAdminError(res, 400, 'invalid request target');
    }
    await answerAdmin(adminRoutes, req, res, url.pathname, url.searchParams, logger);
  }
  const dashboard = createDashboard({ adminToken: config.admin.token, adminRoutes, logger });

  const handleExchange = exchangeHandler(keys);
  let ready = true;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // The path as sent, not normalised: API paths must match exactly, and are forwarded as matched.
    // An absolute-form target (`POST http://host/v1/messages`, as proxies send) is reduced to its path.
    const sent = req.url ?? '/';
    const target = sent.startsWith('/') ? sent : absolutePath(sent);
    const queryAt = target.indexOf('?');
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    // Claude Code's start-up probe (`HEAD /`, newer versions `HEAD /api/hello`): answered here,
    // without a key and without the upstream.
    if (req.method === 'HEAD' && (path === '/' || path === '/api/hello')) {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    const work =
      path === '/healthz'
        ? Promise.resolve(sendJson(res, 200, { status: 'ok' }))
        : path === '/readyz'
          ? Promise.resolve(sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'draining' }))
          : path === '/metrics'
            ? metrics.registry.metrics().then((text) => {
                res.writeHead(200, { 'content-type': metrics.registry.contentType });
                res.end(text);
              })
            : path.startsWith('/admin/')
              ? handleAdmin(req, res, target)
              : path === EXCHANGE_PATH
                ? handleExchange(req, res, target)
                : path === '/dashboard' || path.startsWith('/dashboard/')
                  ? dashboard.handle(req, res, path, queryAt === -1 ? '' : target.slice(queryAt))
                  : handleApi(req, res, path, queryAt === -1 ? '' : target.slice(queryAt));
    work.catch((error) => {
      logger.error({ err: error }, 'unhandled error while answering');
      if (!res.headersSent)
        sendJson(res, 500, JSON.parse(errorBody('api_error', 'internal error', newRequestId())));
      else res.destroy();
    });
  });
  server.on('clientError', answerClientError);
  server.listen(config.server.port, config.server.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    ...core,
    url: `http://${host}:${address.port}`,
    server,
    telemetry,
    inFlight: () => inFlight,
    close() {
      closing ??= (async () => {
        ready = false;
        catalogWatch?.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + (options.drainMs ?? 30_000);
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        // Past the deadline, each call left is cut through its own path: answered (503, or an
        // error event ending a stream), with its status and the usage seen so far, and recorded
        // in the ledger before the ledger's last flush below.
        for (const call of calls) call.signal.abort(new DrainCut());
        const cutAt = Date.now();
        while (inFlight > 0 && Date.now() - cutAt < CUT_GRACE_MS) await new Promise((r) => setTimeout(r, 10));
        server.closeAllConnections();
        await stopped;
        await batches?.close();
        await plugins.close?.();
        await changes.close();
        await authenticator.close();
        await client.close();
        await telemetry?.shutdown();
        if (!options.store) await store.close();
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
      })();
      return closing;
    },
  };
}
