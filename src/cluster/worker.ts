import { IpcBudgetGate } from '../ledger/ipc-budgets.js';
import { IpcBucketStore } from '../limits/ipc-store.js';
import type { SharedCounters } from '../server/plugins.js';
import { RpcClient } from './rpc.js';

/**
 * A worker's view of the counters its primary holds (see primary.ts): rate-limit buckets and
 * budgets, reached over this process's IPC channel. `onPrimaryGone` runs when the channel
 * closes (the primary stopped or was killed): the worker then drains and exits.
 */
export function countersFromPrimary(onPrimaryGone: () => void): SharedCounters {
  if (!process.send) throw new Error('not a worker process: there is no IPC channel to a primary');
  const send = process.send.bind(process);
  const rpc = new RpcClient({
    // After the channel closed, a send would be an 'error' event on `process`; calls then fail instead.
    send: (message) => {
      if (!process.connected) throw new Error('the IPC channel to the primary is closed');
      send(message);
    },
    on: (event, listener) => process.on(event, listener),
  });
  process.once('disconnect', () => {
    rpc.close();
    onPrimaryGone();
  });
  return { buckets: new IpcBucketStore(rpc), budgets: new IpcBudgetGate(rpc) };
}
