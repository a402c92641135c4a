import type { Stage } from './stage.js';
import type { Call, Hold } from './types.js';

/** Takes a reservation for the call or refuses it (throws ApiError); a refusal reaches no upstream. */
export type Reserve = (call: Call) => Promise<Hold> | Hold;

/**
 * Admission: the budget reservation (worst-case cost) and the rate-limit admission (key quotas
 * and the upstream buckets), each held until the call ends and then settled with what it used.
 */
export function admitStage(reservers: Reserve[]): Stage {
  return {
    name: 'admit',
    async run(call) {
      for (const reserve of reservers) {
        const hold = reserve(call);
        // Most reservations are taken in memory: no microtask for those.
        call.holds.push(hold instanceof Promise ? await hold : hold);
      }
    },
  };
}
