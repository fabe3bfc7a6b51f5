/**
 * A 53-bit string hash for consistent hashing (two murmur3-style 32-bit lanes), computed over
 * UTF-16 code units so hashing allocates nothing. Stable across processes and versions: ring and
 * Maglev placement, and therefore session affinity, depend on it.
 *
 * @module
 */

function murmur32(text: string, seed: number): number {
  let h = seed | 0;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 2^32, to assemble the two lanes. */
const LANE = 4294967296;

/**
 * Hashes `text` to an integer in [0, 2^53). Different seeds give independent hashes (Maglev
 * needs two per host).
 */
export function hashString(text: string, seed = 0): number {
  const lo = murmur32(text, 0x9747b28c ^ Math.imul(seed, 0x27d4eb2f));
  const hi = murmur32(text, 0x5bd1e995 ^ Math.imul(seed + 1, 0x165667b1)) & 0x1fffff;
  return hi * LANE + lo;
}

/** Formats a hash as 14 lowercase hex digits (for generated affinity cookies). */
export function hashHex(hash: number): string {
  return hash.toString(16).padStart(14, "0");
}
