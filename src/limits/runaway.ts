import { Counter, type Registry } from 'prom-client';
import { displayUsd, usdToPico } from '../catalog/money.js';
import { ALERT_PAYLOAD_VERSION, type AlertMessage } from '../ledger/alerts.js';
import { sessionOf } from '../ledger/attribution.js';
import type { Reserve } from '../pipeline/admit.js';
import { ApiError } from '../pipeline/errors.js';
import type { Call, Hold, Principal } from '../pipeline/types.js';
import type { GuardLimits, RunawayConfig } from './runaway-config.js';

export type GuardScope = 'session' | 'key';
export type GuardKind = 'requests' | 'tokens' | 'spend';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Each window is counted in this many slots: a slot's amounts leave the window together. */
const SLOTS = 20;
/** Sessions and keys followed at once at most; the least recently added go first. */
const MAX_SUBJECTS = 100_000;

/**
 * A sum over the last `windowMs`, kept in slots of `windowMs / SLOTS`. A slot counts until its
 * end is a window old, so the sum errs high by at most one slot: a guard trips early, never late.
 */
export class SlidingWindow {
  private readonly slots: Array<{ index: number; amount: number }> = [];
  private readonly slotMs: number;

  constructor(readonly windowMs: number) {
    this.slotMs = windowMs / SLOTS;
  }

  add(now: number, amount: number): void {
    if (amount <= 0) return;
    const index = Math.floor(now / this.slotMs);
    const last = this.slots.at(-1);
    if (last && last.index === index) last.amount += amount;
    else this.slots.push({ index, amount });
  }

  total(now: number): number {
    this.expire(now);
    let sum = 0;
    for (const slot of this.slots) sum += slot.amount;
    return sum;
  }

  /** When the sum falls below `limit` if nothing more is added. */
  clearsAt(now: number, limit: number): number {
    let remaining = this.total(now);
    if (remaining < limit) return now;
    for (const slot of this.slots) {
      remaining -= slot.amount;
      if (remaining < limit) return this.endOf(slot.index);
    }
    return now;
  }

  private endOf(index: number): number {
    return (index + 1) * this.slotMs + this.windowMs;
  }

  private expire(now: number): void {
    while (this.slots.length > 0 && this.endOf(this.slots[0]!.index) <= now) this.slots.shift();
  }
}

interface Subject {
  requests: SlidingWindow;
  tokens: SlidingWindow;
  spend: SlidingWindow;
  /** Until when each guard is known to be tripped: a trip is alerted once, not per refusal. */
  trippedUntil: Partial<Record<GuardKind, number>>;
}

/** The ceilings in force for one scope of one request, with where each came from. */
interface Ceilings {
  rpm?: number;
  tpm?: number;
  spendPico?: number;
  source: Partial<Record<keyof GuardLimits, string>>;
}

/** A guard that tripped: the alert's and the metric's content. */
export interface RunawayTrip {
  scope: GuardScope;
  guard: GuardKind;
  /** The ceiling and what was seen, in requests, tokens or USD (a decimal string). */
  limit: string;
  observed: string;
  windowSeconds: number;
  clearsAt: number;
  keyId: string;
  keyName: string;
  developer?: string;
  session?: string;
  /** Where the ceiling is set (`limits.runaway.session.rpm`, or the key's own `--guard`). */
  setting: string;
  message: string;
}

export interface RunawayGuardOptions {
  config: RunawayConfig;
  registry?: Registry;
  now?: () => number;
  /** A guard tripped (once per trip, not per refused request): alert. */
  onTrip?: (trip: RunawayTrip) => void;
}

const FIELD_NAMES: Record<keyof GuardLimits, string> = { rpm: 'rpm', tpm: 'tpm', usdPerHour: 'usd_per_hour' };

/**
 * Runaway protection (docs/limits.md): each Claude Code session and each developer's key may
 * make so many requests and use so many tokens a minute, and spend so much an hour. Past a
 * ceiling, that session (or key) is answered 429 until its window has slid under the ceiling;
 * other sessions and keys are not touched. Counted in this instance's memory.
 */
export class RunawayGuard {
  private readonly subjects = new Map<string, Subject>();
  private readonly now: () => number;
  private readonly trips: Counter<'scope' | 'guard'>;
  private readonly refusals: Counter<'scope' | 'guard'>;
  private readonly sweeper: NodeJS.Timeout;
  private readonly globalSession: Ceilings | undefined;
  private readonly globalKey: Ceilings | undefined;

  constructor(private readonly options: RunawayGuardOptions) {
    this.now = options.now ?? Date.now;
    const registers = options.registry ? [options.registry] : [];
    this.trips = new Counter({
      name: 'sluice_runaway_trips_total',
      help: 'Runaway guards tripped (once per trip), by scope (session, key) and guard (requests, tokens, spend)',
      labelNames: ['scope', 'guard'],
      registers,
    });
    this.refusals = new Counter({
      name: 'sluice_runaway_refusals_total',
      help: 'Requests refused by a tripped runaway guard, by scope and guard',
      labelNames: ['scope', 'guard'],
      registers,
    });
    const { config } = options;
    this.globalSession = config.enabled ? ceilings(config.session, 'limits.runaway.session') : undefined;
    this.globalKey = config.enabled ? ceilings(config.key, 'limits.runaway.key') : undefined;
    this.sweeper = setInterval(() => this.sweep(), MINUTE_MS);
    this.sweeper.unref();
  }

  /** The admit stage's reservation: refuses a tripped session or key, else counts the request. */
  readonly reserve: Reserve = (call) => {
    const principal = call.principal;
    if (!principal || principal.guards?.off) return NO_HOLD;
    const now = this.now();
    const session = sessionOf(call) ?? undefined;
    const sessionCeilings = session === undefined ? undefined : this.sessionCeilings(principal);
    const keyCeilings = this.keyCeilings(principal);
    if (!sessionCeilings && !keyCeilings) return NO_HOLD;
    const sessionSubject = sessionCeilings
      ? this.subject(`s\u0000${principal.keyId}\u0000${session}`)
      : undefined;
    const keySubject = keyCeilings ? this.subject(`k\u0000${principal.keyId}`) : undefined;
    if (sessionSubject) this.check(sessionSubject, sessionCeilings!, 'session', principal, session, now);
    if (keySubject) this.check(keySubject, keyCeilings!, 'key', principal, undefined, now);
    sessionSubject?.requests.add(now, 1);
    keySubject?.requests.add(now, 1);
    return {
      settle: (ended: Call) => {
        const at = this.now();
        const tokens = tokensOf(ended);
        const spend = ended.cost ? Number(ended.cost.pico) : 0;
        for (const subject of [sessionSubject, keySubject]) {
          if (!subject) continue;
          subject.tokens.add(at, tokens);
          subject.spend.add(at, spend);
        }
      },
    };
  };

  close(): void {
    clearInterval(this.sweeper);
  }

  private sessionCeilings(principal: Principal): Ceilings | undefined {
    return merge(this.globalSession, principal.guards?.session, "this key's --guard session");
  }

  private keyCeilings(principal: Principal): Ceilings | undefined {
    const applies = this.options.config.allKeys || principal.developer !== undefined;
    return merge(applies ? this.globalKey : undefined, principal.guards?.key, "this key's --guard key");
  }

  private subject(id: string): Subject {
    let subject = this.subjects.get(id);
    if (!subject) {
      if (this.subjects.size >= MAX_SUBJECTS) this.subjects.delete(this.subjects.keys().next().value!);
      subject = {
        requests: new SlidingWindow(MINUTE_MS),
        tokens: new SlidingWindow(MINUTE_MS),
        spend: new SlidingWindow(HOUR_MS),
        trippedUntil: {},
      };
      this.subjects.set(id, subject);
    }
    return subject;
  }

  private check(
    subject: Subject,
    limits: Ceilings,
    scope: GuardScope,
    principal: Principal,
    session: string | undefined,
    now: number,
  ): void {
    const checks: Array<[GuardKind, SlidingWindow, number | undefined, keyof GuardLimits]> = [
      ['requests', subject.requests, limits.rpm, 'rpm'],
      ['tokens', subject.tokens, limits.tpm, 'tpm'],
      ['spend', subject.spend, limits.spendPico, 'usdPerHour'],
    ];
    for (const [guard, window, limit, field] of checks) {
      if (limit === undefined) continue;
      const observed = window.total(now);
      if (observed < limit) continue;
      const clearsAt = Math.max(window.clearsAt(now, limit), now + 1000);
      const setting = `${limits.source[field]}.${FIELD_NAMES[field]}`;
      const trip = describeTrip({
        scope,
        guard,
        limit,
        observed,
        windowSeconds: window.windowMs / 1000,
        clearsAt,
        now,
        principal,
        session,
        setting,
      });
      this.refusals.inc({ scope, guard });
      const until = subject.trippedUntil[guard];
      if (until === undefined || now >= until) {
        this.trips.inc({ scope, guard });
        this.options.onTrip?.(trip);
      }
      subject.trippedUntil[guard] = clearsAt;
      const retryAfter = Math.max(1, Math.ceil((clearsAt - now) / 1000));
      throw new ApiError(
        429,
        trip.message,
        { 'retry-after': String(retryAfter), 'x-sluice-guard': `${scope}.${FIELD_NAMES[field]}` },
        'rate_limit_error',
      );
    }
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, subject] of this.subjects) {
      if (subject.requests.total(now) + subject.tokens.total(now) + subject.spend.total(now) === 0)
        this.subjects.delete(id);
    }
  }
}

const NO_HOLD: Hold = { settle: () => undefined };

/** A trip as a webhook alert (payload version 1, docs/change-feed.md): names, never secrets. */
export function runawayAlert(trip: RunawayTrip): AlertMessage {
  return {
    version: ALERT_PAYLOAD_VERSION,
    text: trip.message,
    alert: {
      kind: 'runaway_guard',
      scope: trip.scope,
      guard: trip.guard,
      subject: trip.keyName,
      subject_id: trip.keyId,
      developer: trip.developer ?? null,
      session: trip.session ?? null,
      limit: trip.limit,
      observed: trip.observed,
      window_seconds: trip.windowSeconds,
      setting: trip.setting,
      clears_at: new Date(trip.clearsAt).toISOString(),
    },
  };
}

function ceilings(limits: GuardLimits, source: string): Ceilings {
  return {
    rpm: limits.rpm,
    tpm: limits.tpm,
    spendPico: limits.usdPerHour === undefined ? undefined : Number(usdToPico(limits.usdPerHour)),
    source: { rpm: source, tpm: source, usdPerHour: source },
  };
}

/** The configured ceilings with the key's own over them; undefined when neither sets any. */
function merge(
  configured: Ceilings | undefined,
  own: GuardLimits | undefined,
  ownSource: string,
): Ceilings | undefined {
  if (!own) return configured;
  const mine = ceilings(own, ownSource);
  const merged: Ceilings = { ...configured, source: { ...configured?.source } };
  for (const field of ['rpm', 'tpm', 'usdPerHour'] as const) {
    if (own[field] === undefined) continue;
    merged.source[field] = ownSource;
    if (field === 'usdPerHour') merged.spendPico = mine.spendPico;
    else merged[field] = mine[field];
  }
  return merged;
}

/** Tokens that cost at least the base input rate: input, cache writes and output (cache reads are left to the spend ceiling). */
function tokensOf(call: Call): number {
  const usage = call.usage;
  if (!usage) return 0;
  return (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.output_tokens ?? 0);
}

function describeTrip(input: {
  scope: GuardScope;
  guard: GuardKind;
  limit: number;
  observed: number;
  windowSeconds: number;
  clearsAt: number;
  now: number;
  principal: Principal;
  session: string | undefined;
  setting: string;
}): RunawayTrip {
  const { scope, guard, principal, session } = input;
  const money = (pico: number) => displayUsd(BigInt(Math.round(pico)));
  const count = (n: number) => n.toLocaleString('en-US');
  const limit = guard === 'spend' ? money(input.limit) : count(input.limit);
  const observed = guard === 'spend' ? money(input.observed) : count(input.observed);
  const who =
    scope === 'session'
      ? `session ${session} of key ${principal.name}`
      : `key ${principal.name}${principal.developer ? ` (developer ${principal.developer})` : ''}`;
  const what =
    guard === 'requests'
      ? `sent ${observed} requests in the last minute (ceiling ${limit} a minute`
      : guard === 'tokens'
        ? `used ${observed} tokens in the last minute (ceiling ${limit} a minute`
        : `spent ${observed} in the last hour (ceiling ${limit} an hour`;
  const seconds = Math.max(1, Math.ceil((input.clearsAt - input.now) / 1000));
  const message =
    `Sluice runaway guard (${scope} ${guard}): ${who} ${what}, ${input.setting}); ` +
    `its requests are refused until ${new Date(input.clearsAt).toISOString()} (in ${seconds} s). ` +
    (scope === 'session' ? 'Other sessions and keys are not affected.' : 'Other keys are not affected.');
  return {
    scope,
    guard,
    limit: guard === 'spend' ? money(input.limit).replace('$', '') : String(input.limit),
    observed: guard === 'spend' ? money(input.observed).replace('$', '') : String(input.observed),
    windowSeconds: input.windowSeconds,
    clearsAt: input.clearsAt,
    keyId: principal.keyId,
    keyName: principal.name,
    developer: principal.developer,
    session,
    setting: input.setting,
    message,
  };
}
