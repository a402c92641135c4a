import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type AdminRoute, adminTokenMatches, answerAdmin, sendAdminError } from '../admin.js';
import { readBody } from '../http-io.js';
import { staticAssets } from './assets.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { appPage, disabledPage, loginPage } from './pages.js';
import { cookieFrom, equal, type Session, SessionSigner } from './session.js';

export const SESSION_COOKIE = 'sluice_dashboard';
export const CSRF_HEADER = 'x-sluice-csrf';
const BASE = '/dashboard';
const FORM_LIMIT = 4096;

export interface DashboardOptions {
  /** The admin token: the only way in, and the root of the session key. Absent: the dashboard is off. */
  adminToken: string | undefined;
  /** The admin API's routes: the page reads and changes data through them, with its session. */
  adminRoutes: AdminRoute[];
  logger: Logger;
  throttle?: LoginThrottleOptions;
  clock?: () => number;
}

export interface Dashboard {
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void>;
  throttle: LoginThrottle;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it, browsers send `Origin: null` on form posts, and the origin check needs the origin.
  'referrer-policy': 'same-origin',
};

/**
 * The operator's web dashboard, mounted by the server at `/dashboard`: a login form for the admin
 * token, a signed session cookie, the page and its assets, and `/dashboard/admin/…`, which answers
 * from the admin API's own routes (so the page shows the numbers scripts get from `/admin/…`).
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { adminToken, adminRoutes, logger } = options;
  const signer = adminToken ? new SessionSigner(adminToken, options.clock) : undefined;
  const throttle = new LoginThrottle({ ...options.throttle, clock: options.clock });
  const assets = staticAssets();

  const sessionOf = (req: IncomingMessage): Session | undefined =>
    signer?.verify(cookieFrom(req.headers.cookie, SESSION_COOKIE));

  const html = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
      ...headers,
    });
    res.end(body);
  };
  const redirect = (res: ServerResponse, headers: Record<string, string> = {}) => {
    res.writeHead(303, { location: BASE, 'cache-control': 'no-store', 'content-length': '0', ...headers });
    res.end();
  };
  const cookie = (req: IncomingMessage, value: string, maxAgeSeconds: number) =>
    [
      `${SESSION_COOKIE}=${value}`,
      `Path=${BASE}`,
      `Max-Age=${maxAgeSeconds}`,
      'HttpOnly',
      'SameSite=Strict',
      ...(isHttps(req) ? ['Secure'] : []),
    ].join('; ');

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? 'unknown';
    const attempt = throttle.attempt(client);
    if (!attempt.allowed) {
      const seconds = Math.ceil(attempt.retryAfterMs / 1000);
      return html(res, 429, loginPage(`Too many wrong tokens: try again in ${seconds} s.`), {
        'retry-after': String(seconds),
      });
    }
    let token: string | null = null;
    try {
      const form = new URLSearchParams((await readBody(req, FORM_LIMIT)).toString('utf8'));
      token = form.get('token');
    } catch {
      return html(res, 400, loginPage('The login form could not be read.'));
    }
    if (!signer || !adminTokenMatches(token ?? undefined, adminToken)) {
      const delay = throttle.failed(client);
      logger.warn({ event: 'dashboard_login_refused', client }, 'dashboard login refused: wrong admin token');
      await throttle.hold(delay);
      return html(res, 401, loginPage('Wrong admin token.'));
    }
    throttle.succeeded(client);
    const { cookieValue, session } = signer.issue();
    const maxAge = Math.floor((session.expiresAt - Date.now()) / 1000);
    logger.info({ event: 'dashboard_login' }, 'dashboard session started');
    redirect(res, { 'set-cookie': cookie(req, cookieValue, maxAge) });
  }

  async function logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = sessionOf(req);
    let presented: string | null = null;
    try {
      presented = new URLSearchParams((await readBody(req, FORM_LIMIT)).toString('utf8')).get('csrf');
    } catch {}
    if (session && !equal(presented ?? '', session.csrf))
      return html(res, 403, loginPage('The logout form was not sent by this dashboard.'));
    redirect(res, { 'set-cookie': cookie(req, '', 0) });
  }

  async function admin(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: string,
  ): Promise<void> {
    const session = sessionOf(req);
    if (!session)
      return sendAdminError(res, 401, 'the dashboard session is missing or expired; log in again');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const presented = req.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !equal(presented, session.csrf) || !sameOrigin(req))
        return sendAdminError(res, 403, 'a state change needs the dashboard CSRF token from this origin');
    }
    const search = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
    res.setHeader('cache-control', 'no-store');
    await answerAdmin(adminRoutes, req, res, path.slice(BASE.length), search, logger);
  }

  return {
    throttle,
    async handle(req, res, path, query) {
      const method = req.method ?? 'GET';
      if (path.startsWith(`${BASE}/static/`)) {
        if (method !== 'GET' && method !== 'HEAD')
          return sendAdminError(res, 405, `${method} is not allowed`);
        return assets.serve(req, res, path.slice(`${BASE}/static/`.length), SECURITY_HEADERS);
      }
      if (!signer) return html(res, 403, disabledPage());
      if (path.startsWith(`${BASE}/admin/`)) return admin(req, res, path, query);
      if (path === BASE || path === `${BASE}/`) {
        if (method !== 'GET' && method !== 'HEAD')
          return sendAdminError(res, 405, `${method} is not allowed`);
        const session = sessionOf(req);
        return session ? html(res, 200, appPage(session.csrf)) : html(res, 200, loginPage());
      }
      if (path === `${BASE}/login` && method === 'POST') {
        if (!sameOrigin(req))
          return html(res, 403, loginPage('The login form was not sent from this origin.'));
        return login(req, res);
      }
      if (path === `${BASE}/logout` && method === 'POST') return logout(req, res);
      return sendAdminError(res, 404, `Not found: ${method} ${path}`);
    },
  };
}

/** Whether the browser says the request came from a page of this gateway (no Origin header: not a browser form). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function isHttps(req: IncomingMessage): boolean {
  return (
    (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https'
  );
}
