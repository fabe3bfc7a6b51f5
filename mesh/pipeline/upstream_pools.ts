/**
 * Upstream connection pools, one per (cluster, endpoint), built with the cluster's
 * connection-pool settings (`tcp.maxConnections`, `tcp.connectTimeout`,
 * `http.maxRequestsPerConnection`, `http.idleTimeout`). A pool survives a snapshot update while
 * its cluster still has the endpoint with the same settings, and is closed when either goes.
 * Pass-through traffic (ALLOW_ANY, `PASSTHROUGH` clusters) gets pools keyed by `host:port`.
 *
 * The request path finds a pool through a `WeakMap` keyed by the endpoint record (no string
 * building per request); the name-keyed map is only touched when an endpoint record is new.
 *
 * @module
 */

import {
  type ByteConn,
  ConnectionPool,
  type ConnectOptions,
  type PoolOptions,
} from "../http/mod.ts";
import type { Cluster, CompiledConfig } from "./compile.ts";
import type { Endpoint } from "./endpoints.ts";

/** Options of {@linkcode UpstreamPools}. */
export interface UpstreamPoolsOptions {
  /** Opens upstream connections (mTLS adapters, tests); default plain TCP. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
  /** Most pass-through pools kept (oldest closed beyond); default 256. */
  maxPassthroughPools?: number;
}

interface Entry {
  pool: ConnectionPool;
  signature: string;
}

/** Pool settings of a cluster, with a signature to compare them across snapshots. */
function settingsOf(cluster: Cluster): { options: PoolOptions; signature: string } {
  const cp = cluster.policy.connectionPool;
  const options: PoolOptions = {
    maxConnections: cp.tcp.maxConnections,
    // Pending requests are queued cluster-wide by the pipeline's admission (SEMANTICS §3.5).
    connectTimeoutMs: cp.tcp.connectTimeout,
    maxRequestsPerConnection: cp.http.maxRequestsPerConnection,
    idleTimeoutMs: cp.http.idleTimeout,
  };
  return {
    options,
    signature: `${options.maxConnections}|${options.connectTimeoutMs}|` +
      `${options.maxRequestsPerConnection}|${options.idleTimeoutMs}`,
  };
}

/** All upstream pools of one pipeline. */
export class UpstreamPools {
  readonly #byEndpoint = new WeakMap<Endpoint, ConnectionPool>();
  readonly #byName = new Map<string, Entry>();
  readonly #settings = new WeakMap<Cluster, { options: PoolOptions; signature: string }>();
  readonly #passthrough = new Map<string, ConnectionPool>();
  readonly #connect: UpstreamPoolsOptions["connect"];
  readonly #maxPassthrough: number;
  #closed = false;

  /** Creates an empty set of pools. */
  constructor(options: UpstreamPoolsOptions = {}) {
    this.#connect = options.connect;
    this.#maxPassthrough = options.maxPassthroughPools ?? 256;
  }

  /** The pool for `endpoint` of `cluster`, created on first use. */
  forEndpoint(cluster: Cluster, endpoint: Endpoint): ConnectionPool {
    const pool = this.#byEndpoint.get(endpoint);
    if (pool !== undefined) return pool;
    return this.#create(cluster, endpoint);
  }

  #create(cluster: Cluster, endpoint: Endpoint): ConnectionPool {
    let settings = this.#settings.get(cluster);
    if (settings === undefined) {
      settings = settingsOf(cluster);
      this.#settings.set(cluster, settings);
    }
    const key = `${cluster.name}|${endpoint.key}`;
    let entry = this.#byName.get(key);
    if (entry !== undefined && entry.signature !== settings.signature) {
      entry.pool.close();
      entry = undefined;
    }
    if (entry === undefined) {
      entry = {
        pool: new ConnectionPool(endpoint.address, endpoint.port, {
          ...settings.options,
          connect: this.#connect,
        }),
        signature: settings.signature,
      };
      if (this.#closed) entry.pool.close();
      this.#byName.set(key, entry);
    }
    this.#byEndpoint.set(endpoint, entry.pool);
    return entry.pool;
  }

  /** A pool for pass-through traffic to `host:port` (original destination). */
  forAddress(host: string, port: number): ConnectionPool {
    const key = `${host}:${port}`;
    let pool = this.#passthrough.get(key);
    if (pool === undefined) {
      if (this.#passthrough.size >= this.#maxPassthrough) {
        const [oldest, old] = this.#passthrough.entries().next().value!;
        old.close();
        this.#passthrough.delete(oldest);
      }
      pool = new ConnectionPool(host, port, { connect: this.#connect });
      if (this.#closed) pool.close();
      this.#passthrough.set(key, pool);
    }
    return pool;
  }

  /**
   * Closes the pools whose cluster or endpoint is gone from `config`, or whose settings changed
   * (busy connections finish their exchange first).
   */
  reconcile(config: CompiledConfig): void {
    for (const [key, entry] of this.#byName) {
      const bar = key.lastIndexOf("|");
      const cluster = config.cluster(key.slice(0, bar));
      const keep = cluster !== undefined && !cluster.notFound &&
        cluster.endpoints.get(key.slice(bar + 1)) !== undefined &&
        settingsOf(cluster).signature === entry.signature;
      if (!keep) {
        entry.pool.close();
        this.#byName.delete(key);
      }
    }
  }

  /** Open pools (for tests and `/clusters`). */
  get size(): number {
    return this.#byName.size + this.#passthrough.size;
  }

  /** Closes every pool; later pools are created closed. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#byName.values()) entry.pool.close();
    for (const pool of this.#passthrough.values()) pool.close();
    this.#byName.clear();
    this.#passthrough.clear();
  }
}
