import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a dashboard session lasts from login; rotating the admin token ends every session at once. */
export const SESSION_TTL_MS = 8 * 3_600_000;
const COOKIE_VERSION = 'v1';

export interface Session {
  id: string;
  expiresAt: number;
  /** Sent back by the page with every state-changing request (form field or `x-sluice-csrf` header). */
  csrf: string;
}

/**
 * Dashboard sessions as signed, expiring cookies: `v1.<random id>.<expiry>.<HMAC>`. The key is
 * derived from the admin token (HKDF), so every instance configured with the same token accepts
 * the cookies of the others without shared state, a new token ends every session, and nothing in
 * the cookie reveals the token. The CSRF token is a second HMAC of the session id under the same
 * key: per session, checkable on any instance, and useless without the HTTP-only cookie.
 */
export class SessionSigner {
  private readonly key: Buffer;

  constructor(
    adminToken: string,
    private readonly clock: () => number = Date.now,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', adminToken, 'sluice-dashboard', 'session-cookie-v1', 32));
  }

  issue(): { cookieValue: string; session: Session } {
    const id = randomBytes(18).toString('base64url');
    const expiresAt = this.clock() + this.ttlMs;
    const payload = `${COOKIE_VERSION}.${id}.${expiresAt}`;
    return {
      cookieValue: `${payload}.${this.mac('cookie', payload)}`,
      session: { id, expiresAt, csrf: this.mac('csrf', id) },
    };
  }

  /** The session a cookie value stands for, or undefined when it is forged, altered or expired. */
  verify(cookieValue: string | undefined): Session | undefined {
    if (!cookieValue || cookieValue.length > 200) return undefined;
    const parts = cookieValue.split('.');
    if (parts.length !== 4 || parts[0] !== COOKIE_VERSION) return undefined;
    const [, id, expiry, mac] = parts as [string, string, string, string];
    if (!equal(mac, this.mac('cookie', `${COOKIE_VERSION}.${id}.${expiry}`))) return undefined;
    const expiresAt = Number(expiry);
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= this.clock()) return undefined;
    return { id, expiresAt, csrf: this.mac('csrf', id) };
  }

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\u0000${value}`).digest('base64url');
  }
}

/** Constant-time comparison of two short texts (different lengths are simply unequal). */
export function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie from a Cookie header. */
export function cookieFrom(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
