import { EventEmitter } from 'node:events';

/** What the stages need of an abort signal; Node's AbortSignal has this shape too. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The signal of one call: set when the client goes away. An EventEmitter rather than an
 * AbortController, because every request needs one and EventTarget costs several times more;
 * undici accepts either as a request's `signal`.
 */
export class CallSignal extends EventEmitter implements AbortSignalLike {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void {
    if (options?.once) this.once(type, listener);
    else this.on(type, listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    this.off(type, listener);
  }
}
