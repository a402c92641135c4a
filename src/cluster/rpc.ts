/**
 * Calls between the processes of `sluice serve --workers N` over their IPC channel: a worker
 * asks, the primary answers. Messages are tagged so they never mix with anything else sent on
 * the channel, and carry bigints and nested objects as they are (the cluster uses Node's
 * `advanced` serialization).
 */

/** One side of an IPC channel: a worker's `process`, or the primary's `cluster.Worker`. */
export interface Channel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off?(event: 'message', listener: (message: unknown) => void): unknown;
}

interface Request {
  sluiceRpc: 'call' | 'notify';
  id: number;
  method: string;
  args: unknown[];
}

interface Reply {
  sluiceRpc: 'reply';
  id: number;
  result?: unknown;
  error?: string;
}

const isRequest = (m: unknown): m is Request =>
  typeof m === 'object' &&
  m !== null &&
  ((m as Request).sluiceRpc === 'call' || (m as Request).sluiceRpc === 'notify');
const isReply = (m: unknown): m is Reply =>
  typeof m === 'object' && m !== null && (m as Reply).sluiceRpc === 'reply';

/** The primary closed the channel (it stopped or crashed): no answer will come. */
export class ChannelClosedError extends Error {
  override name = 'ChannelClosedError';
}

/** The asking side: `call` waits for the answer, `notify` does not (order is kept on the channel). */
export class RpcClient {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(private readonly channel: Channel) {
    channel.on('message', (message) => {
      if (!isReply(message)) return;
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new ChannelClosedError(`the primary process is gone (${method})`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ sluiceRpc: 'call', id, method, args } satisfies Request);
    });
  }

  notify(method: string, ...args: unknown[]): void {
    if (this.closed) return;
    this.send({ sluiceRpc: 'notify', id: -1, method, args } satisfies Request);
  }

  /** The channel closed: every call still waiting fails, later ones fail at once. */
  close(): void {
    this.closed = true;
    const error = new ChannelClosedError('the primary process is gone');
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  private send(message: Request): void {
    try {
      this.channel.send(message);
    } catch (error) {
      // The channel closed between the check and the send (the primary went away).
      this.close();
      if (message.sluiceRpc === 'call') this.waiting.get(message.id)?.reject(error as Error);
    }
  }
}

/** What the answering side runs per method; `from` says which worker asked. */
export type Handlers = Record<string, (from: number, ...args: never[]) => unknown>;
type Untyped = (from: number, ...args: unknown[]) => unknown;

/**
 * Answers calls arriving on `channel` from worker `from`. A handler's error goes back as the
 * call's error; a notification's error is reported to `onError` (nobody waits for it).
 */
export function serveRpc(
  channel: Channel,
  from: number,
  handlers: Handlers,
  onError: (error: unknown, method: string) => void,
): () => void {
  const listener = (message: unknown) => {
    if (!isRequest(message)) return;
    const handler = handlers[message.method];
    const answer = (reply: Omit<Reply, 'sluiceRpc' | 'id'>) => {
      if (message.sluiceRpc !== 'call') return;
      try {
        channel.send({ sluiceRpc: 'reply', id: message.id, ...reply } satisfies Reply);
      } catch {
        // The worker is gone; nobody waits for this answer any more.
      }
    };
    if (!handler) {
      const error = `no such call: ${message.method}`;
      if (message.sluiceRpc === 'call') answer({ error });
      else onError(new Error(error), message.method);
      return;
    }
    const failed = (error: unknown) => {
      if (message.sluiceRpc === 'call')
        answer({ error: error instanceof Error ? error.message : String(error) });
      else onError(error, message.method);
    };
    try {
      // Each handler names the types of its arguments; they arrive as the caller sent them.
      const result = (handler as Untyped)(from, ...message.args);
      if (result instanceof Promise) result.then((value) => answer({ result: value }), failed);
      else answer({ result });
    } catch (error) {
      failed(error);
    }
  };
  channel.on('message', listener);
  return () => channel.off?.('message', listener);
}
