/**
 * Calls between the processes of `sluice serve --workers N` over their IPC channel: a worker
 * asks, the primary answers. Messages are tagged so they never mix with anything else sent on
 * the channel, and carry bigints and nested objects as they are (the cluster uses Node's
 * `advanced` serialization).
 *
 * Each side sends what one turn of its event loop produced as one message: under load a turn
 * admits and settles many requests, and a message costs far more than its contents (a write on
 * one side, a read and an event on the other), so batching keeps the channel's cost per request
 * low. Order is kept: items go out, and are handled, in the order they were made.
 */

/** One side of an IPC channel: a worker's `process`, or the primary's `cluster.Worker`. */
export interface Channel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off?(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A call (`id` ≥ 0, answered) or a notification (`id` -1, not answered). */
interface Request {
  id: number;
  method: string;
  args: unknown[];
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

interface Requests {
  sluiceRpc: 'requests';
  items: Request[];
}

interface Replies {
  sluiceRpc: 'replies';
  items: Reply[];
}

const tagged = <T extends { sluiceRpc: string }>(m: unknown, tag: T['sluiceRpc']): m is T =>
  typeof m === 'object' && m !== null && (m as T).sluiceRpc === tag;

/** The primary closed the channel (it stopped or crashed): no answer will come. */
export class ChannelClosedError extends Error {
  override name = 'ChannelClosedError';
}

/** Collects items during one event-loop turn and sends them as one message after it. */
class Outbox<T> {
  private items: T[] = [];

  constructor(private readonly ship: (items: T[]) => void) {}

  push(item: T): void {
    if (this.items.length === 0) setImmediate(this.flush);
    this.items.push(item);
  }

  readonly flush = (): void => {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.ship(items);
  };
}

/** The asking side: `call` waits for the answer, `notify` does not. */
export class RpcClient {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly outbox: Outbox<Request>;
  private closed = false;

  constructor(private readonly channel: Channel) {
    this.outbox = new Outbox((items) => this.send(items));
    channel.on('message', (message) => {
      if (!tagged<Replies>(message, 'replies')) return;
      for (const reply of message.items) {
        const waiter = this.waiting.get(reply.id);
        if (!waiter) continue;
        this.waiting.delete(reply.id);
        if (reply.error !== undefined) waiter.reject(new Error(reply.error));
        else waiter.resolve(reply.result);
      }
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new ChannelClosedError(`the primary process is gone (${method})`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.outbox.push({ id, method, args });
    });
  }

  notify(method: string, ...args: unknown[]): void {
    if (this.closed) return;
    this.outbox.push({ id: -1, method, args });
  }

  /** The channel closed: every call still waiting fails, later ones fail at once. */
  close(): void {
    this.closed = true;
    const error = new ChannelClosedError('the primary process is gone');
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  private send(items: Request[]): void {
    if (this.closed) {
      this.close();
      return;
    }
    try {
      this.channel.send({ sluiceRpc: 'requests', items } satisfies Requests);
    } catch {
      // The channel closed meanwhile (the primary went away).
      this.close();
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
  const replies = new Outbox<Reply>((items) => {
    try {
      channel.send({ sluiceRpc: 'replies', items } satisfies Replies);
    } catch {
      // The worker is gone; nobody waits for these answers any more.
    }
  });
  const handle = (request: Request) => {
    const isCall = request.id >= 0;
    const failed = (error: unknown) => {
      if (isCall)
        replies.push({ id: request.id, error: error instanceof Error ? error.message : String(error) });
      else onError(error, request.method);
    };
    const handler = handlers[request.method];
    if (!handler) return failed(new Error(`no such call: ${request.method}`));
    try {
      // Each handler names the types of its arguments; they arrive as the caller sent them.
      const result = (handler as Untyped)(from, ...request.args);
      if (!isCall) {
        if (result instanceof Promise) result.catch(failed);
      } else if (result instanceof Promise) {
        result.then((value) => replies.push({ id: request.id, result: value }), failed);
      } else replies.push({ id: request.id, result });
    } catch (error) {
      failed(error);
    }
  };
  const listener = (message: unknown) => {
    if (tagged<Requests>(message, 'requests')) for (const request of message.items) handle(request);
  };
  channel.on('message', listener);
  return () => channel.off?.('message', listener);
}
