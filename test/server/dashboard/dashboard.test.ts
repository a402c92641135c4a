import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRoute } from '../../../src/server/admin.js';
import { CSRF_HEADER, createDashboard, type Dashboard } from '../../../src/server/dashboard/index.js';
import { createLogger } from '../../../src/server/logger.js';
import { fuzzParameters } from '../../helpers/fuzz.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const logs: string[] = [];
const logger = createLogger(
  'info',
  new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  }),
);
let changes = 0;
const routes: AdminRoute[] = [
  {
    method: 'GET',
    pattern: /^\/admin\/numbers$/,
    handle: () => ({ status: 200, body: { data: [1, 2, 3] } }),
  },
  {
    method: 'POST',
    pattern: /^\/admin\/numbers$/,
    handle: () => ({ status: 200, body: { changed: ++changes } }),
  },
];

interface Mounted {
  dashboard: Dashboard;
  server: Server;
  url: string;
}

async function mount(
  adminToken: string | undefined,
  baseDelayMs = 300,
  maxDelayMs?: number,
): Promise<Mounted> {
  const dashboard = createDashboard({
    adminToken,
    adminRoutes: routes,
    logger,
    throttle: { baseDelayMs, maxDelayMs },
  });
  const server = createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    void dashboard.handle(req, res, path!, query);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { dashboard, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request, optionally from another loopback address (a different client to the throttle). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, localAddress: options.from, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

async function login(url: string, from?: string): Promise<string> {
  const answer = await send(`${url}/dashboard/login`, { ...form({ token: TOKEN }), from });
  expect(answer.status).toBe(303);
  const setCookie = String(answer.headers['set-cookie']);
  return setCookie.split(';')[0]!;
}

const csrfOf = (page: string) => /name="sluice-csrf" content="([^"]+)"/.exec(page)![1]!;

let a: Mounted;
let b: Mounted;
beforeAll(async () => {
  a = await mount(TOKEN);
  b = await mount(TOKEN);
});
afterAll(async () => {
  a.server.close();
  b.server.close();
});

describe('the dashboard login', () => {
  it('shows a login form, with the security headers, to a browser without a session', async () => {
    const page = await send(`${a.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post" action="/dashboard/login"');
    expect(page.text).toContain('name="token" type="password"');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('sets an HTTP-only, SameSite=Strict session cookie that holds no token, and then shows the page', async () => {
    const answer = await send(`${a.url}/dashboard/login`, form({ token: TOKEN }));
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('/dashboard');
    const setCookie = String(answer.headers['set-cookie']);
    expect(setCookie).toMatch(/^sluice_dashboard=v1\./);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/dashboard');
    expect(setCookie).not.toContain(TOKEN);
    const page = await send(`${a.url}/dashboard`, { headers: { cookie: setCookie.split(';')[0]! } });
    expect(page.text).toContain('data-testid="spend-total"');
    expect(page.text).not.toContain(TOKEN);
    expect(csrfOf(page.text)).toMatch(/^[\w-]{20,}$/);
  });

  it('lets a session started on one instance be used on another with the same token', async () => {
    const cookie = await login(a.url);
    const numbers = await send(`${b.url}/dashboard/admin/numbers`, { headers: { cookie } });
    expect(numbers.status).toBe(200);
    expect(JSON.parse(numbers.text)).toEqual({ data: [1, 2, 3] });
    const other = await mount(`${TOKEN}-other`);
    try {
      expect((await send(`${other.url}/dashboard/admin/numbers`, { headers: { cookie } })).status).toBe(401);
    } finally {
      other.server.close();
    }
  });

  it('refuses a wrong token slowly, doubling the delay, and refuses that client at once meanwhile', async () => {
    const from = '127.0.0.2';
    const wrongLogin = () => send(`${a.url}/dashboard/login`, { ...form({ token: `${TOKEN}x` }), from });
    let started = Date.now();
    const first = wrongLogin();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // While the first wrong token's delay runs, even the right token is not checked.
    const locked = await send(`${a.url}/dashboard/login`, { ...form({ token: TOKEN }), from });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.headers['set-cookie']).toBeUndefined();
    const wrong = await first;
    expect(wrong.status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(wrong.text).toContain('Wrong admin token.');
    expect(wrong.text).not.toContain(TOKEN);
    started = Date.now();
    expect((await wrongLogin()).status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(580);
    // Another client is not held back by this one.
    expect(await login(a.url, '127.0.0.3')).toMatch(/^sluice_dashboard=/);
    expect(logs.join('')).toContain('dashboard_login_refused');
    expect(logs.join('')).not.toContain(TOKEN);
  });

  it('survives a storm of wrong tokens from many clients, and still answers', async () => {
    const storm = await mount(TOKEN, 2000);
    try {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          send(`${storm.url}/dashboard/login`, {
            ...form({ token: `guess-${i}` }),
            from: `127.0.${1 + (i % 3)}.${10 + (i % 100)}`,
          }),
        ),
      );
      const statuses = new Set(answers.map((x) => x.status));
      expect([...statuses].every((s) => s === 401 || s === 429)).toBe(true);
      expect(answers.some((x) => x.headers['set-cookie'])).toBe(false);
      expect(storm.dashboard.throttle.size).toBe(300);
      expect((await send(`${storm.url}/dashboard`)).status).toBe(200);
    } finally {
      storm.server.close();
    }
  }, 60_000);

  it('logs out with the session CSRF token only', async () => {
    const cookie = await login(a.url);
    const page = await send(`${a.url}/dashboard`, { headers: { cookie } });
    const forged = await send(`${a.url}/dashboard/logout`, {
      ...form({ csrf: 'nope' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(forged.status).toBe(403);
    const out = await send(`${a.url}/dashboard/logout`, {
      ...form({ csrf: csrfOf(page.text) }),
      headers: { ...form({}).headers, cookie },
    });
    expect(out.status).toBe(303);
    expect(String(out.headers['set-cookie'])).toMatch(/^sluice_dashboard=; .*Max-Age=0/);
  });

  it('is off, saying how to enable it, when no admin token is configured', async () => {
    const off = await mount(undefined);
    try {
      const page = await send(`${off.url}/dashboard`);
      expect(page.status).toBe(403);
      expect(page.text).toContain('SLUICE_ADMIN_TOKEN');
      expect((await send(`${off.url}/dashboard/login`, form({ token: '' }))).status).toBe(403);
    } finally {
      off.server.close();
    }
  });
});

describe('the dashboard reading and changing through the admin routes', () => {
  it('needs a session for data, in the admin error shape', async () => {
    const answer = await send(`${a.url}/dashboard/admin/numbers`);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text).type).toBe('error');
    const forged = await send(`${a.url}/dashboard/admin/numbers`, {
      headers: { cookie: 'sluice_dashboard=v1.abc.99999999999999.def' },
    });
    expect(forged.status).toBe(401);
  });

  it('makes a state change only with the CSRF token of the session, from the same origin', async () => {
    const cookie = await login(a.url);
    const csrf = csrfOf((await send(`${a.url}/dashboard`, { headers: { cookie } })).text);
    const other = csrfOf(
      (await send(`${a.url}/dashboard`, { headers: { cookie: await login(a.url) } })).text,
    );
    const post = (headers: Record<string, string>) =>
      send(`${a.url}/dashboard/admin/numbers`, { method: 'POST', headers: { cookie, ...headers } });
    const before = changes;
    expect((await post({})).status).toBe(403);
    expect((await post({ [CSRF_HEADER]: other })).status).toBe(403);
    expect((await post({ [CSRF_HEADER]: csrf, origin: 'https://evil.example' })).status).toBe(403);
    expect(changes).toBe(before);
    const host = new URL(a.url).host;
    const ok = await post({ [CSRF_HEADER]: csrf, origin: `http://${host}` });
    expect(ok.status).toBe(200);
    expect(changes).toBe(before + 1);
  });

  it('serves every asset itself, uPlot included', async () => {
    for (const name of ['dashboard.js', 'dashboard.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
      const asset = await send(`${a.url}/dashboard/static/${name}`);
      expect(asset.status, name).toBe(200);
      expect(asset.text.length).toBeGreaterThan(500);
      const again = await send(`${a.url}/dashboard/static/${name}`, {
        headers: { 'if-none-match': String(asset.headers.etag) },
      });
      expect(again.status).toBe(304);
    }
    expect((await send(`${a.url}/dashboard/static/../index.ts`)).status).toBe(404);
  });
});

describe('the dashboard under generated input', () => {
  it('never answers 5xx, never starts a session without the token, never changes state without the CSRF token (400 requests)', async () => {
    // Wrong tokens are held back briefly here, so the run's time does not depend on how many it generates.
    const fuzzed = await mount(TOKEN, 5, 20);
    const cookie = await login(fuzzed.url);
    const before = changes;
    const text = fc.string({ unit: 'binary', maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'),
          path: fc.oneof(
            fc.constantFrom(
              '/dashboard',
              '/dashboard/',
              '/dashboard/login',
              '/dashboard/logout',
              '/dashboard/admin/numbers',
              '/dashboard/admin/',
              '/dashboard/static/dashboard.js',
              '/dashboard/static/',
            ),
            fc.webSegment().map((s) => `/dashboard/${s}`),
            fc.webSegment().map((s) => `/dashboard/admin/${s}`),
            fc.webSegment().map((s) => `/dashboard/static/${s}`),
          ),
          cookie: fc.oneof(
            fc.constant(undefined),
            fc.constant(cookie),
            text.map((t) => `sluice_dashboard=${encodeURIComponent(t)}`),
            fc.tuple(fc.webSegment(), fc.nat()).map(([id, n]) => `sluice_dashboard=v1.${id}.${n}.${id}`),
          ),
          csrf: fc.option(text.map((t) => encodeURIComponent(t))),
          body: fc.oneof(
            text,
            text.map((t) => `token=${encodeURIComponent(t)}`),
            fc.constant(`token=${TOKEN}x`),
            fc.constant('x'.repeat(10_000)),
          ),
        }),
        async (r) => {
          const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
          if (r.cookie) headers.cookie = r.cookie;
          if (r.csrf !== null) headers[CSRF_HEADER] = r.csrf;
          const answer = await send(`${fuzzed.url}${r.path}`, {
            method: r.method,
            headers,
            body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
          });
          expect(answer.status, `${r.method} ${r.path}`).toBeLessThan(500);
          const setCookie = answer.headers['set-cookie'];
          // Only logout sets a cookie here (clearing it): no generated body holds the token.
          if (setCookie) expect(String(setCookie)).toMatch(/^sluice_dashboard=; /);
          expect(answer.text).not.toContain(TOKEN);
        },
      ),
      fuzzParameters(400),
    );
    // No generated request carried the session's CSRF token, so nothing changed.
    expect(changes).toBe(before);
    fuzzed.server.close();
  }, 120_000);
});
