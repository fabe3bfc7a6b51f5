/**
 * LEAST_REQUEST (alias LEAST_CONN): power of two random choices by active requests when weights
 * are equal; smooth weighted round robin over weight / (active + 1) otherwise (Envoy, bias 1.0).
 *
 * @module
 */

import type { Endpoint } from "../endpoints.ts";
import {
  equalWeights,
  type LoadBalancer,
  pickAvoiding,
  type PickContext,
  type RandomSource,
} from "./types.ts";

/** Least-request balancing over the given hosts. */
export class LeastRequestBalancer implements LoadBalancer {
  #hosts: readonly Endpoint[] | undefined;
  #equal = true;
  #current = new Float64Array(0);
  readonly #choose: (hosts: readonly Endpoint[]) => number;

  /** Creates a balancer drawing from `random`. */
  constructor(random: RandomSource = Math.random) {
    this.#choose = (hosts) => {
      if (!this.#equal) return this.#weighted(hosts);
      const n = hosts.length;
      const a = Math.floor(random() * n);
      const b = Math.floor(random() * n);
      return hosts[b].active < hosts[a].active ? b : a;
    };
  }

  /** Picks the less loaded of two random hosts (or weighted), preferring untried hosts. */
  pick(hosts: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
    if (hosts !== this.#hosts) {
      this.#hosts = hosts;
      this.#equal = equalWeights(hosts);
      this.#current = new Float64Array(hosts.length);
    }
    return pickAvoiding(hosts, context?.avoid, this.#choose);
  }

  #weighted(hosts: readonly Endpoint[]): number {
    const current = this.#current;
    let best = 0;
    let total = 0;
    for (let i = 0; i < hosts.length; i++) {
      const effective = hosts[i].weight / (hosts[i].active + 1);
      total += effective;
      current[i] += effective;
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    return best;
  }
}
