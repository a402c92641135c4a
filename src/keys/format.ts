import { createHash, randomBytes } from 'node:crypto';

/**
 * Virtual key format: `sk-sluice-` + 43 base62 characters of randomness (256 bits) + 6 base62
 * characters of checksum. The checksum lets a scanner tell a real key from a look-alike offline.
 */
export const VIRTUAL_KEY_PREFIX = 'sk-sluice-';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;

/** Matches a candidate virtual key anywhere in text (checksum not yet verified). */
export const VIRTUAL_KEY_PATTERN = /sk-sluice-[0-9A-Za-z]{49}(?![0-9A-Za-z])/g;

function toBase62(bytes: Buffer, length: number): string {
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += BASE62[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}

function checksum(body: string): string {
  return toBase62(createHash('sha256').update(body).digest().subarray(0, 8), CHECKSUM_LENGTH);
}

export function generateVirtualKey(): string {
  const body = toBase62(randomBytes(33), BODY_LENGTH);
  return `${VIRTUAL_KEY_PREFIX}${body}${checksum(body)}`;
}

/** True when the string is exactly a virtual key with a valid checksum. */
export function isValidVirtualKey(candidate: string): boolean {
  if (!candidate.startsWith(VIRTUAL_KEY_PREFIX)) return false;
  const rest = candidate.slice(VIRTUAL_KEY_PREFIX.length);
  if (rest.length !== BODY_LENGTH + CHECKSUM_LENGTH || !/^[0-9A-Za-z]+$/.test(rest)) return false;
  return checksum(rest.slice(0, BODY_LENGTH)) === rest.slice(BODY_LENGTH);
}

/** The only form a key is ever shown in after creation: prefix and last four characters. */
export function keyHint(key: string): string {
  return `${key.slice(0, VIRTUAL_KEY_PREFIX.length)}…${key.slice(-4)}`;
}

/** Stored form of a virtual key: keys have 256 bits of entropy, so a plain SHA-256 suffices. */
export function hashVirtualKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
