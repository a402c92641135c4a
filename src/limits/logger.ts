import { pino } from 'pino';

/** The part of a pino logger the limits module uses. */
export interface LimitsLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export function defaultLimitsLogger(): LimitsLogger {
  return pino({ name: 'sluice-limits', level: 'info' });
}
