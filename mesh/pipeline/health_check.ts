/**
 * Active health checking (SEMANTICS §8.2; spec "Discovery and load balancing"): every endpoint
 * of every cluster the proxy uses gets a periodic `GET <path>` on its own connection (never
 * queued behind traffic or circuit breakers).
 *
 * - `200` is a success; `healthyThreshold` consecutive successes bring an unhealthy host back,
 *   and any success un-ejects a host outlier detection ejected (§3.6 step 4);
 * - any other status marks the host unhealthy **at once** (a service sheds load by answering
 *   503), as does an `x-envoy-immediate-health-check-fail` header;
 * - a timeout or connection failure counts toward `unhealthyThreshold`.
 *
 * Off unless configured. Hosts start healthy (they are registered by a heartbeat that already
 * proves them alive), unlike Envoy which waits for a first check. Endpoints are checked once per
 * address whatever the number of clusters (subsets) they belong to; the result applies to all.
 * The default path is `/healthz/ready`, the readiness path an Istio sidecar serves; since an
 * endpoint is the peer's inbound listener, the peer proxy answers. Probes carry
 * `user-agent: mesh-health-check/1` and `x-mesh-health-check: 1` ({@linkcode HEALTH_CHECK_HEADER})
 * so the peer sidecar tells them from app traffic and answers them itself. {@linkcode HealthCheckOptions.only}
 * restricts the checks to some endpoints (proxies probe only sidecars: an external server behind
 * a ServiceEntry would answer 404 and be marked unhealthy).
 *
 * @module
 */

import {
  type ByteConn,
  ConnectionPool,
  type ConnectOptions,
  EMPTY_BODY,
  exchange,
  Framing,
  serializeRequestHead,
} from "../http/mod.ts";
import type { Cluster, CompiledConfig } from "./compile.ts";
import type { Endpoint, EndpointSet } from "./endpoints.ts";
import type { OutlierDetector } from "./outlier.ts";

/** Active health-check settings. */
export interface HealthCheckOptions {
  /** Path requested; default `/healthz/ready`. */
  path?: string;
  /** Milliseconds between checks of one endpoint; default 5 000. */
  intervalMs?: number;
  /** Milliseconds a check may take (a timeout is a failure); default 1 000. */
  timeoutMs?: number;
  /** Consecutive failed checks (timeouts, connection failures) that mark a host unhealthy; default 2. */
  unhealthyThreshold?: number;
  /** Consecutive successes that bring an unhealthy host back; default 2. */
  healthyThreshold?: number;
  /** Opens connections (mTLS adapters, tests); default plain TCP. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
  /** Checks only the endpoints this accepts (e.g. sidecars: `source === "registry"`); default all. */
  only?: (endpoint: Endpoint) => boolean;
}

/** The request header marking a health-check probe (value `1`); sidecars answer it themselves. */
export const HEALTH_CHECK_HEADER = "x-mesh-health-check";

/** Defaults of {@linkcode HealthCheckOptions}. */
export const HEALTH_CHECK_DEFAULTS = Object.freeze({
  path: "/healthz/ready",
  intervalMs: 5000,
  timeoutMs: 1000,
  unhealthyThreshold: 2,
  healthyThreshold: 2,
});

type Settings =
  & Required<Omit<HealthCheckOptions, "connect" | "only">>
  & Pick<HealthCheckOptions, "connect" | "only">;

interface Member {
  set: EndpointSet;
  endpoint: Endpoint;
  outlier: OutlierDetector | undefined;
}

class Target {
  readonly pool: ConnectionPool;
  readonly head: Uint8Array;
  members: Member[] = [];
  successes = 0;
  failures = 0;
  unhealthy = false;
  inFlight = false;
  /** Checks done (for tests and stats). */
  checks = 0;

  constructor(endpoint: Endpoint, host: string, options: Settings) {
    this.pool = new ConnectionPool(endpoint.address, endpoint.port, {
      maxConnections: 1,
      connectTimeoutMs: options.timeoutMs,
      connect: options.connect,
    });
    this.head = serializeRequestHead("GET", options.path, {
      headers: ["host", host, "user-agent", "mesh-health-check/1", HEALTH_CHECK_HEADER, "1"],
    });
  }
}

/** The per-endpoint result of the latest checks, for `/clusters` and tests. */
export interface HealthStatus {
  /** `address:port`. */
  readonly address: string;
  /** Whether the checker considers the host healthy. */
  readonly healthy: boolean;
  /** Checks completed. */
  readonly checks: number;
}

/** Periodic active health checks over the clusters of the current configuration. */
export class HealthChecker {
  /** Effective settings. */
  readonly options: Settings;
  readonly #targets = new Map<string, Target>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Creates a checker; nothing runs until {@linkcode start} or {@linkcode runOnce}. */
  constructor(options: HealthCheckOptions = {}) {
    this.options = {
      path: options.path ?? HEALTH_CHECK_DEFAULTS.path,
      intervalMs: options.intervalMs ?? HEALTH_CHECK_DEFAULTS.intervalMs,
      timeoutMs: options.timeoutMs ?? HEALTH_CHECK_DEFAULTS.timeoutMs,
      unhealthyThreshold: Math.max(
        1,
        options.unhealthyThreshold ?? HEALTH_CHECK_DEFAULTS.unhealthyThreshold,
      ),
      healthyThreshold: Math.max(
        1,
        options.healthyThreshold ?? HEALTH_CHECK_DEFAULTS.healthyThreshold,
      ),
      connect: options.connect,
      only: options.only,
    };
  }

  /** Checks every endpoint of `config()`'s clusters every `intervalMs`. */
  start(config: () => CompiledConfig): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      this.runOnce(config()).catch(() => {});
    }, this.options.intervalMs);
    Deno.unrefTimer(this.#timer);
    this.runOnce(config()).catch(() => {});
  }

  /** One round: syncs the endpoint list with `config` and checks every endpoint not in flight. */
  async runOnce(config: CompiledConfig): Promise<void> {
    if (this.#closed) return;
    this.#sync(config.clusters());
    const running: Promise<void>[] = [];
    for (const target of this.#targets.values()) {
      if (!target.inFlight) running.push(this.#check(target));
    }
    await Promise.all(running);
  }

  /** Latest state per endpoint address. */
  status(): HealthStatus[] {
    return [...this.#targets].map(([address, t]) => ({
      address,
      healthy: !t.unhealthy,
      checks: t.checks,
    }));
  }

  /** Stops checking and closes the checkers' connections. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const t of this.#targets.values()) t.pool.close();
    this.#targets.clear();
  }

  #sync(clusters: readonly Cluster[]): void {
    const seen = new Set<string>();
    const only = this.options.only;
    for (const t of this.#targets.values()) t.members = [];
    for (const cluster of clusters) {
      if (cluster.notFound || cluster.passthrough) continue;
      for (const endpoint of cluster.endpoints.endpoints) {
        if (only !== undefined && !only(endpoint)) continue;
        let target = this.#targets.get(endpoint.key);
        if (target === undefined) {
          target = new Target(endpoint, cluster.host, this.options);
          this.#targets.set(endpoint.key, target);
        }
        seen.add(endpoint.key);
        target.members.push({ set: cluster.endpoints, endpoint, outlier: cluster.outlier });
      }
    }
    for (const [key, target] of this.#targets) {
      if (seen.has(key)) {
        // New endpoint records (a rebuilt cluster) take the checker's view at once.
        if (target.unhealthy) apply(target);
        continue;
      }
      target.pool.close();
      this.#targets.delete(key);
    }
  }

  async #check(target: Target): Promise<void> {
    target.inFlight = true;
    let status = 0;
    let immediateFail = false;
    try {
      const up = await exchange(target.pool, target.head, {
        body: EMPTY_BODY,
        method: "GET",
        framing: Framing.NONE,
        timeoutMs: this.options.timeoutMs,
      });
      status = up.head.status;
      immediateFail = up.head.has("x-envoy-immediate-health-check-fail");
      try {
        if (!up.body.done && !(await up.body.discard(64 * 1024))) up.abort();
        else up.release();
      } catch {
        up.abort();
      }
    } catch {
      status = 0;
    } finally {
      target.inFlight = false;
    }
    if (this.#closed) return;
    target.checks++;
    const o = this.options;
    if (status === 200 && !immediateFail) {
      target.failures = 0;
      target.successes++;
      if (target.unhealthy && target.successes >= o.healthyThreshold) target.unhealthy = false;
      for (const m of target.members) m.outlier?.uneject(m.endpoint);
    } else if (status !== 0) {
      target.successes = 0;
      target.unhealthy = true;
    } else {
      target.successes = 0;
      target.failures++;
      if (target.failures >= o.unhealthyThreshold) target.unhealthy = true;
    }
    apply(target);
  }
}

function apply(target: Target): void {
  const state = target.unhealthy ? "unhealthy" : "healthy";
  for (const m of target.members) m.set.setHealth(m.endpoint, state);
}
