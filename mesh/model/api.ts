/**
 * Wire types of the control plane's registry and discovery APIs, shared by
 * the control plane, the proxies' discovery client and the tool commands
 * (`mesh/cli/control_client.ts` re-exports them).
 *
 * | method | path | body / answer |
 * | --- | --- | --- |
 * | POST | /v1/registry/register | {@link Registration} → {@link RegisterResponse} |
 * | POST | /v1/discovery | {@link DiscoveryRequest} → `text/event-stream`: {@link DiscoveryHello}, then {@link SnapshotFrame}s |
 * | POST | /v1/discovery/ack | {@link AckRequest} → {@link AckResponse} |
 * | GET | /v1/proxies | {@link ProxiesResponse} |
 * | GET | /v1/wait?revision=N&timeout=30s | {@link WaitResponse} |
 *
 * @module
 */

import type { ProxyIdentity, Snapshot } from "./snapshot.ts";

// ---------------------------------------------------------------- registry

/** What a proxy registers for itself. */
export interface Registration {
  service: string;
  /** Default `default`. */
  namespace?: string;
  /** `app=<service>` is added when missing. */
  labels?: Record<string, string>;
  /** An IP address. */
  address: string;
  /** The instance's inbound port. */
  port: number;
  /** `region/zone/subzone`. */
  locality?: string;
  serviceAccount?: string;
}

/** Where an instance came from. */
export type InstanceSource = "registration" | "ServiceEntry" | "WorkloadEntry";

/** One endpoint of a service, registered or derived from configuration. */
export interface Instance {
  /** Registrations: `namespace/service/address:port`; derived: from the resource. */
  id: string;
  source: InstanceSource;
  /** Service name (registrations) or ServiceEntry host. */
  service: string;
  namespace: string;
  /** Fully qualified host the instance serves. */
  hostname: string;
  address: string;
  /** The port traffic is sent to (a registration's inbound port). */
  port: number;
  /** ServiceEntry instances: service port number (decimal string) → endpoint port. */
  ports?: Record<string, number>;
  labels: Record<string, string>;
  locality?: string;
  serviceAccount?: string;
  network?: string;
  /** Relative load-balancing weight, when configured. */
  weight?: number;
  /** Registrations: expiry as wall-clock milliseconds since the epoch. */
  expiresAt?: number;
  /** Derived instances: the resource that defines it, e.g. `ServiceEntry default/ext`. */
  origin?: string;
}

/** Body of `POST /v1/registry/register` and `/heartbeat`. */
export interface RegisterResponse {
  instance: Instance;
  ttlMs: number;
  /** How often the caller should heartbeat (a third of the TTL). */
  heartbeatIntervalMs: number;
}

/** Body of `GET /v1/registry`. */
export interface RegistryResponse {
  revision: string;
  instances: Instance[];
}

// ---------------------------------------------------------------- discovery

/** Body of `POST /v1/discovery`: who connects, and what it serves already. */
export interface DiscoveryRequest {
  proxy: ProxyIdentity;
  /**
   * Version of the snapshot the proxy serves now (e.g. its persisted last
   * good one); when the control plane computes the same version it sends
   * nothing and counts the proxy as synced.
   */
  version?: string;
  /**
   * `gzip`: snapshot events carry `resources` and `instances` compressed
   * (see {@link SnapshotFrame}); about 25× smaller for typical configuration.
   */
  encoding?: "gzip";
}

/**
 * The JSON of an `event: snapshot` (`id:` is the version): a {@link Snapshot},
 * or with `encoding: "gzip"` its `resources` and `instances` as `content`,
 * the base64 of the gzip of `{"resources": [...], "instances": [...]}`.
 */
export type SnapshotFrame =
  | Snapshot & { encoding?: undefined }
  | Omit<Snapshot, "resources" | "instances"> & { encoding: "gzip"; content: string };

/** First event (`event: hello`) of a discovery stream. */
export interface DiscoveryHello {
  /** Names this stream in ACKs; a new one per connection. */
  connection: string;
  /** The server sends a comment at least this often; silence for 3× means the stream is dead. */
  keepaliveMs: number;
}

/** Body of `POST /v1/discovery/ack`: ACK (no `error`) or NACK of one snapshot version. */
export interface AckRequest {
  connection: string;
  version: string;
  /** Present for a NACK: why the proxy rejected the snapshot (it keeps serving the old one). */
  error?: string;
}

/** Answer of `POST /v1/discovery/ack`. */
export interface AckResponse {
  status: ProxySyncStatus;
}

/** SYNCED: serves the latest snapshot; STALE: a newer one was sent, not yet ACKed; NACKED: rejected. */
export type ProxySyncStatus = "SYNCED" | "STALE" | "NACKED";

/** One connected proxy as `GET /v1/proxies` reports it. */
export interface ProxyStatus {
  id: string;
  name: string;
  namespace: string;
  mode: "sidecar" | "gateway";
  labels: Record<string, string>;
  locality?: string;
  serviceAccount?: string;
  status: ProxySyncStatus;
  /** Version of the latest snapshot computed for the proxy. */
  version: string;
  /** Last version the proxy ACKed (or announced as served at connect). */
  ackedVersion?: string;
  /** The NACK's error text while `status` is NACKED. */
  error?: string;
  /** Config-store revision the proxy is known to serve (or later); -1 before its first ACK. */
  syncedRevision: number;
  /** RFC 3339. */
  connectedAt: string;
  /** RFC 3339; absent before the first ACK. */
  lastAckAt?: string;
}

/** Body of `GET /v1/proxies`. */
export interface ProxiesResponse {
  /** Current config-store revision. */
  revision: string;
  proxies: ProxyStatus[];
}

/** Body of `GET /v1/wait`. */
export interface WaitResponse {
  /** True when every connected proxy serves the revision (or a later one). */
  synced: boolean;
  /** The revision waited for. */
  revision: string;
  /** Connected proxies that do not serve it (empty when synced). */
  pending: ProxyStatus[];
  /** How many proxies were connected when the wait ended. */
  connected: number;
}
