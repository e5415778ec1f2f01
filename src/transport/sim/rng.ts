/**
 * Seeded randomness for the simulator. Everything random in a simulated run
 * flows from one number, so a benchmark or a failing test can be replayed
 * exactly.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export interface Rng {
  /** Uniform double in [0, 1). */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** An independent stream at this one's point: what it draws, this one will draw next. */
  clone(): Rng;
}

/** A mutable stream over xoroshiro128+ (pure-rand's recommended generator). */
export function createRng(seed: number): Rng {
  return over(xoroshiro128plus(seed | 0));
}

function over(gen: RandomGenerator): Rng {
  return {
    next: () => uniformFloat64(gen),
    uint32: () => gen.next() >>> 0,
    clone: () => over(gen.clone()),
  };
}

/**
 * FNV-1a over UTF-16 code units, finished with murmur3's avalanche so that
 * ids differing in one character still give unrelated seeds. Stable across
 * runs and platforms (never use it for security).
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * A child seed for one named stream (e.g. a session id). Streams derived this
 * way don't depend on the order in which they are created or used.
 */
export function deriveSeed(seed: number, label: string): number {
  return fmix32((seed | 0) ^ Math.imul(hashString(label), 0x9e3779b1));
}

function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
