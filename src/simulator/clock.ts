/** Time source of the simulator; tests inject a manual clock to cover TTLs and refills without waiting. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private time = Date.parse('2026-01-15T12:00:00Z')) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

/**
 * Wall-clock time sped up `scale` times from the moment it is made: with 3600 an hour of
 * simulated time (a batch's processing, its 24-hour expiry) passes in a second.
 */
export class ScaledClock implements Clock {
  private readonly startedAt = Date.now();

  constructor(private readonly scale: number) {
    if (!(scale > 0)) throw new Error('the time scale must be above 0');
  }

  now(): number {
    return this.startedAt + Math.round((Date.now() - this.startedAt) * this.scale);
  }
}
