/**
 * ROUND_ROBIN: plain rotation for equal weights, smooth weighted round robin otherwise
 * (weights 5,1,1 give a a b a c a a).
 *
 * @module
 */

import type { Endpoint } from "../endpoints.ts";
import { equalWeights, type LoadBalancer, pickAvoiding, type PickContext } from "./types.ts";

/** Largest hosts × Σweight for which a whole smooth-WRR cycle is precomputed. */
const SCHEDULE_BUDGET = 1 << 20;

/** Round robin over the given hosts, honouring endpoint weights smoothly. */
export class RoundRobinBalancer implements LoadBalancer {
  #hosts: readonly Endpoint[] | undefined;
  #equal = true;
  #next = 0;
  #current = new Float64Array(0);
  #total = 0;
  #schedule: Int32Array | undefined;
  readonly #choose: (hosts: readonly Endpoint[]) => number;

  /** Creates a balancer; `start` offsets the rotation (Envoy starts each worker at random). */
  constructor(start = 0) {
    this.#next = start;
    this.#choose = (hosts) => this.#equal ? this.#rotate(hosts.length) : this.#smooth(hosts);
  }

  /** Picks the next host in (weighted) rotation, skipping hosts in `context.avoid`. */
  pick(hosts: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
    if (hosts !== this.#hosts) this.#rebuild(hosts);
    return pickAvoiding(hosts, context?.avoid, this.#choose);
  }

  #rebuild(hosts: readonly Endpoint[]): void {
    this.#hosts = hosts;
    this.#equal = equalWeights(hosts);
    this.#current = new Float64Array(hosts.length);
    this.#total = 0;
    for (const h of hosts) this.#total += h.weight;
    this.#schedule = undefined;
    // Smooth WRR repeats itself every Σweight picks: precompute one cycle when that is cheap,
    // making a weighted pick O(1) instead of O(hosts).
    if (!this.#equal && hosts.length * this.#total <= SCHEDULE_BUDGET) {
      const schedule = new Int32Array(this.#total);
      for (let k = 0; k < schedule.length; k++) schedule[k] = this.#step(hosts);
      this.#schedule = schedule;
    }
  }

  #rotate(n: number): number {
    const index = this.#next % n;
    this.#next = index + 1;
    return index;
  }

  #smooth(hosts: readonly Endpoint[]): number {
    const schedule = this.#schedule;
    if (schedule === undefined) return this.#step(hosts);
    const index = schedule[this.#next % schedule.length];
    this.#next = (this.#next + 1) % schedule.length;
    return index;
  }

  #step(hosts: readonly Endpoint[]): number {
    const current = this.#current;
    let best = 0;
    for (let i = 0; i < hosts.length; i++) {
      current[i] += hosts[i].weight;
      if (current[i] > current[best]) best = i;
    }
    current[best] -= this.#total;
    return best;
  }
}
