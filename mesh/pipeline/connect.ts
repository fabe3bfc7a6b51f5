/**
 * HTTP CONNECT on a sidecar's outbound listener: the explicit-proxy way for an app to reach a
 * TCP destination. `CONNECT host:port` resolves `host` like an HTTP authority (short names in
 * the proxy's namespace, ServiceEntry hosts), then picks the `mesh`-bound VirtualService `tcp`
 * rule for that host and port (weighted, per connection) or, without one, the service's own
 * cluster; an unknown host follows the outbound traffic policy (ALLOW_ANY: straight to
 * host:port, REGISTRY_ONLY: 502). After `200 Connection Established` bytes flow both ways.
 *
 * @module
 */

import {
  type ByteConn,
  type ConnectOptions,
  connectTcp,
  type ResponseSink,
  tunnel,
} from "../http/mod.ts";
import { expandShortName, hostMatches } from "../config/host.ts";
import type { NormalizedResource } from "../config/mod.ts";
import type { Cluster, CompiledConfig } from "./compile.ts";
import { Flag, LocalReplies, type LocalReply } from "./flags.ts";
import { respond, sendReply } from "./local_reply.ts";
import type { RequestContext } from "./request_context.ts";
import {
  compileTcpRoute,
  connectUpstream,
  pickTcpDestination,
  type TcpFailure,
  type TcpRoute,
} from "./tcp.ts";

/** Where a CONNECT goes. */
export type ConnectTarget =
  /** The target is not `host:port`. */
  | { readonly kind: "bad-request" }
  /** No service knows the host: outbound traffic policy applies. */
  | { readonly kind: "unknown"; readonly host: string; readonly port: number }
  /** A VirtualService `tcp` rule applies. */
  | { readonly kind: "route"; readonly host: string; readonly port: number; route: TcpRoute }
  /** The service's own cluster. */
  | { readonly kind: "service"; readonly host: string; readonly port: number; cluster: Cluster };

/** What {@linkcode resolveConnect} needs besides the compiled configuration. */
export interface ConnectScope {
  /** The snapshot's resources (for `tcp` rules). */
  readonly resources: readonly NormalizedResource[];
  /** DNS domain of short names. */
  readonly domain: string;
}

const BAD_REQUEST: ConnectTarget = Object.freeze({ kind: "bad-request" });

/** Compiled `tcp` rules per configuration and `host:port` (null: none applies). */
const ROUTES = new WeakMap<CompiledConfig, Map<string, TcpRoute | null>>();

/** Splits an authority-form target; undefined when it has no valid port. */
function splitAuthority(authority: string): { host: string; port: number } | undefined {
  let host: string;
  let rest: string;
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end < 0) return undefined;
    host = authority.slice(1, end);
    rest = authority.slice(end + 1);
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon < 0) return undefined;
    host = authority.slice(0, colon);
    rest = authority.slice(colon);
  }
  if (!rest.startsWith(":") || !/^[0-9]{1,5}$/.test(rest.slice(1))) return undefined;
  const port = Number(rest.slice(1));
  if (host === "" || port < 1 || port > 65535) return undefined;
  return { host: host.toLowerCase(), port };
}

/** The declared host a requested name (itself, or a short-name alias of it) stands for. */
function canonicalHost(
  requested: string,
  domains: readonly string[],
  namespace: string,
  domain: string,
): string {
  const expanded = expandShortName(requested, namespace, domain);
  if (domains.includes(expanded)) return expanded;
  // Declared hosts come before their aliases, so the first owner found is the declared one.
  for (const d of domains) {
    if (d === requested) return d;
    if (d.endsWith(`.svc.${domain}`) && requested.includes(".") && d.startsWith(`${requested}.`)) {
      return d;
    }
  }
  return requested;
}

/** Decides where `CONNECT authority` goes (pure; `tcp` rules are cached per configuration). */
export function resolveConnect(
  config: CompiledConfig,
  authority: string,
  scope: ConnectScope,
): ConnectTarget {
  const target = splitAuthority(authority);
  if (target === undefined) return BAD_REQUEST;
  const vhost = config.routeTableFor()?.lookup(target.host);
  if (vhost === undefined) return { kind: "unknown", host: target.host, port: target.port };
  const host = canonicalHost(target.host, vhost.domains, config.proxy.namespace, scope.domain);
  const port = target.port;
  let routes = ROUTES.get(config);
  if (routes === undefined) ROUTES.set(config, routes = new Map());
  const key = `${host}:${port}`;
  let route = routes.get(key);
  if (route === undefined) {
    route = compileTcpRoute(scope.resources, config, {
      port,
      admits: (ns, h) => hostMatches(expandShortName(h.toLowerCase(), ns, scope.domain), host),
    }) ?? null;
    if (routes.size < 4096) routes.set(key, route);
  }
  if (route !== null) return { kind: "route", host, port, route };
  return { kind: "service", host, port, cluster: config.clusterFor(host, "", port) };
}

/** Options of {@linkcode serveConnect}. */
export interface ServeConnectOptions extends ConnectScope {
  /** The configuration in effect. */
  config: CompiledConfig;
  /** Opens upstream connections; default plain TCP. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
  /** Random source for the weighted pick. */
  random?: () => number;
}

const FAILURE_REPLY: Readonly<Record<TcpFailure, LocalReply>> = {
  UH: LocalReplies.noHealthyUpstream,
  UO: LocalReplies.overflow,
  UF: LocalReplies.connectFailure,
};

const ESTABLISHED = new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n");

/**
 * Answers one CONNECT request: an error reply before any tunnel, or `200 Connection
 * Established` and a byte tunnel to the chosen endpoint, until either side ends it.
 */
export async function serveConnect(
  ctx: RequestContext,
  res: ResponseSink,
  options: ServeConnectOptions,
): Promise<void> {
  res.keepAlive = false;
  const target = resolveConnect(options.config, ctx.authority, options);
  if (target.kind === "bad-request") {
    ctx.flags |= Flag.DPE;
    return respond(ctx, res, {
      status: 400,
      headers: ["content-type", "text/plain"],
      body: new TextEncoder().encode("CONNECT needs an authority-form target host:port\n"),
    });
  }
  let cluster: Cluster | undefined;
  if (target.kind === "route") {
    ctx.routeName = target.route.name;
    cluster = pickTcpDestination(target.route, { random: options.random }).cluster;
  } else if (target.kind === "service") {
    cluster = target.cluster;
  } else if (options.config.outboundTrafficPolicy === "REGISTRY_ONLY") {
    ctx.cluster = "BlackHoleCluster";
    return sendReply(ctx, res, LocalReplies.registryOnly);
  }
  let up: ByteConn;
  let release = () => {};
  if (cluster === undefined || cluster.passthrough) {
    ctx.cluster = "PassthroughCluster";
    try {
      up = await (options.connect ?? connectTcp)(target.host, target.port, { timeoutMs: 10_000 });
    } catch {
      return sendReply(ctx, res, LocalReplies.connectFailure);
    }
    ctx.upstreamHost = `${target.host}:${target.port}`;
  } else {
    ctx.cluster = cluster.name;
    if (cluster.notFound) return sendReply(ctx, res, LocalReplies.clusterNotFound);
    const upstream = await connectUpstream(cluster, { connect: options.connect });
    if (typeof upstream === "string") return sendReply(ctx, res, FAILURE_REPLY[upstream]);
    up = upstream.conn;
    release = upstream.release;
    ctx.upstreamHost = upstream.endpoint.key;
  }
  ctx.attempts = 1;
  ctx.status = 200;
  try {
    res.writer.bytes(ESTABLISHED);
    res.commitHead(200, 0);
    const taken = await res.takeOver();
    const [, sent] = await tunnel(taken.conn, up, { buffered: taken.buffered });
    // The listener's request record reads the response byte count from the sink.
    res.bodyBytes = sent;
    taken.conn.close();
  } catch {
    res.abort();
  } finally {
    up.close();
    release();
  }
}
