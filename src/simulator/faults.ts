import { z } from 'zod';
import type { ErrorType } from './errors.js';
import { createRng, type Rng } from './random.js';

const errorTypes = [
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'conflict_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'timeout_error',
  'overloaded_error',
] as const satisfies readonly ErrorType[];

const statusFault = z.object({
  kind: z.literal('status').optional(),
  status: z.number().int().min(400).max(599),
  /** Seconds, sent as `retry-after`. */
  retryAfter: z.number().nonnegative().optional(),
  type: z.enum(errorTypes).optional(),
  message: z.string().optional(),
});
const resetFault = z.object({ kind: z.literal('reset') });
const delayFault = z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative() });
const streamErrorFault = z.object({
  kind: z.literal('stream-error'),
  afterEvents: z.number().int().nonnegative().default(3),
  type: z.enum(errorTypes).default('overloaded_error'),
  message: z.string().default('Overloaded'),
});
const stallFault = z.object({
  kind: z.literal('stall'),
  afterEvents: z.number().int().nonnegative().default(2),
});

export const faultSpecSchema = z.union([statusFault, resetFault, delayFault, streamErrorFault, stallFault]);

/** Fault rates by name: a status code ("429", "529", …) or a kind ("reset", "delay", "stream-error", "stall"). */
export const faultRatesSchema = z
  .record(z.string().regex(/^([45]\d\d|reset|delay|stream-error|stall)$/), z.number().min(0).max(1))
  .refine(
    (rates) => Object.values(rates).reduce((a, b) => a + b, 0) <= 1,
    'fault rates must add up to at most 1',
  );

/** A fault as a test writes it, e.g. `{status: 429, retryAfter: 2}` or `{kind: 'stall', afterEvents: 2}`. */
export type FaultSpec = z.input<typeof faultSpecSchema>;
export type FaultRates = z.input<typeof faultRatesSchema>;

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: number; type?: ErrorType; message?: string }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  | { kind: 'stream-error'; afterEvents: number; type: ErrorType; message: string }
  | { kind: 'stall'; afterEvents: number };

/** The name a fault is counted under: its status code or its kind. */
export function faultName(fault: Fault): string {
  return fault.kind === 'status' ? String(fault.status) : fault.kind;
}

function normalize(spec: FaultSpec): Fault {
  const parsed = faultSpecSchema.parse(spec);
  if ('status' in parsed) return { ...parsed, kind: 'status' };
  return parsed;
}

function fromRateName(name: string): Fault {
  if (/^\d+$/.test(name))
    return { kind: 'status', status: Number(name), retryAfter: name === '429' ? 1 : undefined };
  return normalize({ kind: name, ...(name === 'delay' ? { ms: 500 } : {}) } as FaultSpec);
}

/**
 * Faults for `POST /v1/messages`: a script of the next responses, consumed in order, then random
 * faults at the configured rates (seeded, so a run repeats).
 */
export class FaultInjector {
  private queue: Fault[] = [];
  private rates: Array<[string, number]> = [];
  private rng: Rng;

  constructor(private readonly seed: number) {
    this.rng = createRng(seed);
  }

  /** Replaces the script. Throws a ZodError on an invalid entry. */
  script(specs: FaultSpec[]): void {
    this.queue = specs.map(normalize);
  }

  append(specs: FaultSpec[]): void {
    this.queue.push(...specs.map(normalize));
  }

  setRates(rates: FaultRates): void {
    this.rates = Object.entries(faultRatesSchema.parse(rates));
  }

  clear(): void {
    this.queue = [];
    this.rates = [];
    this.rng = createRng(this.seed);
  }

  pending(): number {
    return this.queue.length;
  }

  currentRates(): Record<string, number> {
    return Object.fromEntries(this.rates);
  }

  /** The fault for the next request, if any. */
  take(): Fault | undefined {
    const scripted = this.queue.shift();
    if (scripted) return scripted;
    if (this.rates.length === 0) return undefined;
    let roll = this.rng.next();
    for (const [name, rate] of this.rates) {
      if (roll < rate) return fromRateName(name);
      roll -= rate;
    }
    return undefined;
  }
}
