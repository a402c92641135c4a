import type { Stage } from './stage.js';
import type { Call, Hold } from './types.js';

/** Takes a reservation for the call or refuses it (throws ApiError); a refusal reaches no upstream. */
export type Reserve = (call: Call) => Promise<Hold> | Hold;

/**
 * Admission: the budget reservation (worst-case cost) and the rate-limit admission (key quotas
 * and the upstream buckets), each held until the call ends and then settled with what it used.
 */
export function admitStage(reservers: Reserve[]): Stage {
  const takeRest = async (call: Call, taken: Hold, from: number): Promise<void> => {
    call.holds.push(taken);
    for (const reserve of reservers.slice(from)) call.holds.push(await reserve(call));
  };
  return {
    name: 'admit',
    run(call) {
      // Most reservations are taken in memory: those cost no promise and no microtask.
      for (let i = 0; i < reservers.length; i++) {
        const hold = reservers[i]!(call);
        if (hold instanceof Promise) return hold.then((taken) => takeRest(call, taken, i + 1));
        call.holds.push(hold);
      }
    },
  };
}
