import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RunawayGuard, type RunawayTrip, SlidingWindow } from '../../src/limits/runaway.js';
import {
  DEFAULT_RUNAWAY,
  parseGuardSpec,
  runawayConfigSchema,
  runawayFromEnvironment,
} from '../../src/limits/runaway-config.js';
import { ApiError } from '../../src/pipeline/errors.js';
import type { Call, Principal } from '../../src/pipeline/types.js';

const developerKey: Principal = {
  keyId: 'key_alice',
  name: 'claude-code-alice',
  environment: 'development',
  developer: 'alice',
};
const serviceKey: Principal = { keyId: 'key_svc', name: 'prod-backend-v1', environment: 'production' };

function call(principal: Principal, session?: string, extra: Partial<Call> = {}): Call {
  return {
    id: 'req',
    receivedAt: 0,
    startedAtMs: 0,
    path: '/v1/messages',
    headers: session ? { 'x-claude-code-session-id': session } : {},
    body: { model: 'claude-sonnet-5', messages: [] },
    rawBody: Buffer.alloc(0),
    bodyChanged: false,
    signal: { aborted: false } as Call['signal'],
    principal,
    priority: 'interactive',
    holds: [],
    ...extra,
  };
}

function guard(config: Record<string, unknown> = {}, start = 1_800_000_000_000) {
  const clock = { now: start };
  const trips: RunawayTrip[] = [];
  const registry = new Registry();
  const instance = new RunawayGuard({
    config: runawayConfigSchema.parse(config),
    registry,
    now: () => clock.now,
    onTrip: (trip) => trips.push(trip),
  });
  return { guard: instance, clock, trips, registry };
}

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('SlidingWindow', () => {
  it('sums the last window and says when a sum over a limit falls under it', () => {
    const window = new SlidingWindow(60_000); // 3 s slots
    window.add(0, 5);
    window.add(30_000, 5);
    expect(window.total(30_000)).toBe(10);
    // Under 8 once the first slot (0–3 s) is a window old: at 63 s.
    expect(window.clearsAt(30_000, 8)).toBe(63_000);
    expect(window.total(62_999)).toBe(10);
    expect(window.total(63_000)).toBe(5);
    expect(window.total(93_000)).toBe(0);
    expect(window.clearsAt(93_000, 1)).toBe(93_000);
  });
});

describe('runaway settings', () => {
  it('parses --guard text and refuses what it cannot read', () => {
    expect(parseGuardSpec('off')).toEqual({ off: true });
    expect(parseGuardSpec('session.rpm=60, key.usd_per_hour=2.5,key.tpm=1000')).toEqual({
      session: { rpm: 60 },
      key: { usdPerHour: '2.5', tpm: 1000 },
    });
    expect(() => parseGuardSpec('session.rps=3')).toThrow(/scope\.field=value/);
    expect(() => parseGuardSpec('session.rpm=-1')).toThrow(/--guard: session\.rpm/);
    expect(() => parseGuardSpec('key.usd_per_hour=lots')).toThrow(/USD amount/);
  });

  it('reads SLUICE_RUNAWAY_* over the file, defaults under both', () => {
    const config = runawayFromEnvironment(
      { session: { rpm: 90 } },
      { SLUICE_RUNAWAY_KEY_USD_PER_HOUR: '75', SLUICE_RUNAWAY_SESSION_TPM: '5000' },
    );
    expect(config.session).toEqual({ rpm: 90, tpm: 5000, usdPerHour: DEFAULT_RUNAWAY.session.usdPerHour });
    expect(config.key).toEqual({ ...DEFAULT_RUNAWAY.key, usdPerHour: '75' });
    expect(runawayFromEnvironment(undefined, { SLUICE_RUNAWAY: 'off' }).enabled).toBe(false);
    expect(() => runawayFromEnvironment(undefined, { SLUICE_RUNAWAY_KEY_RPM: 'many' })).toThrow(
      /SLUICE_RUNAWAY_KEY_RPM/,
    );
    expect(() => runawayFromEnvironment({ sesion: {} }, {})).toThrow(/limits\.runaway/);
  });
});

describe('RunawayGuard', () => {
  it('trips a looping session at its request ceiling, says which guard and when it clears, alerts once', async () => {
    const { guard: g, clock, trips, registry } = guard({ session: { rpm: 10 } });
    for (let i = 0; i < 10; i++) {
      g.reserve(call(developerKey, 'loop'));
      clock.now += 100;
    }
    const first = refusal(() => g.reserve(call(developerKey, 'loop')));
    expect(first.status).toBe(429);
    expect(first.type).toBe('rate_limit_error');
    expect(first.headers['x-sluice-guard']).toBe('session.rpm');
    expect(first.message).toMatch(
      /^Sluice runaway guard \(session requests\): session loop of key claude-code-alice sent 10 requests in the last minute \(ceiling 10 a minute, limits\.runaway\.session\.rpm\); its requests are refused until \d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+ s\)\. Other sessions and keys are not affected\.$/,
    );
    const retryAfter = Number(first.headers['retry-after']);
    // The first requests leave the window about a minute after they were made.
    expect(retryAfter).toBeGreaterThan(55);
    expect(retryAfter).toBeLessThanOrEqual(64);
    clock.now += 1000;
    refusal(() => g.reserve(call(developerKey, 'loop')));
    // Another session of the same key, and another key, are not stopped.
    expect(() => g.reserve(call(developerKey, 'other-session'))).not.toThrow();
    expect(() => g.reserve(call(serviceKey, 'loop'))).not.toThrow();
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({
      scope: 'session',
      guard: 'requests',
      limit: '10',
      session: 'loop',
      developer: 'alice',
    });
    const metrics = await registry.metrics();
    expect(metrics).toContain('sluice_runaway_trips_total{scope="session",guard="requests"} 1');
    expect(metrics).toContain('sluice_runaway_refusals_total{scope="session",guard="requests"} 2');
    // Once the window has slid, the session flows again.
    clock.now += retryAfter * 1000;
    expect(() => g.reserve(call(developerKey, 'loop'))).not.toThrow();
  });

  it('trips on tokens and on spend as the answers settle', () => {
    const {
      guard: g,
      clock,
      trips,
    } = guard({ session: { tpm: 1000, rpm: 1000 }, key: { usdPerHour: '0.5' } });
    const usage = {
      input_tokens: 300,
      output_tokens: 150,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 90_000,
    };
    const spend = (session: string, pico: bigint) => {
      const c = call(developerKey, session);
      const hold = g.reserve(c) as { settle(call: Call): void };
      hold.settle({ ...c, usage, cost: { pico, priced: true } as Call['cost'] });
      clock.now += 10;
    };
    spend('a', 1n);
    // 550 tokens counted (cache reads are left to the spend ceiling); 1100 after the second.
    spend('a', 1n);
    const tokens = refusal(() => g.reserve(call(developerKey, 'a')));
    expect(tokens.headers['x-sluice-guard']).toBe('session.tpm');
    expect(tokens.message).toContain('used 1,100 tokens in the last minute (ceiling 1,000 a minute');
    // Spend is per key: two sessions together pass $0.50 in the hour.
    spend('b', 300_000_000_000n);
    spend('c', 300_000_000_000n);
    const money = refusal(() => g.reserve(call(developerKey, 'd')));
    expect(money.headers['x-sluice-guard']).toBe('key.usd_per_hour');
    expect(money.message).toContain(
      'key claude-code-alice (developer alice) spent $0.6000 in the last hour (ceiling $0.5000 an hour',
    );
    expect(Number(money.headers['retry-after'])).toBeGreaterThan(3000);
    expect(trips.map((t) => `${t.scope}.${t.guard}`)).toEqual(['session.tokens', 'key.spend']);
  });

  it('guards keys of developers by default, other keys when allKeys is set or they ask for it', () => {
    const loop = (g: RunawayGuard, principal: Principal, n: number) => {
      for (let i = 0; i < n; i++) g.reserve(call(principal));
    };
    const defaults = guard({ key: { rpm: 5 } }).guard;
    loop(defaults, serviceKey, 50); // no developer, no session: not guarded
    loop(defaults, developerKey, 5);
    expect(refusal(() => defaults.reserve(call(developerKey))).headers['x-sluice-guard']).toBe('key.rpm');

    const all = guard({ key: { rpm: 5 }, allKeys: true }).guard;
    loop(all, serviceKey, 5);
    expect(refusal(() => all.reserve(call(serviceKey))).status).toBe(429);

    const own = guard({ enabled: false }).guard;
    const withOwn: Principal = { ...serviceKey, guards: { session: { rpm: 2 } } };
    loop(own, withOwn, 50); // no session: the key's session ceiling has nothing to count
    own.reserve(call(withOwn, 's'));
    own.reserve(call(withOwn, 's'));
    const message = refusal(() => own.reserve(call(withOwn, 's'))).message;
    expect(message).toContain("ceiling 2 a minute, this key's --guard session.rpm");

    const off = guard({ session: { rpm: 1 }, key: { rpm: 1 } }).guard;
    loop(off, { ...developerKey, guards: { off: true } }, 20);
    for (let i = 0; i < 20; i++) off.reserve(call({ ...developerKey, guards: { off: true } }, 's'));
  });

  it('keeps sessions of different keys apart even when they carry the same session id', () => {
    const { guard: g } = guard({ session: { rpm: 3 } });
    for (let i = 0; i < 3; i++) g.reserve(call(developerKey, 'same'));
    expect(refusal(() => g.reserve(call(developerKey, 'same'))).status).toBe(429);
    expect(() =>
      g.reserve(call({ ...developerKey, keyId: 'key_bob', name: 'claude-code-bob' }, 'same')),
    ).not.toThrow();
  });
});
