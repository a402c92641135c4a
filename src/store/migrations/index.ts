import type { Migration } from 'kysely';
import * as keys from './001_keys.js';

/** Every schema change, in order; the name's number decides the order. */
export const migrations: Record<string, Migration> = {
  '001_keys': keys,
};
