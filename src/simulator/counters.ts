/** What a test can read to prove what reached the simulator and how it was answered. */
export interface SimulatorCounters {
  /** API requests received (control endpoints excluded). */
  requests: number;
  /** By "METHOD /path". */
  byPath: Record<string, number>;
  /** Responses by HTTP status, faults included. */
  byStatus: Record<string, number>;
  /** Faults applied, by status code or kind ("reset", "delay", "stream-error", "stall"). */
  byFault: Record<string, number>;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** Requests whose client disconnected before the response was complete. */
  abortedByClient: number;
  /** Requests being served now. */
  inFlight: number;
  /** Spend this month at catalog prices, exact decimal USD text (e.g. "0.0017552"). */
  spendUsd: string;
}

export class Counters {
  requests = 0;
  byPath: Record<string, number> = {};
  byStatus: Record<string, number> = {};
  byFault: Record<string, number> = {};
  inputTokens = 0;
  outputTokens = 0;
  cacheCreationInputTokens = 0;
  cacheReadInputTokens = 0;
  abortedByClient = 0;
  inFlight = 0;

  received(route: string): void {
    this.requests++;
    this.byPath[route] = (this.byPath[route] ?? 0) + 1;
  }

  answered(status: number): void {
    const key = String(status);
    this.byStatus[key] = (this.byStatus[key] ?? 0) + 1;
  }

  faulted(name: string): void {
    this.byFault[name] = (this.byFault[name] ?? 0) + 1;
  }

  /** Zeroes everything but the requests still in flight. */
  reset(): void {
    const inFlight = this.inFlight;
    Object.assign(this, new Counters());
    this.inFlight = inFlight;
  }

  snapshot(spendUsd: string): SimulatorCounters {
    return {
      requests: this.requests,
      byPath: { ...this.byPath },
      byStatus: { ...this.byStatus },
      byFault: { ...this.byFault },
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cacheCreationInputTokens: this.cacheCreationInputTokens,
      cacheReadInputTokens: this.cacheReadInputTokens,
      abortedByClient: this.abortedByClient,
      inFlight: this.inFlight,
      spendUsd,
    };
  }
}
