/**
 * Normalization: a validated resource → the canonical model of `types.ts`.
 *
 * Pure and total over validated input. The rules (each has a unit test):
 * - short service names → `<name>.<namespace>.svc.<domain>` in VirtualService
 *   hosts and destinations (route, mirror, mirrors, tcp, tls) and
 *   DestinationRule host — nowhere else (SEMANTICS.md §1);
 * - gateway references → `mesh` or `namespace/name` (legacy `name.ns` too);
 * - durations → milliseconds; percentages → numbers 0–100;
 * - deprecated fields → successors: fault `percent` → `percentage`,
 *   `mirror`/`mirrorPercent(age)` → a `mirrors` entry, `allowOrigin` →
 *   `allowOrigins`, `LEAST_CONN` → `LEAST_REQUEST`, `minimumRingSize` →
 *   `ringHash`, `warmupDurationSecs` → `warmup`; `consecutiveErrors` is dropped
 *   (ignored by current Istio);
 * - defaults explicit (DESIGN.md "Behaviour defaults", SEMANTICS.md).
 *
 * @module
 */

import { parseDuration } from "./duration.ts";
import { expandShortName } from "./host.ts";
import {
  type AuthorizationPolicySpec,
  type ClientTLSSettings,
  type ConnectionPoolSettings,
  type CorsPolicy,
  DEFAULT_RETRY_ON,
  type Destination,
  type DestinationRuleSpec,
  type GatewaySpec,
  type HTTPFaultInjection,
  type HTTPMatchRequest,
  type HTTPMirrorPolicy,
  type HTTPRetry,
  type HTTPRoute,
  type HTTPRouteDestination,
  type IstioIngressListener,
  type LoadBalancerSettings,
  type NormalizedResource,
  type OutlierDetection,
  type PeerAuthenticationSpec,
  type PortTrafficPolicy,
  type Resource,
  type ServerTLSSettings,
  type ServiceEntrySpec,
  type SidecarSpec,
  type TrafficPolicy,
  type VirtualServiceSpec,
  type WorkloadEntrySpec,
} from "./types.ts";

/** Options of {@link normalize}. */
export interface NormalizeOptions {
  /** DNS domain for short-name expansion; default `cluster.local`. */
  domain?: string;
}

/** Route timeout when a route sets none (seed spec), in milliseconds. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
/** Retries of the default retry policy. */
export const DEFAULT_RETRY_ATTEMPTS = 2;
/** Base retry backoff, in milliseconds. */
export const DEFAULT_RETRY_BACKOFF_MS = 25;
/** Envoy's "unlimited" for 32-bit circuit-breaker thresholds. */
export const UNLIMITED = 2 ** 32 - 1;

/** A connection pool with nothing configured: what applies when no block is given. */
export const DEFAULT_CONNECTION_POOL: ConnectionPoolSettings = Object.freeze({
  tcp: Object.freeze({ maxConnections: UNLIMITED, connectTimeout: 10_000, idleTimeout: 3_600_000 }),
  http: Object.freeze({
    http1MaxPendingRequests: UNLIMITED,
    http2MaxRequests: UNLIMITED,
    maxRequestsPerConnection: 0,
    maxRetries: UNLIMITED,
    idleTimeout: 3_600_000,
    h2UpgradePolicy: "DEFAULT" as const,
    useClientProtocol: false,
    maxConcurrentStreams: 2 ** 31 - 1,
  }),
}) as ConnectionPoolSettings;

// Validated input: the schemas have checked shapes, so fields are read directly.
// deno-lint-ignore no-explicit-any
type Raw = { [field: string]: any };

interface Context {
  namespace: string;
  domain: string;
}

/** Normalizes one validated resource (pure; the input is not modified). */
export function normalize(resource: Resource, options: NormalizeOptions = {}): NormalizedResource {
  const ctx: Context = {
    namespace: resource.metadata.namespace || "default",
    domain: options.domain ?? "cluster.local",
  };
  const spec = resource.spec as Raw;
  const base = {
    apiVersion: resource.apiVersion,
    metadata: { ...resource.metadata, namespace: ctx.namespace },
  };
  switch (resource.kind) {
    case "VirtualService":
      return { ...base, kind: "VirtualService", spec: virtualService(spec, ctx) };
    case "DestinationRule":
      return { ...base, kind: "DestinationRule", spec: destinationRule(spec, ctx) };
    case "ServiceEntry":
      return { ...base, kind: "ServiceEntry", spec: serviceEntry(spec) };
    case "Gateway":
      return { ...base, kind: "Gateway", spec: gateway(spec) };
    case "Sidecar":
      return { ...base, kind: "Sidecar", spec: sidecar(spec, ctx) };
    case "WorkloadEntry":
      return { ...base, kind: "WorkloadEntry", spec: workloadEntry(spec) };
    case "PeerAuthentication":
      return { ...base, kind: "PeerAuthentication", spec: peerAuthentication(spec) };
    case "AuthorizationPolicy":
      return { ...base, kind: "AuthorizationPolicy", spec: authorizationPolicy(spec) };
  }
}

// ---------------------------------------------------------------- helpers

/** Duration text → milliseconds (validated input; numbers pass through). */
function ms(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number") return value;
  return parseDuration(String(value));
}

/** `{value: 12.5}` / `12.5` → 12.5; absent → fallback. */
function percent(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number") return value;
  const v = (value as Raw).value;
  return typeof v === "number" ? v : 0;
}

function copy<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

/** Keeps only defined fields, so normalized objects print without `undefined` noise. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

function fqdn(host: string, ctx: Context): string {
  return expandShortName(host, ctx.namespace, ctx.domain);
}

function destination(raw: Raw, ctx: Context): Destination {
  return compact({
    host: fqdn(raw.host, ctx),
    subset: raw.subset,
    port: raw.port ? { number: raw.port.number } : undefined,
  });
}

/**
 * A gateway reference as `mesh` or `namespace/name`: `name` and `./name`
 * resolve to the VirtualService's namespace; legacy `name.ns[.svc.…]` becomes
 * `ns/name` (Istio's `resolveGatewayName`).
 */
export function resolveGatewayName(ref: string, namespace: string): string {
  if (ref === "mesh") return ref;
  const slash = ref.indexOf("/");
  if (slash >= 0) {
    const ns = ref.slice(0, slash);
    return ns === "." ? `${namespace}/${ref.slice(slash + 1)}` : ref;
  }
  const dot = ref.indexOf(".");
  if (dot >= 0) return `${ref.slice(dot + 1).split(".")[0]}/${ref.slice(0, dot)}`;
  return `${namespace}/${ref}`;
}

/** Weighted destinations: a lone one gets 100; several keep their weights, zero ones dropped. */
function weighted<T extends { weight: number }>(list: T[]): T[] {
  if (list.length === 1) return [{ ...list[0], weight: 100 }];
  const nonZero = list.filter((d) => d.weight > 0);
  return nonZero.length > 0 ? nonZero : list;
}

// ---------------------------------------------------------------- VirtualService

function virtualService(spec: Raw, ctx: Context): VirtualServiceSpec {
  const gateways = (spec.gateways as string[] | undefined)?.length
    ? (spec.gateways as string[]).map((g) => resolveGatewayName(g, ctx.namespace))
    : ["mesh"];
  return {
    hosts: ((spec.hosts ?? []) as string[]).map((h) => fqdn(h, ctx)),
    gateways,
    http: ((spec.http ?? []) as Raw[]).map((r) => httpRoute(r, ctx)),
    tls: ((spec.tls ?? []) as Raw[]).map((r) => ({
      match: ((r.match ?? []) as Raw[]).map((m) =>
        l4Match(m, ctx) as typeof m & { sniHosts: string[] }
      ),
      route: l4Route(r.route ?? [], ctx),
    })),
    tcp: ((spec.tcp ?? []) as Raw[]).map((r) => ({
      match: ((r.match ?? []) as Raw[]).map((m) => l4Match(m, ctx)),
      route: l4Route(r.route ?? [], ctx),
    })),
    exportTo: exportTo(spec.exportTo),
  };
}

function exportTo(value: unknown): string[] {
  return Array.isArray(value) && value.length > 0 ? [...value] : ["*"];
}

function l4Match(m: Raw, ctx: Context): Raw {
  const out = copy(m);
  if (Array.isArray(m.gateways)) {
    out.gateways = m.gateways.map((g: string) => resolveGatewayName(g, ctx.namespace));
  }
  return out;
}

function l4Route(list: Raw[], ctx: Context) {
  return weighted(list.map((d) => ({
    destination: destination(d.destination, ctx),
    weight: typeof d.weight === "number" ? d.weight : 0,
  })));
}

function httpRoute(r: Raw, ctx: Context): HTTPRoute {
  const route: HTTPRouteDestination[] = weighted(
    ((r.route ?? []) as Raw[]).map((d) =>
      compact({
        destination: destination(d.destination, ctx),
        weight: typeof d.weight === "number" ? d.weight : 0,
        headers: copy(d.headers),
      })
    ),
  );
  const timeout = ms(r.timeout);
  const out: HTTPRoute = {
    name: r.name,
    match: ((r.match ?? []) as Raw[]).map((m) => httpMatch(m, ctx)),
    route,
    redirect: r.redirect
      ? { ...copy(r.redirect), redirectCode: r.redirect.redirectCode || 301 }
      : undefined,
    directResponse: copy(r.directResponse),
    delegate: r.delegate
      ? { name: r.delegate.name, namespace: r.delegate.namespace || ctx.namespace }
      : undefined,
    rewrite: copy(r.rewrite),
    timeout: timeout ?? DEFAULT_ROUTE_TIMEOUT_MS,
    retries: retries(r.retries),
    fault: r.fault ? fault(r.fault) : undefined,
    mirrors: mirrors(r, ctx),
    corsPolicy: r.corsPolicy ? cors(r.corsPolicy) : undefined,
    headers: copy(r.headers),
  };
  return compact(out);
}

function httpMatch(m: Raw, ctx: Context): HTTPMatchRequest {
  const out = copy(m) as HTTPMatchRequest;
  out.ignoreUriCase = m.ignoreUriCase === true;
  if (Array.isArray(m.gateways)) {
    out.gateways = m.gateways.map((g: string) => resolveGatewayName(g, ctx.namespace));
  }
  return out;
}

/** The built-in retry policy (current Istio). */
export function defaultRetryPolicy(): HTTPRetry {
  return retryPolicy(DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_ON);
}

function retryPolicy(attempts: number, retryOn: string): HTTPRetry {
  const tokens: string[] = [];
  const codes: number[] = [];
  for (const part of retryOn.split(",")) {
    const token = part.trim();
    if (token === "") continue;
    if (/^\d+$/.test(token)) codes.push(Number(token));
    else if (!tokens.includes(token)) tokens.push(token);
  }
  if (codes.length > 0 && !tokens.includes("retriable-status-codes")) {
    tokens.push("retriable-status-codes");
  }
  return {
    attempts,
    retryOn,
    retryOnTokens: tokens,
    retriableStatusCodes: codes,
    retryRemoteLocalities: false,
    retryIgnorePreviousHosts: true,
    backoff: DEFAULT_RETRY_BACKOFF_MS,
  };
}

function retries(raw: Raw | undefined): HTTPRetry | null {
  if (raw === undefined || raw === null) return defaultRetryPolicy();
  const attempts = typeof raw.attempts === "number" ? raw.attempts : 0;
  if (attempts === 0) return null;
  const policy = retryPolicy(attempts, raw.retryOn || DEFAULT_RETRY_ON);
  const perTry = ms(raw.perTryTimeout);
  if (perTry !== undefined && perTry > 0) policy.perTryTimeout = perTry;
  if (raw.retryRemoteLocalities === true) policy.retryRemoteLocalities = true;
  if (raw.retryIgnorePreviousHosts === false) policy.retryIgnorePreviousHosts = false;
  const backoff = ms(raw.backoff);
  if (backoff !== undefined && backoff > 0) policy.backoff = backoff;
  return policy;
}

function fault(raw: Raw): HTTPFaultInjection {
  const out: HTTPFaultInjection = {};
  if (raw.delay) {
    out.delay = {
      fixedDelay: ms(raw.delay.fixedDelay) ?? 0,
      percentage: faultPercent(raw.delay),
    };
  }
  if (raw.abort) {
    out.abort = compact({
      httpStatus: raw.abort.httpStatus,
      grpcStatus: raw.abort.grpcStatus,
      http2Error: raw.abort.http2Error,
      percentage: faultPercent(raw.abort),
    });
  }
  return out;
}

/** `percentage.value`, else the deprecated integer `percent`, else 100 (seed spec). */
function faultPercent(part: Raw): number {
  if (part.percentage !== undefined && part.percentage !== null) {
    return percent(part.percentage, 100);
  }
  if (typeof part.percent === "number") return part.percent;
  return 100;
}

function mirrors(r: Raw, ctx: Context): HTTPMirrorPolicy[] {
  const out: HTTPMirrorPolicy[] = [];
  if (r.mirror) {
    const pct = r.mirrorPercentage !== undefined && r.mirrorPercentage !== null
      ? percent(r.mirrorPercentage, 100)
      : typeof r.mirrorPercent === "number"
      ? r.mirrorPercent
      : 100;
    out.push({ destination: destination(r.mirror, ctx), percentage: pct });
  }
  for (const m of (r.mirrors ?? []) as Raw[]) {
    out.push({
      destination: destination(m.destination, ctx),
      percentage: percent(m.percentage, 100),
    });
  }
  return out;
}

function cors(raw: Raw): CorsPolicy {
  const origins = [
    ...((raw.allowOrigins ?? []) as Raw[]).map((o) => copy(o)),
    ...((raw.allowOrigin ?? []) as string[]).map((o) => ({ exact: o })),
  ];
  return compact({
    allowOrigins: origins,
    allowMethods: [...(raw.allowMethods ?? [])],
    allowHeaders: [...(raw.allowHeaders ?? [])],
    exposeHeaders: [...(raw.exposeHeaders ?? [])],
    maxAge: ms(raw.maxAge),
    allowCredentials: raw.allowCredentials,
    unmatchedPreflights: raw.unmatchedPreflights === "IGNORE" ? "IGNORE" : "FORWARD",
  });
}

// ---------------------------------------------------------------- DestinationRule

function destinationRule(spec: Raw, ctx: Context): DestinationRuleSpec {
  const top = spec.trafficPolicy ? trafficPolicy(spec.trafficPolicy) : {};
  if (!top.loadBalancer) top.loadBalancer = { simple: "ROUND_ROBIN" };
  return compact({
    host: fqdn(spec.host, ctx),
    trafficPolicy: top,
    subsets: ((spec.subsets ?? []) as Raw[]).map((s) =>
      compact({
        name: s.name,
        labels: { ...(s.labels ?? {}) },
        trafficPolicy: s.trafficPolicy ? trafficPolicy(s.trafficPolicy) : undefined,
      })
    ),
    exportTo: exportTo(spec.exportTo),
    workloadSelector: copy(spec.workloadSelector),
  });
}

function trafficPolicy(raw: Raw): TrafficPolicy {
  const out: TrafficPolicy = compact({
    loadBalancer: raw.loadBalancer ? loadBalancer(raw.loadBalancer) : undefined,
    connectionPool: raw.connectionPool ? connectionPool(raw.connectionPool) : undefined,
    outlierDetection: raw.outlierDetection ? outlierDetection(raw.outlierDetection) : undefined,
    tls: raw.tls ? clientTls(raw.tls) : undefined,
    portLevelSettings: Array.isArray(raw.portLevelSettings)
      ? (raw.portLevelSettings as Raw[]).map(portPolicy)
      : undefined,
    tunnel: raw.tunnel
      ? {
        protocol: raw.tunnel.protocol || "CONNECT",
        targetHost: raw.tunnel.targetHost,
        targetPort: raw.tunnel.targetPort,
      }
      : undefined,
    proxyProtocol: raw.proxyProtocol ? { version: raw.proxyProtocol.version || "V1" } : undefined,
    retryBudget: raw.retryBudget
      ? {
        percent: percent(raw.retryBudget.percent, 20),
        minRetryConcurrency: raw.retryBudget.minRetryConcurrency || 3,
      }
      : undefined,
  });
  return out;
}

/** A port-level entry replaces the whole policy for its port, so its LB is explicit. */
function portPolicy(raw: Raw): PortTrafficPolicy {
  return compact({
    port: { number: raw.port?.number },
    loadBalancer: raw.loadBalancer ? loadBalancer(raw.loadBalancer) : { simple: "ROUND_ROBIN" },
    connectionPool: raw.connectionPool ? connectionPool(raw.connectionPool) : undefined,
    outlierDetection: raw.outlierDetection ? outlierDetection(raw.outlierDetection) : undefined,
    tls: raw.tls ? clientTls(raw.tls) : undefined,
  });
}

function loadBalancer(raw: Raw): LoadBalancerSettings {
  const out: LoadBalancerSettings = {};
  if (raw.consistentHash) {
    const ch = raw.consistentHash as Raw;
    const hash = compact({
      httpHeaderName: ch.httpHeaderName,
      httpCookie: ch.httpCookie
        ? compact({
          name: ch.httpCookie.name,
          path: ch.httpCookie.path,
          ttl: ms(ch.httpCookie.ttl),
          attributes: copy(ch.httpCookie.attributes),
        })
        : undefined,
      useSourceIp: ch.useSourceIp,
      httpQueryParameterName: ch.httpQueryParameterName,
      ringHash: undefined as { minimumRingSize: number } | undefined,
      maglev: ch.maglev ? { tableSize: ch.maglev.tableSize || 65537 } : undefined,
    });
    if (!hash.maglev) {
      hash.ringHash = {
        minimumRingSize: ch.ringHash?.minimumRingSize || ch.minimumRingSize || 1024,
      };
    }
    out.consistentHash = hash;
  } else {
    const simple = raw.simple === "LEAST_CONN"
      ? "LEAST_REQUEST"
      : !raw.simple || raw.simple === "UNSPECIFIED"
      ? "ROUND_ROBIN"
      : raw.simple;
    out.simple = simple;
  }
  if (raw.localityLbSetting) out.localityLbSetting = copy(raw.localityLbSetting);
  const warmupDuration = raw.warmup ? ms(raw.warmup.duration) : ms(raw.warmupDurationSecs);
  if (warmupDuration !== undefined) {
    out.warmup = {
      duration: warmupDuration,
      minimumPercent: percent(raw.warmup?.minimumPercent, 10),
      aggression: typeof raw.warmup?.aggression === "number" ? raw.warmup.aggression : 1,
    };
  }
  return out;
}

function connectionPool(raw: Raw): ConnectionPoolSettings {
  const tcp = (raw.tcp ?? {}) as Raw;
  const http = (raw.http ?? {}) as Raw;
  const d = DEFAULT_CONNECTION_POOL;
  const tcpIdle = ms(tcp.idleTimeout) ?? d.tcp.idleTimeout;
  const keepalive = tcp.tcpKeepalive
    ? compact({
      probes: tcp.tcpKeepalive.probes,
      time: ms(tcp.tcpKeepalive.time),
      interval: ms(tcp.tcpKeepalive.interval),
    })
    : undefined;
  return {
    tcp: compact({
      maxConnections: tcp.maxConnections || d.tcp.maxConnections,
      connectTimeout: ms(tcp.connectTimeout) || d.tcp.connectTimeout,
      tcpKeepalive: keepalive,
      maxConnectionDuration: ms(tcp.maxConnectionDuration) || undefined,
      idleTimeout: tcpIdle,
    }),
    http: {
      http1MaxPendingRequests: http.http1MaxPendingRequests || d.http.http1MaxPendingRequests,
      http2MaxRequests: http.http2MaxRequests || d.http.http2MaxRequests,
      maxRequestsPerConnection: http.maxRequestsPerConnection || 0,
      maxRetries: http.maxRetries || d.http.maxRetries,
      idleTimeout: ms(http.idleTimeout) ?? tcpIdle,
      h2UpgradePolicy: http.h2UpgradePolicy || "DEFAULT",
      useClientProtocol: http.useClientProtocol === true,
      maxConcurrentStreams: http.maxConcurrentStreams || d.http.maxConcurrentStreams,
    },
  };
}

function outlierDetection(raw: Raw): OutlierDetection {
  const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  return compact({
    consecutive5xxErrors: num(raw.consecutive5xxErrors, 5),
    consecutiveGatewayErrors: num(raw.consecutiveGatewayErrors, 0),
    interval: ms(raw.interval) || 10_000,
    baseEjectionTime: ms(raw.baseEjectionTime) || 30_000,
    maxEjectionPercent: raw.maxEjectionPercent || 10,
    minHealthPercent: num(raw.minHealthPercent, 0),
    splitExternalLocalOriginErrors: raw.splitExternalLocalOriginErrors === true,
    consecutiveLocalOriginFailures: num(raw.consecutiveLocalOriginFailures, 5),
    outlierDetectionHttpErrorCodes: copy(raw.outlierDetectionHttpErrorCodes),
  });
}

function clientTls(raw: Raw): ClientTLSSettings {
  return {
    ...copy(raw),
    mode: raw.mode || "DISABLE",
    insecureSkipVerify: raw.insecureSkipVerify === true,
  };
}

// ---------------------------------------------------------------- ServiceEntry, WorkloadEntry, Gateway, Sidecar

function serviceEntry(spec: Raw): ServiceEntrySpec {
  return compact({
    hosts: [...(spec.hosts ?? [])],
    addresses: [...(spec.addresses ?? [])],
    ports: ((spec.ports ?? []) as Raw[]).map((p) =>
      compact({
        number: p.number,
        protocol: p.protocol,
        name: p.name,
        targetPort: p.targetPort || p.number,
      })
    ),
    location: spec.location || "MESH_EXTERNAL",
    resolution: spec.resolution || "NONE",
    endpoints: ((spec.endpoints ?? []) as Raw[]).map(workloadEntry),
    workloadSelector: copy(spec.workloadSelector),
    exportTo: exportTo(spec.exportTo),
    subjectAltNames: [...(spec.subjectAltNames ?? [])],
  });
}

function workloadEntry(spec: Raw): WorkloadEntrySpec {
  return compact({
    address: spec.address,
    ports: { ...(spec.ports ?? {}) },
    labels: { ...(spec.labels ?? {}) },
    network: spec.network,
    locality: spec.locality,
    weight: spec.weight || 1,
    serviceAccount: spec.serviceAccount,
  });
}

function serverTls(raw: Raw): ServerTLSSettings {
  return {
    ...copy(raw),
    httpsRedirect: raw.httpsRedirect === true,
    mode: raw.mode || "PASSTHROUGH",
  };
}

function gateway(spec: Raw): GatewaySpec {
  return {
    servers: ((spec.servers ?? []) as Raw[]).map((s) =>
      compact({
        port: copy(s.port),
        bind: s.bind,
        hosts: [...(s.hosts ?? [])],
        tls: s.tls ? serverTls(s.tls) : undefined,
        defaultEndpoint: s.defaultEndpoint,
        name: s.name,
      })
    ),
    selector: { ...(spec.selector ?? {}) },
  };
}

function sidecar(spec: Raw, ctx: Context): SidecarSpec {
  const otp = spec.outboundTrafficPolicy as Raw | undefined;
  return compact({
    workloadSelector: copy(spec.workloadSelector),
    ingress: ((spec.ingress ?? []) as Raw[]).map((l): IstioIngressListener =>
      compact({
        ...copy(l),
        port: copy(l.port),
        tls: l.tls ? serverTls(l.tls) : undefined,
        connectionPool: l.connectionPool ? connectionPool(l.connectionPool) : undefined,
      })
    ),
    egress: ((spec.egress ?? []) as Raw[]).map((l) => ({
      ...copy(l),
      hosts: [...(l.hosts ?? [])],
    })),
    inboundConnectionPool: spec.inboundConnectionPool
      ? connectionPool(spec.inboundConnectionPool)
      : undefined,
    outboundTrafficPolicy: otp
      ? compact({
        mode: otp.mode === "ALLOW_ANY" ? "ALLOW_ANY" as const : "REGISTRY_ONLY" as const,
        egressProxy: otp.egressProxy ? destination(otp.egressProxy, ctx) : undefined,
      })
      : undefined,
  });
}

// ---------------------------------------------------------------- security

function peerAuthentication(spec: Raw): PeerAuthenticationSpec {
  const portLevel: PeerAuthenticationSpec["portLevelMtls"] = {};
  for (const [port, value] of Object.entries((spec.portLevelMtls ?? {}) as Record<string, Raw>)) {
    portLevel[String(port)] = { mode: value?.mode || "UNSET" };
  }
  return compact({
    selector: copy(spec.selector),
    mtls: { mode: spec.mtls?.mode || "UNSET" },
    portLevelMtls: portLevel,
  });
}

function authorizationPolicy(spec: Raw): AuthorizationPolicySpec {
  return compact({
    selector: copy(spec.selector),
    targetRef: copy(spec.targetRef),
    targetRefs: copy(spec.targetRefs),
    action: spec.action || "ALLOW",
    provider: copy(spec.provider),
    rules: ((spec.rules ?? []) as Raw[]).map((r) => ({
      from: ((r.from ?? []) as Raw[]).map((f) => ({ source: copy(f.source ?? {}) })),
      to: ((r.to ?? []) as Raw[]).map((t) => ({ operation: copy(t.operation ?? {}) })),
      when: copy(r.when ?? []),
    })),
  });
}
