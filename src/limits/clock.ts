/** Milliseconds since the epoch. Injected so tests can move time by hand. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** A clock that only moves when told to (unit tests of bucket arithmetic). */
export class ManualClock {
  constructor(private nowMs = 1_700_000_000_000) {}
  readonly now: Clock = () => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}
