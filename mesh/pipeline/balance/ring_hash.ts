/**
 * Ring hash (Ketama-style): each host owns points on a 53-bit ring in proportion to its weight;
 * a request goes to the first point clockwise from its hash. Adding or removing one of N hosts
 * remaps about 1/N of the keys.
 *
 * @module
 */

import type { Endpoint } from "../endpoints.ts";
import { hashString } from "./hash.ts";
import type { LoadBalancer, PickContext, RandomSource } from "./types.ts";

/** Envoy's defaults and bounds for the ring size. */
export const RING_DEFAULTS = { minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 } as const;

/** Ring-hash tuning (Istio `consistentHash.ringHash`). */
export interface RingHashOptions {
  /** Minimum number of ring points; default 1024. */
  minimumRingSize?: number;
  /** Upper bound on ring points; default 8 M. */
  maximumRingSize?: number;
  /** Used when the request has no hash key: such requests go to a random host. */
  random?: RandomSource;
}

/** Consistent hashing over a ring. */
export class RingHashBalancer implements LoadBalancer {
  readonly #min: number;
  readonly #max: number;
  readonly #random: RandomSource;
  #hosts: readonly Endpoint[] | undefined;
  #points = new Float64Array(0);
  #owners = new Int32Array(0);

  /** Creates a balancer; the ring is built lazily for each new host list. */
  constructor(options: RingHashOptions = {}) {
    this.#min = Math.max(1, options.minimumRingSize || RING_DEFAULTS.minimumRingSize);
    this.#max = Math.max(this.#min, options.maximumRingSize || RING_DEFAULTS.maximumRingSize);
    this.#random = options.random ?? Math.random;
  }

  /** Number of points on the current ring (for tests and `/clusters`). */
  get ringSize(): number {
    return this.#points.length;
  }

  /** Picks the host owning `context.hash`; a random host when there is no hash. */
  pick(hosts: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    const hash = context?.hash;
    if (hash === undefined) return hosts[Math.floor(this.#random() * n)];
    if (hosts !== this.#hosts) this.#build(hosts);
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return hosts[this.#owners[lo === points.length ? 0 : lo]];
  }

  #build(hosts: readonly Endpoint[]): void {
    this.#hosts = hosts;
    let total = 0;
    let minWeight = Infinity;
    for (const h of hosts) {
      total += h.weight;
      if (h.weight < minWeight) minWeight = h.weight;
    }
    // Points per unit of the lightest weight, so the ring reaches the minimum size. Rounding up
    // to a power of two keeps each host's points unchanged when a host joins or leaves (unless
    // a power of two is crossed), so only ~1/N of the keys move; the ring stays below twice the
    // minimum size, and never above the maximum.
    let perUnit = 2 ** Math.ceil(Math.log2(Math.ceil((this.#min * minWeight) / total)));
    if ((perUnit * total) / minWeight > this.#max) perUnit = (this.#max * minWeight) / total;
    let size = 0;
    for (const h of hosts) size += Math.max(1, Math.floor((h.weight / minWeight) * perUnit));
    const hashes = new Float64Array(size);
    const owners = new Int32Array(size);
    let count = 0;
    for (let i = 0; i < hosts.length; i++) {
      const points = Math.max(1, Math.floor((hosts[i].weight / minWeight) * perUnit));
      for (let k = 0; k < points; k++) {
        hashes[count] = hashString(`${hosts[i].key}_${k}`);
        owners[count] = i;
        count++;
      }
    }
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => hashes[a] - hashes[b] || owners[a] - owners[b]);
    this.#points = new Float64Array(count);
    this.#owners = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.#points[i] = hashes[order[i]];
      this.#owners[i] = owners[order[i]];
    }
  }
}
