export interface LoginThrottleOptions {
  /** Delay after the first wrong token; each further one doubles it, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A client with no wrong token for this long starts over. */
  forgetAfterMs?: number;
  /** Clients remembered at most (the longest unseen are forgotten first), so a storm of addresses stays bounded. */
  maxClients?: number;
  /** Wrong-token answers held back at once; past it, answers are refused at once (no timer, no wait). */
  maxHeld?: number;
  clock?: () => number;
}

interface Failures {
  count: number;
  lockedUntil: number;
  lastAt: number;
}

export type Attempt = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Slows down guessing of the admin token, per client: each wrong token is answered only after a
 * delay that doubles with every failure, and while that delay runs the client's other attempts
 * are refused without the token being checked. So guesses from one client are sequential and
 * ever slower, and parallel connections gain nothing. Memory and timers are bounded.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();
  private held = 0;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxClients: number;
  private readonly maxHeld: number;
  private readonly clock: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.maxHeld = options.maxHeld ?? 256;
    this.clock = options.clock ?? Date.now;
  }

  /** Whether a client may try a token now. */
  attempt(client: string): Attempt {
    const entry = this.current(client);
    const now = this.clock();
    if (entry && entry.lockedUntil > now) return { allowed: false, retryAfterMs: entry.lockedUntil - now };
    return { allowed: true };
  }

  /** Records a wrong token; returns how long to hold the answer back (0 when too many are held already). */
  failed(client: string): number {
    const now = this.clock();
    const entry = this.current(client) ?? { count: 0, lockedUntil: 0, lastAt: now };
    entry.count++;
    entry.lastAt = now;
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(entry.count - 1, 30));
    entry.lockedUntil = now + delay;
    // Re-inserted so the map's order is least recently failed first.
    this.failures.delete(client);
    this.failures.set(client, entry);
    while (this.failures.size > this.maxClients) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
    return this.held >= this.maxHeld ? 0 : delay;
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }

  /** Holds a wrong-token answer back for `ms`, counting it against the bound. */
  async hold(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.held++;
    try {
      await new Promise((resolve) => setTimeout(resolve, ms).unref());
    } finally {
      this.held--;
    }
  }

  /** Clients currently remembered (for tests and the bound). */
  get size(): number {
    return this.failures.size;
  }

  get heldNow(): number {
    return this.held;
  }

  private current(client: string): Failures | undefined {
    const entry = this.failures.get(client);
    if (entry && this.clock() - entry.lastAt > this.forgetAfterMs) {
      this.failures.delete(client);
      return undefined;
    }
    return entry;
  }
}
