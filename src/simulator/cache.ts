import { createHash, type Hash } from 'node:crypto';
import type { Clock } from './clock.js';
import { invalidRequest } from './errors.js';
import type { PromptBlock } from './tokens.js';
import type { CacheControl } from './types.js';

const ttlMs = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;
type Ttl = keyof typeof ttlMs;
/** How far before a breakpoint the service looks for an earlier cached prefix. */
const lookbackBlocks = 20;

export interface CachePlan {
  readTokens: number;
  creation5m: number;
  creation1h: number;
  /** Records the writes and refreshes; called only once the request is admitted. */
  commit(): void;
}

const noCaching: CachePlan = { readTokens: 0, creation5m: 0, creation1h: 0, commit: () => {} };

interface Entry {
  expiresAt: number;
  ttl: Ttl;
}

/**
 * Prompt cache keyed by (scope, prefix hash). A breakpoint caches the prefix up to and including
 * its block; a later request reads the longest cached prefix found at or up to 20 blocks before
 * one of its breakpoints, and writes the prefixes of breakpoints beyond it. Prefixes shorter than
 * the model's minimum are not cached and cost plain input.
 */
export class PromptCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  plan(
    scope: string,
    blocks: PromptBlock[],
    automatic: CacheControl | undefined,
    minTokens: number,
  ): CachePlan {
    const breakpoints = findBreakpoints(blocks, automatic);
    if (breakpoints.length === 0) return noCaching;

    const cumulative: number[] = [];
    let sum = 0;
    for (const block of blocks) {
      sum += block.tokens;
      cumulative.push(sum);
    }

    const lastBreakpoint = breakpoints[breakpoints.length - 1]!.index;
    const wanted = new Set<number>();
    for (const { index } of breakpoints) {
      for (let i = Math.max(0, index - lookbackBlocks); i <= index; i++) wanted.add(i);
    }
    const keys = prefixKeys(scope, blocks, wanted, lastBreakpoint);

    const now = this.clock.now();
    let hit = -1;
    for (const index of [...wanted].sort((a, b) => b - a)) {
      const entry = this.entries.get(keys.get(index)!);
      if (entry && entry.expiresAt > now) {
        hit = index;
        break;
      }
    }

    const readTokens = hit >= 0 ? cumulative[hit]! : 0;
    const creation = { '5m': 0, '1h': 0 };
    const writes: Array<{ key: string; ttl: Ttl }> = [];
    let covered = readTokens;
    for (const { index, ttl } of breakpoints) {
      if (index <= hit || cumulative[index]! < minTokens) continue;
      creation[ttl] += cumulative[index]! - covered;
      covered = cumulative[index]!;
      writes.push({ key: keys.get(index)!, ttl });
    }

    return {
      readTokens,
      creation5m: creation['5m'],
      creation1h: creation['1h'],
      commit: () => {
        const at = this.clock.now();
        if (hit >= 0) {
          const entry = this.entries.get(keys.get(hit)!)!;
          entry.expiresAt = at + ttlMs[entry.ttl];
        }
        for (const { key, ttl } of writes) this.entries.set(key, { ttl, expiresAt: at + ttlMs[ttl] });
        this.evictExpired(at);
      },
    };
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private evictExpired(now: number): void {
    if (this.entries.size < 10_000) return;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}

function findBreakpoints(
  blocks: PromptBlock[],
  automatic: CacheControl | undefined,
): Array<{ index: number; ttl: Ttl }> {
  const found: Array<{ index: number; ttl: Ttl }> = [];
  blocks.forEach((block, index) => {
    if (block.cacheControl) found.push({ index, ttl: block.cacheControl.ttl ?? '5m' });
  });
  const last = blocks.length - 1;
  if (automatic && last >= 0 && found[found.length - 1]?.index !== last) {
    found.push({ index: last, ttl: automatic.ttl ?? '5m' });
  }
  let seenShort = false;
  for (const { ttl } of found) {
    if (ttl === '5m') seenShort = true;
    else if (seenShort) {
      throw invalidRequest(
        "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`.",
      );
    }
  }
  return found;
}

/** Hashes of the prefixes ending at the wanted block indexes, computed in one pass. */
function prefixKeys(
  scope: string,
  blocks: PromptBlock[],
  wanted: Set<number>,
  upTo: number,
): Map<number, string> {
  const keys = new Map<number, string>();
  const hash: Hash = createHash('sha256').update(scope);
  for (let i = 0; i <= upTo; i++) {
    hash.update(JSON.stringify(blocks[i]!.source)).update('\u0000');
    if (wanted.has(i)) keys.set(i, `${scope}\u0000${hash.copy().digest('base64')}`);
  }
  return keys;
}
