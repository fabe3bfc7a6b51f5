/**
 * The per-proxy snapshot: everything one proxy needs to route, produced by the
 * control plane's snapshot builder (or the static `--config` source) and
 * compiled by the proxy into lookup tables.
 *
 * It is plain data (JSON-serializable) so it can travel over the discovery
 * stream and be persisted as the proxy's last good configuration.
 *
 * @module
 */

import type { NormalizedResource } from "../config/mod.ts";

/** Who a proxy is: what the snapshot builder scopes by and what `sourceLabels` match. */
export interface ProxyIdentity {
  /** `sidecar` or `gateway`. */
  mode: "sidecar" | "gateway";
  /** Sidecar: the service name; gateway: the gateway's `--name`. */
  name: string;
  namespace: string;
  /** Always includes `app=<service>` (and `version=<v>` when given) for sidecars. */
  labels: Record<string, string>;
  /** `region/zone/subzone`, possibly with empty parts. */
  locality?: string;
  serviceAccount?: string;
  /** Unique per process, e.g. `reviews-v1-3f2a.default`. */
  id: string;
}

/**
 * One reachable instance of a service: a registered sidecar, a ServiceEntry
 * endpoint or a WorkloadEntry. The platform adapter's output (spec: "Service
 * model"), one shape whatever the source.
 */
export interface ServiceInstance {
  /** Fully qualified service host, e.g. `reviews.default.svc.cluster.local` or `api.example.com`. */
  host: string;
  /** Namespace the service is defined in. */
  namespace: string;
  /** IP or DNS name the endpoint is reached at. */
  address: string;
  /** The endpoint's port (a sidecar's inbound port). */
  port: number;
  /**
   * Service port (number as a decimal string, or name) → endpoint port, for
   * ServiceEntry/WorkloadEntry multi-port services.
   */
  ports?: Record<string, number>;
  labels: Record<string, string>;
  locality?: string;
  serviceAccount?: string;
  /** Relative load-balancing weight; default 1. */
  weight?: number;
  /** Where the instance came from: `registry`, `serviceentry`, `workloadentry`. */
  source: "registry" | "serviceentry" | "workloadentry";
}

/** A mesh-wide setting a snapshot carries. */
export interface MeshSettings {
  /** DNS domain for short names; default `cluster.local`. */
  domain: string;
  /** Mesh default outbound policy; a Sidecar resource may override it. */
  outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
}

/** Everything one proxy needs, with a content-derived version. */
export interface Snapshot {
  /** Content hash of the rest of the snapshot; equal content ⇒ equal version. */
  version: string;
  proxy: ProxyIdentity;
  mesh: MeshSettings;
  /** Normalized resources visible to this proxy (already scoped by exportTo / Sidecar / gateway selector). */
  resources: NormalizedResource[];
  /** Instances of the services visible to this proxy. */
  instances: ServiceInstance[];
}

/** The mesh defaults (SEMANTICS.md §0). */
export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  domain: "cluster.local",
  outboundTrafficPolicy: "ALLOW_ANY",
};
