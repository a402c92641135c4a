import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type Channel, ChannelClosedError, RpcClient, serveRpc } from '../../src/cluster/rpc.js';
import { BudgetEnforcer } from '../../src/ledger/budget-enforcer.js';
import { setBudget } from '../../src/ledger/budget-store.js';
import { budgetHandlers, IpcBudgetGate } from '../../src/ledger/ipc-budgets.js';
import { bucketHandlers, IpcBucketStore } from '../../src/limits/ipc-store.js';
import { MemoryBucketStore } from '../../src/limits/memory-store.js';
import { openStore } from '../../src/store/database.js';

/** Two ends of an IPC channel in one process: messages are cloned (as Node serialises them) and arrive later. */
function channelPair(): { worker: Channel & { sent: unknown[] }; primary: Channel & { sent: unknown[] } } {
  const end = (inbox: EventEmitter, outbox: EventEmitter) => {
    const sent: unknown[] = [];
    return {
      sent,
      send(message: unknown) {
        sent.push(message);
        const copy = structuredClone(message);
        setTimeout(() => outbox.emit('message', copy), 1);
      },
      on(event: 'message', listener: (message: unknown) => void) {
        inbox.on(event, listener);
      },
    };
  };
  const toWorker = new EventEmitter();
  const toPrimary = new EventEmitter();
  return { worker: end(toWorker, toPrimary), primary: end(toPrimary, toWorker) };
}

describe('worker ↔ primary calls', () => {
  it('sends what one turn produced as one message, keeps order, and carries errors back', async () => {
    const { worker, primary } = channelPair();
    const seen: number[] = [];
    serveRpc(
      primary,
      1,
      {
        note: (_from, n: number) => void seen.push(n),
        double: (_from, n: number) => n * 2,
        later: async (_from, n: bigint) => n + 1n,
        fail: () => {
          throw new Error('refused here');
        },
      },
      () => {},
    );
    const rpc = new RpcClient(worker);
    rpc.notify('note', 1);
    const doubled = rpc.call<number>('double', 21);
    rpc.notify('note', 2);
    const later = rpc.call<bigint>('later', 41n);
    const failed = rpc.call('fail').catch((error: Error) => error.message);
    const unknown = rpc.call('nothing').catch((error: Error) => error.message);
    expect(await doubled).toBe(42);
    expect(await later).toBe(42n);
    expect(await failed).toBe('refused here');
    expect(await unknown).toBe('no such call: nothing');
    expect(seen).toEqual([1, 2]);
    // Six requests in one turn: one message each way.
    expect(worker.sent).toHaveLength(1);
    expect(primary.sent).toHaveLength(1);
  });

  it('fails calls still waiting, and later ones, once the primary is gone', async () => {
    const { worker } = channelPair();
    const rpc = new RpcClient(worker); // nobody answers
    const waiting = rpc.call('double', 1);
    rpc.close();
    await expect(waiting).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(rpc.call('double', 1)).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('gives several workers one set of buckets: a take by one is seen by the other', async () => {
    const store = new MemoryBucketStore();
    const handlers = bucketHandlers(store);
    const workers = [1, 2].map((id) => {
      const { worker, primary } = channelPair();
      serveRpc(primary, id, handlers, () => {});
      return new IpcBucketStore(new RpcClient(worker));
    });
    const charge = { key: 'key:k_1:rpm', limit: 3, windowMs: 60_000, amount: 1, fixedLimit: true };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => workers[i % 2]!.tryTake([charge])));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    workers[0]!.refund([charge]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await workers[1]!.tryTake([charge])).ok).toBe(true);
  });

  it('holds a budget across workers and gives back the reservations of a worker that is gone', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await setBudget(store.db, { scope: 'global', window: 'total', usd: '1' }, 'cli');
      const enforcer = new BudgetEnforcer(store.db);
      const primarySide = budgetHandlers(enforcer, () => enforcer.load());
      const gates = [1, 2].map((id) => {
        const { worker, primary } = channelPair();
        serveRpc(primary, id, primarySide.handlers, () => {});
        return new IpcBudgetGate(new RpcClient(worker));
      });
      for (const gate of gates) await gate.load();
      expect(gates[0]!.hasBudgetFor({ keyId: 'k_1' })).toBe(true);
      const quarter = 250_000_000_000n; // $0.25
      const admissions = await Promise.all(
        Array.from({ length: 6 }, (_, i) => gates[i % 2]!.reserve({ keyId: `k_${i}` }, quarter)),
      );
      expect(admissions.filter((a) => a.ok)).toHaveLength(4);
      const refused = admissions.find((a) => !a.ok);
      expect(refused && !refused.ok && refused.refusal.message).toMatch(
        /total \(prepaid\) budget of the gateway/,
      );
      expect(refused && !refused.ok && refused.refusal.error.headers).toMatchObject({
        'x-sluice-budget': 'global:total',
        'x-should-retry': 'false',
      });
      // Worker 1 settles one of its requests at a tenth of its reservation; worker 2 crashes.
      const first = admissions[0]!;
      if (first.ok) first.reservation.settle(quarter / 10n);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const admittedBy = (worker: number) => admissions.filter((a, i) => a.ok && i % 2 === worker - 1).length;
      expect(primarySide.forgetWorker(2)).toBe(admittedBy(2));
      const [state] = await gates[0]!.status();
      expect(state!.spentPico).toBe(quarter / 10n);
      // Worker 1's other requests, still in flight.
      expect(state!.reservedPico).toBe(quarter * BigInt(admittedBy(1) - 1));
    } finally {
      await store.close();
    }
  });
});
