/**
 * The runtime endpoint record shared by every pipeline stage, and the per-cluster endpoint set.
 *
 * An {@linkcode Endpoint} carries its static identity (address, labels, locality, weight) and the
 * mutable runtime state the balancers, the outlier detector and the health checker share. State
 * changes that affect eligibility go through the {@linkcode EndpointSet} so it can bump its
 * version; balancers recompute their tables only when the version moves, never per request.
 *
 * @module
 */

/** Envoy's locality triple; empty strings when unknown. */
export interface Locality {
  /** Region, e.g. `us-west`. */
  readonly region: string;
  /** Zone within the region. */
  readonly zone: string;
  /** Subzone within the zone. */
  readonly subzone: string;
}

/** Active-health state of an endpoint (SEMANTICS §8.1). */
export type HealthState = "healthy" | "unhealthy" | "degraded";

/** Passive (outlier detection) state; owned and mutated by the outlier detector. */
export interface OutlierState {
  /** Consecutive 5xx responses and (unless split) local-origin failures. */
  consecutive5xx: number;
  /** Consecutive 502/503/504 responses and (unless split) local-origin failures. */
  consecutiveGateway: number;
  /** Consecutive local-origin failures, counted only when split mode is on. */
  consecutiveLocalOrigin: number;
  /** Whether the endpoint is currently ejected. */
  ejected: boolean;
  /** Time (ms, detector clock) after which the next sweep returns the host. */
  ejectedUntil: number;
  /** Times ejected, decayed by one per healthy sweep; scales the ejection time. */
  multiplier: number;
}

/** What a snapshot says about an endpoint. */
export interface EndpointInit {
  /** IP address or host name the endpoint is reached at. */
  address: string;
  /** Port the endpoint is reached at. */
  port: number;
  /** Workload labels. */
  labels?: Readonly<Record<string, string>>;
  /** Locality; missing parts are empty strings. */
  locality?: Partial<Locality>;
  /** Load-balancing weight; values below 1 (or missing) become 1. */
  weight?: number;
  /** Service account (identity) of the workload. */
  serviceAccount?: string;
  /**
   * Where the snapshot's instance came from (`registry`, `serviceentry`, `workloadentry`); lets
   * the health checker probe only sidecars, which answer its probes.
   */
  source?: string;
}

/** One upstream endpoint with its runtime state. */
export class Endpoint {
  /** IP address or host name. */
  readonly address: string;
  /** Port. */
  readonly port: number;
  /** `address:port`, the stable identity used for hashing and logs. */
  readonly key: string;
  /** Workload labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Locality (empty strings when unknown). */
  readonly locality: Locality;
  /** `region/zone/subzone`. */
  readonly localityKey: string;
  /** Load-balancing weight, an integer ≥ 1. */
  readonly weight: number;
  /** Service account, empty when unknown. */
  readonly serviceAccount: string;
  /** Instance source from the snapshot (`registry` for a sidecar), empty when unknown. */
  readonly source: string;
  /** Requests in flight to this endpoint (LEAST_REQUEST reads it; the forwarder maintains it). */
  active = 0;
  /** Active health-check state. */
  health: HealthState = "healthy";
  /** Outlier detection state. */
  readonly outlier: OutlierState = {
    consecutive5xx: 0,
    consecutiveGateway: 0,
    consecutiveLocalOrigin: 0,
    ejected: false,
    ejectedUntil: 0,
    multiplier: 0,
  };

  /** Builds an endpoint from its snapshot description. */
  constructor(init: EndpointInit) {
    this.address = init.address;
    this.port = init.port;
    this.key = `${init.address}:${init.port}`;
    this.labels = init.labels ?? {};
    this.locality = {
      region: init.locality?.region ?? "",
      zone: init.locality?.zone ?? "",
      subzone: init.locality?.subzone ?? "",
    };
    this.localityKey = `${this.locality.region}/${this.locality.zone}/${this.locality.subzone}`;
    const w = Math.floor(init.weight ?? 1);
    this.weight = Number.isFinite(w) && w >= 1 ? w : 1;
    this.serviceAccount = init.serviceAccount ?? "";
    this.source = init.source ?? "";
  }

  /** Healthy (active checks) and not ejected (outlier detection). */
  get available(): boolean {
    return this.health === "healthy" && !this.outlier.ejected;
  }

  /** Degraded by an active check and not ejected: used only when healthy capacity is short. */
  get degraded(): boolean {
    return this.health === "degraded" && !this.outlier.ejected;
  }
}

/** Parses `region/zone/subzone` (any suffix may be missing) into a {@linkcode Locality}. */
export function parseLocality(text: string): Locality {
  const [region = "", zone = "", subzone = ""] = text.split("/");
  return { region, zone, subzone };
}

const EMPTY: readonly Endpoint[] = Object.freeze([]);

/**
 * All endpoints of one cluster (per client proxy, per subset: SEMANTICS trap 9) and a cached view
 * of the available ones. Every eligibility change bumps {@linkcode EndpointSet.version}.
 */
export class EndpointSet {
  /** Every endpoint, in snapshot order. */
  readonly endpoints: readonly Endpoint[];
  /** Incremented whenever an endpoint's eligibility may have changed. */
  version = 0;
  #cachedVersion = -1;
  #available: readonly Endpoint[] = EMPTY;

  /** Builds a set over endpoints (records or their snapshot descriptions). */
  constructor(endpoints: readonly (Endpoint | EndpointInit)[]) {
    this.endpoints = endpoints.map((e) => e instanceof Endpoint ? e : new Endpoint(e));
  }

  /** Number of endpoints. */
  get size(): number {
    return this.endpoints.length;
  }

  /** Healthy, non-ejected endpoints; the same array until the version changes. */
  available(): readonly Endpoint[] {
    if (this.#cachedVersion !== this.version) {
      this.#available = this.endpoints.filter((e) => e.available);
      this.#cachedVersion = this.version;
    }
    return this.#available;
  }

  /** Number of ejected endpoints (used by the max-ejection rule). */
  ejectedCount(): number {
    let n = 0;
    for (const e of this.endpoints) if (e.outlier.ejected) n++;
    return n;
  }

  /** Sets an endpoint's active-health state; bumps the version when it changes. */
  setHealth(endpoint: Endpoint, state: HealthState): void {
    if (endpoint.health === state) return;
    endpoint.health = state;
    this.version++;
  }

  /** Marks an endpoint ejected or returned; bumps the version when it changes. */
  setEjected(endpoint: Endpoint, ejected: boolean, until = 0): void {
    endpoint.outlier.ejectedUntil = ejected ? until : 0;
    if (endpoint.outlier.ejected === ejected) return;
    endpoint.outlier.ejected = ejected;
    this.version++;
  }

  /** Finds an endpoint by `address:port`. */
  get(key: string): Endpoint | undefined {
    return this.endpoints.find((e) => e.key === key);
  }
}
