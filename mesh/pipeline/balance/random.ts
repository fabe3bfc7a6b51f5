/**
 * Uniform random balancing, plus a seeded random source for deterministic callers and tests.
 *
 * @module
 */

import type { Endpoint } from "../endpoints.ts";
import { type LoadBalancer, pickAvoiding, type PickContext, type RandomSource } from "./types.ts";

/** A small, fast, seeded PRNG (mulberry32) returning numbers in [0, 1). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RANDOM: uniform over the given hosts (Envoy ignores weights here too). */
export class RandomBalancer implements LoadBalancer {
  readonly #choose: (hosts: readonly Endpoint[]) => number;

  /** Creates a balancer drawing from `random`. */
  constructor(random: RandomSource = Math.random) {
    this.#choose = (hosts) => Math.floor(random() * hosts.length);
  }

  /** Picks a uniformly random host, preferring hosts outside `context.avoid`. */
  pick(hosts: readonly Endpoint[], context?: PickContext): Endpoint | undefined {
    return pickAvoiding(hosts, context?.avoid, this.#choose);
  }
}
