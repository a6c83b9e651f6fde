/** The simulator's deterministic hash: every simulated value is drawn from it, so runs reproduce across platforms. */

/** 32-bit integer mix (a variant of the murmur3 finalizer). */
export function mix(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform number in [0, 1) from a hash. */
export function unit(...values: number[]): number {
  return mix(...values) / 2 ** 32;
}
