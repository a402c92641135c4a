/** What the stages need of an abort signal; Node's AbortSignal has this shape too. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The signal of one call: set when the client goes away. A plain object rather than an
 * AbortController or an EventEmitter, because every request makes one and most never fire.
 * It fires at most once, so every listener is a once-listener.
 */
export class CallSignal implements AbortSignalLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.aborted) return;
    this.listeners ??= [];
    this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at !== -1) this.listeners!.splice(at, 1);
  }

  /** Listeners still waiting for an abort. */
  listenerCount(): number {
    return this.listeners?.length ?? 0;
  }
}

/**
 * The reason a call is aborted with when the gateway, shutting down, stops waiting for it: it
 * is still answered and accounted for (status, usage seen so far), unlike a client that left.
 */
export class DrainCut extends Error {
  constructor() {
    super('the gateway is shutting down and could not finish this request in time');
  }
}
