/**
 * Retry backoff: Envoy's full-jitter exponential strategy. Retry N waits a uniform whole number
 * of ms in [0, (2^N − 1)·base), never more than max (10 × base by default): with the 25 ms
 * default, 0–24, 0–74, 0–174 ms, …, at most 250 ms.
 *
 * @module
 */

/** Envoy's default base interval in ms. */
export const DEFAULT_BACKOFF_BASE = 25;

/** Backoff tuning. */
export interface BackoffOptions {
  /** Base interval in ms; default 25. */
  base?: number;
  /** Maximum delay in ms; default 10 × base. */
  max?: number;
  /** Uniform source in [0, 1); default Math.random. */
  random?: () => number;
}

/** Delay in ms before retry number `retry` (1 = the first retry). */
export function backoffDelay(retry: number, options: BackoffOptions = {}): number {
  const base = options.base && options.base > 0 ? options.base : DEFAULT_BACKOFF_BASE;
  const max = options.max && options.max > 0 ? options.max : 10 * base;
  const random = options.random ?? Math.random;
  const n = Math.min(Math.max(1, Math.floor(retry)), 32);
  const ceiling = (2 ** n - 1) * base;
  return Math.min(Math.floor(random() * ceiling), max);
}
