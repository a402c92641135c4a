import { describe, expect, it } from 'vitest';
import {
  generateVirtualKey,
  isValidVirtualKey,
  keyHint,
  VIRTUAL_KEY_PATTERN,
} from '../../src/keys/format.js';

describe('virtual key format', () => {
  it('generates distinct keys that verify and match the scanner pattern', () => {
    const keys = new Set(Array.from({ length: 200 }, generateVirtualKey));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toHaveLength(59);
      expect(isValidVirtualKey(key)).toBe(true);
      expect(`x=${key};`.match(VIRTUAL_KEY_PATTERN)?.[0]).toBe(key);
    }
  });

  it('rejects a key with one character changed', () => {
    const key = generateVirtualKey();
    const flipped = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
    expect(isValidVirtualKey(flipped)).toBe(false);
    expect(isValidVirtualKey(key.slice(0, -1))).toBe(false);
  });

  it('shows only prefix and last four characters', () => {
    const key = generateVirtualKey();
    expect(keyHint(key)).toBe(`sk-sluice-…${key.slice(-4)}`);
  });
});
