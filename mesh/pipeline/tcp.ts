/**
 * L4 routing (SEMANTICS §2.14): the VirtualService `tcp` rule that applies to one listener,
 * compiled once per snapshot into weighted destinations whose clusters come from the compiled
 * configuration (so TCP and HTTP traffic to one cluster share endpoints, outlier state and
 * circuit breakers). A destination is picked per connection.
 *
 * Rule selection: VirtualServices in namespace/name order; the first `tcp` rule with a match
 * block that applies wins (an empty `match` applies to every connection). A block applies when
 * its `port` is absent or equals the listener port, its `gateways` (when set) name the
 * listener's gateway, and — on sidecars only — its `sourceLabels`/`sourceNamespace` select the
 * proxy. `destinationSubnets` cannot be evaluated without original-destination capture, so a
 * block that sets them never applies (with a warning).
 *
 * @module
 */

import type { NormalizedOf, NormalizedResource } from "../config/mod.ts";
import { type ByteConn, type ConnectOptions, connectTcp } from "../http/mod.ts";
import { SlotWaiter } from "./admission.ts";
import type { Cluster, CompiledConfig } from "./compile.ts";
import type { Endpoint } from "./endpoints.ts";
import { cumulativeWeights, pickWeighted } from "./split.ts";

/** One weighted L4 destination. */
export interface TcpDestination {
  /** Destination host. */
  readonly host: string;
  /** Subset, `""` for none. */
  readonly subset: string;
  /** Destination (service) port. */
  readonly port: number;
  /** Relative weight. */
  readonly weight: number;
  /** The cluster connections are balanced over. */
  readonly cluster: Cluster;
}

/** The compiled `tcp` rule of one listener. */
export interface TcpRoute {
  /** `ns/name tcp[i]`, for logs. */
  readonly name: string;
  /** Weighted destinations (weight-0 ones removed when several). */
  readonly destinations: readonly TcpDestination[];
  /** Cumulative weights for `split.ts`. */
  readonly cumulative: Float64Array;
}

/** Options of {@linkcode compileTcpRoute}. */
export interface TcpRouteOptions {
  /** Gateway `ns/name` the listener serves; absent (or `mesh`) for a sidecar. */
  gateway?: string;
  /** The listener (server) port. */
  port: number;
  /**
   * Whether a VirtualService host declared in `namespace` is admitted by the listener (a
   * Gateway server's `hosts`); default: every host.
   */
  admits?: (namespace: string, host: string) => boolean;
  /** Receives non-fatal problems. */
  warn?: (message: string) => void;
}

type VS = NormalizedOf<"VirtualService">;
type SE = NormalizedOf<"ServiceEntry">;

function byName(a: VS, b: VS): number {
  const x = `${a.metadata.namespace}/${a.metadata.name}`;
  const y = `${b.metadata.namespace}/${b.metadata.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The `tcp` rule for a listener, or undefined when no VirtualService has one that applies (the
 * caller closes such connections: flag NR).
 */
export function compileTcpRoute(
  resources: readonly NormalizedResource[],
  config: CompiledConfig,
  options: TcpRouteOptions,
): TcpRoute | undefined {
  const context = options.gateway ?? "mesh";
  const proxy = config.proxy;
  const servicePorts = new Map<string, number[]>();
  const list: VS[] = [];
  for (const r of resources) {
    if (r.kind === "VirtualService") list.push(r);
    else if (r.kind === "ServiceEntry") {
      for (const host of (r as SE).spec.hosts) {
        servicePorts.set(host.toLowerCase(), (r as SE).spec.ports.map((p) => p.number));
      }
    }
  }
  list.sort(byName);
  for (const vs of list) {
    if (vs.spec.tcp.length === 0 || !vs.spec.gateways.includes(context)) continue;
    const ns = vs.metadata.namespace;
    if (options.admits && !vs.spec.hosts.some((h) => options.admits!(ns, h))) continue;
    for (let i = 0; i < vs.spec.tcp.length; i++) {
      const rule = vs.spec.tcp[i];
      const where = `VirtualService ${ns}/${vs.metadata.name}: spec.tcp[${i}]`;
      const applies = rule.match.length === 0 || rule.match.some((m) => {
        if (m.port !== undefined && m.port !== options.port) return false;
        if (m.gateways?.length) {
          if (!m.gateways.includes(context)) return false;
        } else if (context === "mesh") {
          for (const [k, v] of Object.entries(m.sourceLabels ?? {})) {
            if (proxy.labels[k] !== v) return false;
          }
          if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
        }
        if (m.destinationSubnets?.length) {
          options.warn?.(`${where}: destinationSubnets matches are not supported; block ignored`);
          return false;
        }
        return true;
      });
      if (!applies) continue;
      let routes = rule.route;
      if (routes.length > 1) routes = routes.filter((d) => d.weight > 0);
      if (routes.length === 0) continue;
      const destinations = routes.map((d): TcpDestination => {
        const host = d.destination.host;
        const subset = d.destination.subset ?? "";
        const known = servicePorts.get(host.toLowerCase());
        const port = d.destination.port?.number ??
          (known?.length === 1 ? known[0] : options.port);
        return {
          host,
          subset,
          port,
          weight: d.weight,
          cluster: config.clusterFor(host, subset, port),
        };
      });
      return {
        name: `${ns}/${vs.metadata.name} tcp[${i}]`,
        destinations,
        cumulative: cumulativeWeights(destinations.map((d) => d.weight)),
      };
    }
  }
  return undefined;
}

/** Picks a destination for one connection (weighted, random). */
export function pickTcpDestination(
  route: TcpRoute,
  options: { random?: () => number } = {},
): TcpDestination {
  return pickWeighted(route, options);
}

/** An upstream connection held for one tunnel; call `release` once the tunnel ends. */
export interface TcpUpstream {
  /** The open connection. */
  readonly conn: ByteConn;
  /** The endpoint it reaches. */
  readonly endpoint: Endpoint;
  /** Frees the connection slot and the endpoint's activity count (does not close `conn`). */
  release(): void;
}

/** Why {@linkcode connectUpstream} opened nothing: Envoy's response flag. */
export type TcpFailure = "UH" | "UO" | "UF";

/** Options of {@linkcode connectUpstream}. */
export interface ConnectUpstreamOptions {
  /** Opens the connection; default plain TCP. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
}

/**
 * Opens one L4 connection to an endpoint of `cluster`: balanced pick (UH when none), a
 * `tcp.maxConnections` slot (UO when none is free at once), connect within the cluster's
 * connect timeout (UF; both outcomes are fed to outlier detection).
 */
export async function connectUpstream(
  cluster: Cluster,
  options: ConnectUpstreamOptions = {},
): Promise<TcpUpstream | TcpFailure> {
  const endpoint = cluster.chooser.pick();
  if (endpoint === undefined) return "UH";
  const admission = cluster.admission;
  const waiter = new SlotWaiter(() => {});
  const slot = admission.acquireConnection(waiter);
  if (slot !== "granted") {
    // A tunnel does not wait for a slot; `acquireConnection` counted plain overflows already.
    if (slot === "queued") {
      admission.cancel(waiter);
      admission.overflows++;
    }
    return "UO";
  }
  endpoint.active++;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    endpoint.active--;
    admission.releaseConnection();
  };
  try {
    const connect = options.connect ?? connectTcp;
    const conn = await connect(endpoint.address, endpoint.port, {
      timeoutMs: cluster.policy.connectionPool.tcp.connectTimeout,
    });
    cluster.outlier?.report(endpoint, "connect-success", Date.now());
    return { conn, endpoint, release };
  } catch {
    release();
    cluster.outlier?.report(endpoint, "connect-failure", Date.now());
    return "UF";
  }
}
