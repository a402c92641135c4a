import type { OwnershipRule } from '../pipeline/ownership.js';

export type Method = 'GET' | 'POST' | 'DELETE';

/**
 * How the request body is read: `messages` and `chat` are parsed and checked (the stages read
 * them), `json` is read whole within the body limit, `upload` is streamed through with the
 * catalog's upload limit counted as it passes, `none` has no body.
 */
export type BodyKind = 'messages' | 'chat' | 'json' | 'upload' | 'none';

/** Stages after authentication, in the pipeline's order. */
export type StageName = 'route' | 'guard' | 'admit' | 'ownership' | 'references' | 'models';

/** One endpoint the gateway serves: everything the server needs to know about it. */
export interface EndpointRoute {
  /** Path pattern: `{name}` is one path segment (an id), a final `*` any rest. */
  path: string;
  methods: readonly Method[];
  body: BodyKind;
  /** For `upload`: the catalog's `uploads` entry whose limit applies. */
  uploadLimit?: string;
  stages: readonly StageName[];
  /** How the answer's usage is read (none: the endpoint reports no billable usage). */
  usage?: 'messages' | 'openai';
  /** The call's usage is recorded in the ledger. */
  ledger?: boolean;
  /** Whose objects the endpoint creates, lists or touches (the ownership stage). */
  owns?: OwnershipRule;
  /** The request must carry `anthropic-version` (every Anthropic endpoint; not the OpenAI layer). */
  version?: boolean;
  /**
   * Served by the Message Batches module (src/batches/), which runs its own stages: each request
   * of a batch through route and guard, ownership of batches and deferred requests.
   */
  servedBy?: 'batches';
  /** May be deferred into a Message Batch (`x-sluice-defer: batch`). */
  deferrable?: boolean;
}

/** A family of paths Sluice answers itself, never forwarding them. */
export interface RefusedRoute {
  path: string;
  status: number;
  type: string;
  message: string;
}

const MODEL_STAGES = ['route', 'guard', 'admit'] as const;

/** Every endpoint served, one entry each. Message Batches add their entries here. */
export const ROUTES: readonly EndpointRoute[] = [
  {
    path: '/v1/messages',
    methods: ['POST'],
    body: 'messages',
    stages: [...MODEL_STAGES, 'references'],
    usage: 'messages',
    ledger: true,
    version: true,
    deferrable: true,
  },
  ...(
    [
      ['/v1/messages/batches', ['GET', 'POST']],
      ['/v1/messages/batches/{batch_id}', ['GET', 'DELETE']],
      ['/v1/messages/batches/{batch_id}/cancel', ['POST']],
      ['/v1/messages/batches/{batch_id}/results', ['GET']],
      ['/sluice/v1/deferred/{id}', ['GET']],
    ] as const
  ).map(
    ([path, methods]): EndpointRoute => ({
      path,
      methods,
      body: 'none',
      stages: [],
      servedBy: 'batches',
      version: !path.startsWith('/sluice/'),
    }),
  ),
  {
    path: '/v1/messages/count_tokens',
    methods: ['POST'],
    body: 'json',
    stages: ['references'],
    version: true,
  },
  { path: '/v1/models', methods: ['GET'], body: 'none', stages: ['models'], version: true },
  { path: '/v1/models/{id}', methods: ['GET'], body: 'none', stages: ['models'], version: true },
  {
    path: '/v1/files',
    methods: ['POST'],
    body: 'upload',
    uploadLimit: 'files',
    stages: ['ownership'],
    owns: { kind: 'file', action: 'create' },
    version: true,
  },
  {
    path: '/v1/files',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'file', action: 'list' },
    version: true,
  },
  {
    path: '/v1/files/{file_id}',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'file', action: 'read', param: 'file_id' },
    version: true,
  },
  {
    path: '/v1/files/{file_id}',
    methods: ['DELETE'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'file', action: 'delete', param: 'file_id' },
    version: true,
  },
  {
    path: '/v1/files/{file_id}/content',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'file', action: 'read', param: 'file_id' },
    version: true,
  },
  {
    path: '/v1/skills',
    methods: ['POST'],
    body: 'upload',
    uploadLimit: 'skills',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'create' },
    version: true,
  },
  {
    path: '/v1/skills',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'list' },
    version: true,
  },
  {
    path: '/v1/skills/{skill_id}',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'read', param: 'skill_id' },
    version: true,
  },
  {
    path: '/v1/skills/{skill_id}',
    methods: ['DELETE'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'delete', param: 'skill_id' },
    version: true,
  },
  {
    path: '/v1/skills/{skill_id}/versions',
    methods: ['POST'],
    body: 'upload',
    uploadLimit: 'skills',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'read', param: 'skill_id' },
    version: true,
  },
  {
    path: '/v1/skills/{skill_id}/versions',
    methods: ['GET'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'read', param: 'skill_id' },
    version: true,
  },
  {
    path: '/v1/skills/{skill_id}/versions/{version}',
    methods: ['GET', 'DELETE'],
    body: 'none',
    stages: ['ownership'],
    owns: { kind: 'skill', action: 'read', param: 'skill_id' },
    version: true,
  },
  {
    path: '/v1/chat/completions',
    methods: ['POST'],
    body: 'chat',
    stages: MODEL_STAGES,
    usage: 'openai',
    ledger: true,
  },
  // Legacy Text Completions report no usage: passed through unpriced (docs/endpoints.md).
  { path: '/v1/complete', methods: ['POST'], body: 'json', stages: [], version: true },
];

const MANAGED_AGENTS =
  'is part of the Managed Agents API, which Sluice does not pass through: its sessions spend tokens that no answer reports, so keys, budgets and the ledger could not account for them. Use an Anthropic API key directly for Managed Agents.';

/** Paths answered by Sluice itself and never forwarded. */
export const REFUSED: readonly RefusedRoute[] = [
  {
    path: '/v1/organizations/*',
    status: 403,
    type: 'permission_error',
    message:
      'the Admin API (/v1/organizations/…) is not available through Sluice: it needs an admin key, which never leaves the server, and virtual keys have no admin rights',
  },
  ...[
    'agents',
    'sessions',
    'environments',
    'vaults',
    'memory_stores',
    'deployments',
    'deployment_runs',
    'dreams',
    'tunnels',
    'user_profiles',
  ].flatMap((family) =>
    [`/v1/${family}`, `/v1/${family}/*`].map((path) => ({
      path,
      status: 403,
      type: 'permission_error',
      message: `/v1/${family} ${MANAGED_AGENTS}`,
    })),
  ),
];

/**
 * What an id in a path may be made of. Ids are checked decoded and forwarded re-written from
 * them, so no encoded dot segment or slash (`%2e%2e%2f`) reaches an upstream that would resolve
 * it to another endpoint.
 */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

interface Compiled<T> {
  entry: T;
  segments: string[];
  rest: boolean;
}

function compile<T extends { path: string }>(entry: T): Compiled<T> {
  const segments = entry.path.split('/').slice(1);
  const rest = segments[segments.length - 1] === '*';
  return { entry, segments: rest ? segments.slice(0, -1) : segments, rest };
}

const compiledRoutes = ROUTES.map(compile);
const compiledRefusals = REFUSED.map(compile);

/** Parameters of `path` under the pattern, or undefined when it does not match. */
function matchSegments(
  compiled: Compiled<unknown>,
  parts: string[],
): Record<string, string> | 'bad-id' | undefined {
  if (compiled.rest ? parts.length < compiled.segments.length : parts.length !== compiled.segments.length)
    return undefined;
  const params: Record<string, string> = {};
  let badId = false;
  for (let i = 0; i < compiled.segments.length; i++) {
    const pattern = compiled.segments[i]!;
    const part = parts[i]!;
    if (pattern.startsWith('{')) {
      let id: string;
      try {
        id = decodeURIComponent(part);
      } catch {
        id = '';
      }
      if (!ID.test(id) || id.includes('..')) badId = true;
      params[pattern.slice(1, -1)] = id;
    } else if (pattern !== part) return undefined;
  }
  return badId ? 'bad-id' : params;
}

export type RouteMatch =
  | { kind: 'route'; route: EndpointRoute; params: Record<string, string>; path: string }
  | { kind: 'refused'; refusal: RefusedRoute }
  | { kind: 'method'; allowed: Method[]; pattern: string }
  | { kind: 'bad-id'; pattern: string }
  | { kind: 'unknown' };

// Paths without parameters (Messages among them) are found with one lookup.
const fixedRoutes = new Map<string, EndpointRoute[]>();
for (const route of ROUTES) {
  if (route.path.includes('{')) continue;
  fixedRoutes.set(route.path, [...(fixedRoutes.get(route.path) ?? []), route]);
}
const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The entry serving a request; the path returned is rebuilt from the decoded parameters. */
export function matchRoute(method: string, path: string): RouteMatch {
  const fixed = fixedRoutes.get(path)?.find((route) => route.methods.includes(method as Method));
  if (fixed) return { kind: 'route', route: fixed, params: NO_PARAMS, path };
  const parts = path.split('/').slice(1);
  for (const compiled of compiledRefusals) {
    if (matchSegments(compiled, parts) !== undefined) return { kind: 'refused', refusal: compiled.entry };
  }
  const allowed: Method[] = [];
  let pattern: string | undefined;
  for (const compiled of compiledRoutes) {
    const params = matchSegments(compiled, parts);
    if (params === undefined) continue;
    pattern ??= compiled.entry.path;
    if (params === 'bad-id') return { kind: 'bad-id', pattern: compiled.entry.path };
    if (!compiled.entry.methods.includes(method as Method)) {
      allowed.push(...compiled.entry.methods);
      continue;
    }
    const rebuilt = compiled.segments
      .map((segment) =>
        segment.startsWith('{') ? encodeURIComponent(params[segment.slice(1, -1)]!) : segment,
      )
      .join('/');
    return { kind: 'route', route: compiled.entry, params, path: `/${rebuilt}` };
  }
  if (pattern) return { kind: 'method', allowed, pattern };
  return { kind: 'unknown' };
}

/** `METHOD /path` of every endpoint served, for the answer to an unknown path. */
export function supportedPaths(): string[] {
  return ROUTES.flatMap((route) => route.methods.map((method) => `${method} ${route.path}`));
}
