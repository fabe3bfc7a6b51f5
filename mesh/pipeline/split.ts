/**
 * Weighted destination choice (SEMANTICS §2.4): weights are relative; each request draws one
 * random number against the cumulative weights precomputed at compile time (probabilistic, as
 * Envoy, not a rotation).
 *
 * @module
 */

/** Destinations with their precomputed cumulative weights. */
export interface WeightedChoice<T> {
  /** The candidates, in configuration order. */
  readonly destinations: readonly T[];
  /** `cumulative[i]` = sum of weights 0..i. */
  readonly cumulative: Float64Array;
}

/** Builds the cumulative table for `weights` (all ≥ 0, not all 0; a lone entry always wins). */
export function cumulativeWeights(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    sum += weights.length === 1 ? 1 : Math.max(0, weights[i]);
    out[i] = sum;
  }
  return out;
}

/** Picks one destination with `random()` in [0, 1); binary search over the cumulative weights. */
export function pickWeighted<T>(
  choice: WeightedChoice<T>,
  options: { random?: () => number } = {},
): T {
  const list = choice.destinations;
  if (list.length === 1) return list[0];
  const cumulative = choice.cumulative;
  const total = cumulative[cumulative.length - 1];
  const r = (options.random ?? Math.random)() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r < cumulative[mid]) hi = mid;
    else lo = mid + 1;
  }
  return list[lo];
}
