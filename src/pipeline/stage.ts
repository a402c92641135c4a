import type { Call } from './types.js';

/**
 * A stage reads the call, adds what it knows, and either lets it continue (returns) or refuses
 * it (throws an ApiError). Stages run in a fixed order: authenticate → route → guard → admit → forward.
 */
export interface Stage {
  readonly name: string;
  run(call: Call): Promise<void> | void;
}

/** Where the answer goes: the HTTP response for the server, a buffer for library use. */
export interface Responder {
  readonly headersSent: boolean;
  head(status: number, headers: Record<string, string | string[]>): void;
  /** Writes a chunk; false when the client's buffer is full and `drained()` should be awaited. */
  write(chunk: Buffer | string): boolean;
  /** Resolves when the client can take more, or has gone. */
  drained(): Promise<void>;
  end(chunk?: Buffer | string): void;
}
