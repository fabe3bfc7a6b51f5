/**
 * Mirroring (SEMANTICS §2.9): which mirror targets fire for a request. Each target has its own
 * percentage (100 when unset, 0 = never), drawn independently. Mirrors are fire-and-forget and
 * keep the request's Host unchanged (current Istio).
 *
 * @module
 */

/** Something that resolves to a cluster for a destination port (a compiled route destination). */
export interface ClusterSource<C> {
  /** The cluster serving `port` (the request's destination port when the target names none). */
  clusterFor(port: number): C;
}

/** A compiled mirror target. */
export interface CompiledMirror<C> {
  /** Where copies go. */
  readonly destination: ClusterSource<C>;
  /** Percentage of requests mirrored, 0–100. */
  readonly percentage: number;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * The clusters a request is mirrored to. Returns a shared empty array when none fire; pass
 * `out` to reuse an array across requests.
 */
export function selectMirrors<C>(
  mirrors: readonly CompiledMirror<C>[],
  port: number,
  options: { random?: () => number; out?: C[] } = {},
): readonly C[] {
  if (mirrors.length === 0) return EMPTY;
  const random = options.random ?? Math.random;
  let out: C[] | undefined;
  for (const m of mirrors) {
    const fire = m.percentage >= 100
      ? true
      : m.percentage <= 0
      ? false
      : random() * 100 < m.percentage;
    if (!fire) continue;
    if (out === undefined) {
      out = options.out ?? [];
      out.length = 0;
    }
    out.push(m.destination.clusterFor(port));
  }
  return out ?? EMPTY;
}
