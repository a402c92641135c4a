import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../../src/server/dashboard/login-throttle.js';
import { cookieFrom, SESSION_TTL_MS, SessionSigner } from '../../../src/server/dashboard/session.js';

const TOKEN = 'admin-token-for-tests-0123456789';

describe('dashboard sessions', () => {
  it('are accepted by every instance with the same admin token, and by none with another', () => {
    const { cookieValue, session } = new SessionSigner(TOKEN).issue();
    const elsewhere = new SessionSigner(TOKEN).verify(cookieValue);
    expect(elsewhere?.id).toBe(session.id);
    expect(elsewhere?.csrf).toBe(session.csrf);
    expect(new SessionSigner(`${TOKEN}-rotated`).verify(cookieValue)).toBeUndefined();
  });

  it('never carry the token, and refuse altered, truncated or foreign values', () => {
    const signer = new SessionSigner(TOKEN);
    const { cookieValue, session } = signer.issue();
    expect(cookieValue).not.toContain(TOKEN);
    expect(session.csrf).not.toContain(TOKEN);
    const [version, id, expiry, mac] = cookieValue.split('.');
    expect(signer.verify(`${version}.${id}.${Number(expiry) + 3_600_000}.${mac}`)).toBeUndefined();
    expect(signer.verify(`${version}.${id}x.${expiry}.${mac}`)).toBeUndefined();
    expect(signer.verify(`${version}.${id}.${expiry}`)).toBeUndefined();
    expect(signer.verify(`v2.${id}.${expiry}.${mac}`)).toBeUndefined();
    expect(signer.verify('')).toBeUndefined();
    expect(signer.verify(undefined)).toBeUndefined();
    expect(signer.verify('x'.repeat(10_000))).toBeUndefined();
  });

  it('expire', () => {
    let now = 1_000_000;
    const signer = new SessionSigner(TOKEN, () => now);
    const { cookieValue } = signer.issue();
    now += SESSION_TTL_MS - 1;
    expect(signer.verify(cookieValue)).toBeDefined();
    now += 1;
    expect(signer.verify(cookieValue)).toBeUndefined();
  });

  it('give each session its own CSRF token', () => {
    const signer = new SessionSigner(TOKEN);
    expect(signer.issue().session.csrf).not.toBe(signer.issue().session.csrf);
  });

  it('are read from a Cookie header among others', () => {
    expect(cookieFrom('a=1; sluice_dashboard=v1.x.2.y; b=2', 'sluice_dashboard')).toBe('v1.x.2.y');
    expect(cookieFrom('xsluice_dashboard=1', 'sluice_dashboard')).toBeUndefined();
    expect(cookieFrom(undefined, 'sluice_dashboard')).toBeUndefined();
  });
});

describe('the login throttle', () => {
  it('doubles the delay with each wrong token and refuses attempts during it', () => {
    let now = 0;
    const throttle = new LoginThrottle({ baseDelayMs: 500, maxDelayMs: 4000, clock: () => now });
    expect(throttle.attempt('1.2.3.4')).toEqual({ allowed: true });
    expect(throttle.failed('1.2.3.4')).toBe(500);
    expect(throttle.attempt('1.2.3.4')).toEqual({ allowed: false, retryAfterMs: 500 });
    expect(throttle.attempt('5.6.7.8')).toEqual({ allowed: true });
    now += 500;
    expect(throttle.attempt('1.2.3.4').allowed).toBe(true);
    expect([throttle.failed('1.2.3.4'), throttle.failed('1.2.3.4'), throttle.failed('1.2.3.4')]).toEqual([
      1000, 2000, 4000,
    ]);
    expect(throttle.failed('1.2.3.4')).toBe(4000);
    throttle.succeeded('1.2.3.4');
    expect(throttle.attempt('1.2.3.4').allowed).toBe(true);
  });

  it('forgets a client after a quiet spell', () => {
    let now = 0;
    const throttle = new LoginThrottle({ baseDelayMs: 500, forgetAfterMs: 60_000, clock: () => now });
    throttle.failed('a');
    throttle.failed('a');
    now += 60_001;
    expect(throttle.failed('a')).toBe(500);
  });

  it('stays bounded under a storm from many addresses, and stops holding answers past its limit', async () => {
    const throttle = new LoginThrottle({ baseDelayMs: 50, maxClients: 100, maxHeld: 3 });
    for (let i = 0; i < 10_000; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(throttle.size).toBe(100);
    const holds = [1, 2, 3].map(() => throttle.hold(throttle.failed('storm')));
    expect(throttle.heldNow).toBe(3);
    expect(throttle.failed('storm')).toBe(0);
    await Promise.all(holds);
    expect(throttle.heldNow).toBe(0);
  });
});
