import { keyHint } from '../keys/format.js';
import type { KeyMatch } from './shapes.js';

/** The only form a found key is ever shown in: its fixed prefix and last four characters. */
export function maskKey(match: Pick<KeyMatch, 'rule' | 'secret' | 'prefix'>): string {
  if (match.rule === 'sluice-virtual-key') return keyHint(match.secret);
  return `${match.prefix}…${match.secret.slice(-4)}`;
}
