import type { BudgetWindow } from './tables.js';

const DAY_MS = 86_400_000;

/** The UTC calendar window containing `now`: [start, end); a total budget never resets (end null). */
export function windowAt(window: BudgetWindow, now: number): { start: number; end: number | null } {
  if (window === 'total') return { start: 0, end: null };
  if (window === 'daily') {
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    return { start, end: start + DAY_MS };
  }
  const date = new Date(now);
  return {
    start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
  };
}
