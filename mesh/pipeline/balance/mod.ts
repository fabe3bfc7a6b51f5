/**
 * Load balancers: one interface, `pick(hosts, context)`, over the algorithms Istio's
 * `DestinationRule.trafficPolicy.loadBalancer` names, plus consistent-hash key derivation.
 *
 * @module
 */

import { LeastRequestBalancer } from "./least_request.ts";
import { MaglevBalancer } from "./maglev.ts";
import { RandomBalancer } from "./random.ts";
import { RingHashBalancer } from "./ring_hash.ts";
import { RoundRobinBalancer } from "./round_robin.ts";
import type { HashKeySource } from "./hash_key.ts";
import type { LoadBalancer, RandomSource } from "./types.ts";

export type { LoadBalancer, PickContext, RandomSource } from "./types.ts";
export { HOST_SELECTION_ATTEMPTS, pickAvoiding } from "./types.ts";
export { RandomBalancer, seededRandom } from "./random.ts";
export { RoundRobinBalancer } from "./round_robin.ts";
export { LeastRequestBalancer } from "./least_request.ts";
export { RING_DEFAULTS, RingHashBalancer, type RingHashOptions } from "./ring_hash.ts";
export {
  isPrime,
  MAGLEV_DEFAULT_TABLE_SIZE,
  MAGLEV_MAX_TABLE_SIZE,
  MaglevBalancer,
  type MaglevOptions,
} from "./maglev.ts";
export { hashHex, hashString } from "./hash.ts";
export {
  type CookieToSet,
  formatSetCookie,
  type HashKey,
  hashKey,
  type HashKeySource,
  type HashRequestView,
  readCookie,
} from "./hash_key.ts";

/** Istio's `LoadBalancerSettings.SimpleLB` names. */
export type SimpleLb =
  | "UNSPECIFIED"
  | "ROUND_ROBIN"
  | "LEAST_REQUEST"
  | "LEAST_CONN"
  | "RANDOM"
  | "PASSTHROUGH";

/** Istio's `consistentHash` block (durations in ms). */
export interface ConsistentHashSettings extends HashKeySource {
  /** Ring hash (the default algorithm). */
  ringHash?: { minimumRingSize?: number };
  /** Maglev. */
  maglev?: { tableSize?: number };
  /** Deprecated top-level ring size (Istio still honours it when `ringHash` is absent). */
  minimumRingSize?: number;
}

/** Istio's `LoadBalancerSettings`, the part balancers need. */
export interface LoadBalancerSettings {
  /** Simple algorithm; UNSPECIFIED means ROUND_ROBIN in this project. */
  simple?: SimpleLb;
  /** Consistent hashing; exclusive with `simple`. */
  consistentHash?: ConsistentHashSettings;
}

/** The algorithm that actually runs. */
export type Algorithm =
  | "ROUND_ROBIN"
  | "LEAST_REQUEST"
  | "RANDOM"
  | "PASSTHROUGH"
  | "RING_HASH"
  | "MAGLEV";

/** Resolves settings to the algorithm that runs (aliases and the default applied). */
export function algorithmOf(settings: LoadBalancerSettings | undefined): Algorithm {
  const hash = settings?.consistentHash;
  if (hash !== undefined) return hash.maglev !== undefined ? "MAGLEV" : "RING_HASH";
  switch (settings?.simple) {
    case "LEAST_REQUEST":
    case "LEAST_CONN":
      return "LEAST_REQUEST";
    case "RANDOM":
      return "RANDOM";
    case "PASSTHROUGH":
      return "PASSTHROUGH";
    default:
      return "ROUND_ROBIN";
  }
}

/** Whether retries must keep previous hosts (Istio forces `retryIgnorePreviousHosts` off). */
export function isConsistentHash(settings: LoadBalancerSettings | undefined): boolean {
  return settings?.consistentHash !== undefined;
}

/** Options for {@linkcode balancerFactory}. */
export interface BalancerOptions {
  /** Random source for RANDOM, LEAST_REQUEST, RR start offsets and key-less hash requests. */
  random?: RandomSource;
}

/**
 * Validates `settings` once and returns a factory of fresh balancers (a locality-aware chooser
 * needs one per host group). Throws on an invalid Maglev table size, and for PASSTHROUGH, which
 * forwards to the original destination instead of balancing.
 */
export function balancerFactory(
  settings: LoadBalancerSettings | undefined,
  options: BalancerOptions = {},
): () => LoadBalancer {
  const random = options.random ?? Math.random;
  const algorithm = algorithmOf(settings);
  const hash = settings?.consistentHash;
  switch (algorithm) {
    case "ROUND_ROBIN":
      // Envoy starts each round robin at a random offset so proxies do not move in lockstep.
      return () => new RoundRobinBalancer(Math.floor(random() * 0x7fffffff));
    case "LEAST_REQUEST":
      return () => new LeastRequestBalancer(random);
    case "RANDOM":
      return () => new RandomBalancer(random);
    case "RING_HASH": {
      const minimumRingSize = hash?.ringHash?.minimumRingSize ?? hash?.minimumRingSize;
      return () => new RingHashBalancer({ minimumRingSize, random });
    }
    case "MAGLEV": {
      const tableSize = hash?.maglev?.tableSize;
      new MaglevBalancer({ tableSize }); // validates eagerly, at compile time
      return () => new MaglevBalancer({ tableSize, random });
    }
    case "PASSTHROUGH":
      throw new Error(
        "loadBalancer.simple: PASSTHROUGH has no balancer; forward to the original destination",
      );
  }
}
