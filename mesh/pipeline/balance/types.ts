/**
 * The contract every load balancer implements.
 *
 * @module
 */

import type { Endpoint } from "../endpoints.ts";

/** A source of uniform numbers in [0, 1), injectable for deterministic tests. */
export type RandomSource = () => number;

/**
 * Per-attempt input to a balancer. Callers may reuse one object per request (retries update
 * `avoid`), so a pick allocates nothing.
 */
export interface PickContext {
  /** Hash of the request's consistent-hash key (see `hash_key.ts`); undefined when it has none. */
  hash?: number;
  /**
   * Endpoints this request already tried. Non-hash balancers prefer others when any remain;
   * consistent-hash balancers ignore it (Istio forces `retryIgnorePreviousHosts` off there).
   */
  avoid?: { has(endpoint: Endpoint): boolean };
}

/**
 * Picks one endpoint among `hosts`. The chooser passes the same array until the endpoint set's
 * version changes, so balancers may cache tables keyed on the array's identity.
 */
export interface LoadBalancer {
  /** Chooses an endpoint, or undefined when `hosts` is empty. */
  pick(hosts: readonly Endpoint[], context?: PickContext): Endpoint | undefined;
}

/** Envoy's host-selection retry count: how many times a retry re-draws to dodge tried hosts. */
export const HOST_SELECTION_ATTEMPTS = 5;

/**
 * Runs `choose` up to {@linkcode HOST_SELECTION_ATTEMPTS} times until it lands on a host outside
 * `avoid`, then scans for any host outside it, and as a last resort returns the first draw. So a
 * retry always gets an untried host when one exists.
 */
export function pickAvoiding(
  hosts: readonly Endpoint[],
  avoid: { has(endpoint: Endpoint): boolean } | undefined,
  choose: (hosts: readonly Endpoint[]) => number,
): Endpoint | undefined {
  const n = hosts.length;
  if (n === 0) return undefined;
  const first = choose(hosts);
  if (avoid === undefined || !avoid.has(hosts[first])) return hosts[first];
  let index = first;
  for (let attempt = 1; attempt < HOST_SELECTION_ATTEMPTS; attempt++) {
    index = choose(hosts);
    if (!avoid.has(hosts[index])) return hosts[index];
  }
  for (let k = 1; k < n; k++) {
    const candidate = hosts[(index + k) % n];
    if (!avoid.has(candidate)) return candidate;
  }
  return hosts[first];
}

/** Whether every host has the same weight (cheap algorithms apply then). */
export function equalWeights(hosts: readonly Endpoint[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (hosts[i].weight !== hosts[0].weight) return false;
  return true;
}
