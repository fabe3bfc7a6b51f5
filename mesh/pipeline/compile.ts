/**
 * Compiles a per-proxy {@linkcode Snapshot} into the immutable lookup tables the request path
 * reads: route tables (per host, with short-name aliases precomputed), ordered routes with
 * matchers compiled once, and clusters (`outbound|<port>|<subset>|<fqdn>`) with their resolved
 * DestinationRule policy, endpoints, host chooser, outlier detector and circuit breakers.
 *
 * Errors (an untranslatable regex, an invalid retry policy, …) are collected and thrown together
 * as a {@linkcode SnapshotCompileError}, so the caller can NACK and keep its previous config.
 * Runtime state lives in clusters; compiling with `{previous}` carries over every cluster whose
 * identity, policy and endpoints are unchanged, so a push does not reset outlier ejections or
 * round-robin positions.
 *
 * @module
 */

import {
  type ClientTLSSettings,
  type ConnectionPoolSettings,
  DEFAULT_CONNECTION_POOL,
  DEFAULT_ROUTE_TIMEOUT_MS,
  type DestinationRuleSpec,
  hostMatches,
  type HTTPMatchRequest,
  type HTTPRoute,
  isMoreSpecific,
  isWildcard,
  type LoadBalancerSettings,
  type NormalizedOf,
  type OutlierDetection,
  type ServicePort,
  type Subset,
  type TrafficPolicy,
} from "../config/mod.ts";
import type { ProxyIdentity, ServiceInstance, Snapshot } from "../model/mod.ts";
import { Admission, limitsFrom } from "./admission.ts";
import { balancerFactory, type RandomSource } from "./balance/mod.ts";
import { compileCors, type CompiledCors } from "./cors.ts";
import { EndpointSet, parseLocality } from "./endpoints.ts";
import { type CompiledFault, compileFault } from "./fault.ts";
import { type CompiledHeaders, compileHeaders } from "./header_ops.ts";
import { createHostChooser, type HostChooser } from "./locality.ts";
import { RequestMatcher, type UriMatchInfo } from "./match.ts";
import type { CompiledMirror } from "./mirror.ts";
import { OutlierDetector } from "./outlier.ts";
import type { CompiledRedirect } from "./redirect.ts";
import { authorityHost } from "./request_view.ts";
import { compileRetryPolicy, type RetryConfig, type RetryPolicy } from "./retry_policy.ts";
import { type CompiledRewrite, compileRewrite } from "./rewrite.ts";
import { cumulativeWeights } from "./split.ts";

/** Istio's root namespace (mesh-wide DestinationRules and Sidecars). */
export const ROOT_NAMESPACE = "istio-system";

/** The snapshot cannot be applied; `problems` lists every error found. */
export class SnapshotCompileError extends Error {
  /** One line per problem, each naming the resource and field. */
  readonly problems: readonly string[];

  /** Builds the error from its problems. */
  constructor(version: string, problems: readonly string[]) {
    super(
      `snapshot ${version} rejected (${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }); the previous configuration stays in effect:\n  ` + problems.join("\n  "),
    );
    this.name = "SnapshotCompileError";
    this.problems = problems;
  }
}

/** Options of {@linkcode compileSnapshot}. */
export interface CompileOptions {
  /** The config being replaced: clusters whose identity and endpoints are unchanged are reused. */
  previous?: CompiledConfig;
  /** Random source for balancers and choosers (tests inject a seeded one). */
  random?: RandomSource;
  /** Root namespace; default `istio-system`. */
  rootNamespace?: string;
}

// ---------------------------------------------------------------- public types

/** The resolved DestinationRule policy of one cluster (SEMANTICS §3.2). */
export interface ClusterPolicy {
  /** Always set (ROUND_ROBIN by default). */
  readonly loadBalancer: LoadBalancerSettings;
  /** Always complete (defaults when not configured). */
  readonly connectionPool: ConnectionPoolSettings;
  /** Present only when configured. */
  readonly outlierDetection?: OutlierDetection;
  /** Carried, not used yet. */
  readonly tls?: ClientTLSSettings;
  /** The DestinationRule(s) it came from, `ns/name`; empty when none applies. */
  readonly source: readonly string[];
}

/** One upstream cluster with its runtime state. */
export interface Cluster {
  /** `outbound|<port>|<subset>|<fqdn>`. */
  readonly name: string;
  /** Destination host. */
  readonly host: string;
  /** Subset name, `""` for the bare host. */
  readonly subset: string;
  /** Destination (service) port. */
  readonly port: number;
  /** Unknown host or undefined subset: requests get 503 NC. */
  readonly notFound: boolean;
  /** Why it is not found. */
  readonly notFoundReason?: string;
  /** Forward to the original destination (LB PASSTHROUGH, ServiceEntry resolution NONE). */
  readonly passthrough: boolean;
  /** The resolved policy. */
  readonly policy: ClusterPolicy;
  /** Endpoints and their runtime state. */
  readonly endpoints: EndpointSet;
  /** Picks an endpoint per attempt (undefined ⇒ 503 UH). */
  readonly chooser: HostChooser;
  /** Passive health checking, when configured (the owner runs `sweep` every interval). */
  readonly outlier?: OutlierDetector;
  /** Circuit-breaker counters. */
  readonly admission: Admission;
  /** Identity + policy + endpoints; equal signatures mean the cluster can be reused. */
  readonly signature: string;
  /** Summary for `/clusters`. */
  describe(): Record<string, unknown>;
}

/** A weighted destination of a route, resolving to a cluster per destination port. */
export interface RouteDestination {
  /** Destination host. */
  readonly host: string;
  /** Subset, `""` for none. */
  readonly subset: string;
  /** Explicit destination port, else undefined (the request's port is used). */
  readonly port?: number;
  /** Relative weight. */
  readonly weight: number;
  /** Destination-level header operations. */
  readonly headers?: CompiledHeaders;
  /** The cluster for a request arriving on `port`. */
  clusterFor(port: number): Cluster;
}

/** What a route does. */
export type RouteAction =
  | {
    readonly kind: "route";
    /** Weighted destinations. */
    readonly destinations: readonly RouteDestination[];
    /** Cumulative weights for `split.ts`. */
    readonly cumulative: Float64Array;
  }
  | { readonly kind: "redirect"; readonly redirect: CompiledRedirect }
  | {
    readonly kind: "direct";
    /** Status to answer with. */
    readonly status: number;
    /** Body bytes (possibly empty). */
    readonly body: Uint8Array;
  };

/** One compiled route (one match block of one HTTP rule). */
export interface CompiledRoute {
  /** `<rule name>.<match name>` (either part alone when the other is unset), or `default`. */
  readonly name: string;
  /** `ns/name` of the VirtualService, `""` for a default route. */
  readonly virtualService: string;
  /** The request predicate. */
  readonly matcher: RequestMatcher;
  /** How the URI was matched (rewrite, redirect). */
  readonly uriMatch: UriMatchInfo;
  /** The action. */
  readonly action: RouteAction;
  /** Rewrite, when configured. */
  readonly rewrite?: CompiledRewrite;
  /** Route timeout in ms; 0 = none. */
  readonly timeout: number;
  /** Compiled retry policy. */
  readonly retryPolicy: RetryPolicy;
  /** Fault injection, when configured. */
  readonly fault?: CompiledFault;
  /** Mirror targets. */
  readonly mirrors: readonly CompiledMirror<Cluster>[];
  /** CORS, when configured. */
  readonly cors?: CompiledCors;
  /** Route-level header operations. */
  readonly headers?: CompiledHeaders;
}

/** A successful route selection (preallocated per route and virtual host). */
export interface RouteMatch {
  /** Discriminant. */
  readonly kind: "route";
  /** The route. */
  readonly route: CompiledRoute;
  /** Where it was found. */
  readonly virtualHost: VirtualHost;
}

/** The routes answering a set of host names. */
export interface VirtualHost {
  /** `ns/name` of the VirtualService(s), or `default:<host>`. */
  readonly name: string;
  /** Host names (and aliases) that select it, lower-case. */
  readonly domains: readonly string[];
  /** Ordered routes; the first match wins. */
  readonly routes: readonly CompiledRoute[];
  /** `results[i]` is the preallocated match result for `routes[i]`. */
  readonly results: readonly RouteMatch[];
}

/** Virtual hosts by host name. */
export interface RouteTable {
  /** `mesh` or the gateway `ns/name`. */
  readonly name: string;
  /** Every virtual host. */
  readonly virtualHosts: readonly VirtualHost[];
  /** The virtual host for a raw authority (port ignored, case-insensitive). */
  lookup(authority: string): VirtualHost | undefined;
}

/** The compiled form of one snapshot. */
export interface CompiledConfig {
  /** Snapshot version. */
  readonly version: string;
  /** Who this proxy is. */
  readonly proxy: ProxyIdentity;
  /** For unknown hosts: pass through or 502 (Sidecar resource overrides the mesh setting). */
  readonly outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** Non-fatal problems (duplicate VirtualServices, unsupported features). */
  readonly warnings: readonly string[];
  /** Gateway resources (`ns/name`) this proxy serves. */
  readonly gatewayNames: readonly string[];
  /** The sidecar table (`mesh`), or a gateway's table; undefined when none. */
  routeTableFor(gateway?: string): RouteTable | undefined;
  /** The cluster with this name, if it was built. */
  cluster(name: string): Cluster | undefined;
  /** The cluster for (host, subset, port), built on first use. */
  clusterFor(host: string, subset: string, port: number): Cluster;
  /** Every cluster built so far (for `/clusters`). */
  clusters(): Cluster[];
  /** Everything, as plain data (for `/config_dump`). */
  describe(): Record<string, unknown>;
}

// ---------------------------------------------------------------- snapshot index

interface ServiceInfo {
  host: string;
  namespace: string;
  instances: ServiceInstance[];
  ports: ServicePort[];
  resolution?: string;
  addresses: string[];
}

type VS = NormalizedOf<"VirtualService">;
type DR = NormalizedOf<"DestinationRule">;

interface MergedRule {
  spec: Pick<DestinationRuleSpec, "trafficPolicy" | "subsets">;
  source: string[];
}

function byNamespaceName(
  a: { metadata: { namespace: string; name: string } },
  b: { metadata: { namespace: string; name: string } },
): number {
  const x = `${a.metadata.namespace}/${a.metadata.name}`;
  const y = `${b.metadata.namespace}/${b.metadata.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

function labelsSelect(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

const qualify = (r: { metadata: { namespace: string; name: string } }) =>
  `${r.metadata.namespace}/${r.metadata.name}`;

/** Oldest first (creationTimestamp), then by namespace/name. */
function byAge(a: DR, b: DR): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  return byNamespaceName(a, b);
}

function isEmptyPolicy(p: TrafficPolicy): boolean {
  const keys = Object.keys(p).filter((k) => (p as Record<string, unknown>)[k] !== undefined);
  // Normalization makes the top-level LB explicit; a lone ROUND_ROBIN is indistinguishable
  // from "not configured".
  return keys.length === 0 ||
    (keys.length === 1 && keys[0] === "loadBalancer" && p.loadBalancer?.simple === "ROUND_ROBIN" &&
      !p.loadBalancer.localityLbSetting && !p.loadBalancer.warmup);
}

// ---------------------------------------------------------------- clusters

function clusterName(host: string, subset: string, port: number): string {
  return `outbound|${port}|${subset}|${host}`;
}

function resolvePolicy(
  rule: MergedRule | undefined,
  subset: Subset | undefined,
  port: number,
): ClusterPolicy {
  const top: TrafficPolicy = rule?.spec.trafficPolicy ?? {};
  const pl = top.portLevelSettings?.find((p) => p.port.number === port);
  const base: {
    loadBalancer?: LoadBalancerSettings;
    connectionPool?: ConnectionPoolSettings;
    outlierDetection?: OutlierDetection;
    tls?: ClientTLSSettings;
  } = pl
    ? {
      loadBalancer: pl.loadBalancer,
      connectionPool: pl.connectionPool,
      outlierDetection: pl.outlierDetection,
      tls: pl.tls,
    }
    : {
      loadBalancer: top.loadBalancer,
      connectionPool: top.connectionPool,
      outlierDetection: top.outlierDetection,
      tls: top.tls,
    };
  const sub = subset?.trafficPolicy;
  if (sub) {
    const spl = sub.portLevelSettings?.find((p) => p.port.number === port);
    const from = spl ?? sub;
    const replaceAll = spl !== undefined;
    // Whole blocks replace (never a deep merge): SEMANTICS trap 3.
    if (from.loadBalancer || replaceAll) base.loadBalancer = from.loadBalancer;
    if (from.connectionPool || replaceAll) base.connectionPool = from.connectionPool;
    if (from.outlierDetection || replaceAll) base.outlierDetection = from.outlierDetection;
    if (from.tls || replaceAll) base.tls = from.tls;
  }
  const policy: {
    loadBalancer: LoadBalancerSettings;
    connectionPool: ConnectionPoolSettings;
    outlierDetection?: OutlierDetection;
    tls?: ClientTLSSettings;
    source: string[];
  } = {
    loadBalancer: base.loadBalancer ?? { simple: "ROUND_ROBIN" },
    connectionPool: base.connectionPool ?? DEFAULT_CONNECTION_POOL,
    source: rule?.source ?? [],
  };
  if (base.outlierDetection) policy.outlierDetection = base.outlierDetection;
  if (base.tls) policy.tls = base.tls;
  return policy;
}

class ClusterImpl implements Cluster {
  readonly name: string;
  readonly host: string;
  readonly subset: string;
  readonly port: number;
  readonly notFound: boolean;
  readonly notFoundReason?: string;
  readonly passthrough: boolean;
  readonly policy: ClusterPolicy;
  readonly endpoints: EndpointSet;
  readonly chooser: HostChooser;
  readonly outlier?: OutlierDetector;
  readonly admission: Admission;
  readonly signature: string;

  constructor(fields: Omit<Cluster, "describe">) {
    this.name = fields.name;
    this.host = fields.host;
    this.subset = fields.subset;
    this.port = fields.port;
    this.notFound = fields.notFound;
    if (fields.notFoundReason) this.notFoundReason = fields.notFoundReason;
    this.passthrough = fields.passthrough;
    this.policy = fields.policy;
    this.endpoints = fields.endpoints;
    this.chooser = fields.chooser;
    if (fields.outlier) this.outlier = fields.outlier;
    this.admission = fields.admission;
    this.signature = fields.signature;
  }

  describe(): Record<string, unknown> {
    return {
      name: this.name,
      host: this.host,
      subset: this.subset,
      port: this.port,
      ...(this.notFound ? { notFound: this.notFoundReason ?? true } : {}),
      ...(this.passthrough ? { passthrough: true } : {}),
      policy: this.policy,
      circuitBreakers: this.admission.describe(),
      endpoints: this.endpoints.endpoints.map((e) => ({
        address: e.key,
        locality: e.localityKey,
        weight: e.weight,
        health: e.health,
        ejected: e.outlier.ejected,
        active: e.active,
      })),
    };
  }
}

interface ClusterContext {
  proxy: ProxyIdentity;
  services: Map<string, ServiceInfo>;
  rule(host: string): MergedRule | undefined;
  random?: RandomSource;
  previous?: CompiledConfig;
}

function endpointPort(inst: ServiceInstance, svc: ServiceInfo, port: number): number {
  const ports = inst.ports;
  if (ports) {
    const byNumber = ports[String(port)];
    if (byNumber !== undefined) return byNumber;
    const sp = svc.ports.find((p) => p.number === port);
    if (sp && ports[sp.name] !== undefined) return ports[sp.name];
  }
  return inst.port;
}

function buildCluster(
  ctx: ClusterContext,
  host: string,
  subsetName: string,
  port: number,
): Cluster {
  const name = clusterName(host, subsetName, port);
  const svc = ctx.services.get(host.toLowerCase());
  const rule = ctx.rule(host);
  let notFoundReason: string | undefined;
  let subset: Subset | undefined;
  if (svc === undefined) {
    notFoundReason = `unknown destination host ${host}`;
  } else if (subsetName !== "") {
    subset = rule?.spec.subsets.find((s) => s.name === subsetName);
    if (subset === undefined) {
      notFoundReason = `subset ${subsetName} of ${host} is not defined by any visible ` +
        `DestinationRule`;
    }
  }
  const policy = resolvePolicy(rule, subset, port);
  const inits = [];
  if (svc && notFoundReason === undefined) {
    for (const inst of svc.instances) {
      if (subset && !labelsSelect(subset.labels, inst.labels)) continue;
      inits.push({
        address: inst.address,
        port: endpointPort(inst, svc, port),
        labels: inst.labels,
        locality: inst.locality ? parseLocality(inst.locality) : undefined,
        weight: inst.weight,
        serviceAccount: inst.serviceAccount,
        source: inst.source,
      });
    }
  }
  const passthrough = policy.loadBalancer.simple === "PASSTHROUGH" ||
    (svc !== undefined && svc.instances.length === 0 &&
      (svc.resolution === "NONE" || svc.resolution === "DYNAMIC_DNS"));
  const signature = JSON.stringify([
    policy,
    inits,
    ctx.proxy.locality ?? "",
    ctx.proxy.labels,
    notFoundReason ?? "",
    passthrough,
  ]);
  const prior = ctx.previous?.cluster(name);
  if (prior && prior.signature === signature) return prior;

  const endpoints = new EndpointSet(inits);
  if (prior) {
    // Same cluster, changed endpoints or policy: keep each surviving endpoint's health state.
    for (const e of endpoints.endpoints) {
      const old = prior.endpoints.get(e.key);
      if (!old) continue;
      e.health = old.health;
      Object.assign(e.outlier, old.outlier);
    }
    endpoints.version++;
  }
  const lb = policy.loadBalancer;
  const newBalancer = lb.simple === "PASSTHROUGH"
    ? balancerFactory(undefined, { random: ctx.random })
    : balancerFactory(lb, { random: ctx.random });
  const outlier = policy.outlierDetection
    ? new OutlierDetector(endpoints, policy.outlierDetection)
    : undefined;
  const chooser = createHostChooser(endpoints, {
    newBalancer,
    clientLocality: ctx.proxy.locality ? parseLocality(ctx.proxy.locality) : undefined,
    clientLabels: ctx.proxy.labels,
    locality: lb.localityLbSetting,
    outlierDetection: policy.outlierDetection,
    random: ctx.random,
  });
  return new ClusterImpl({
    name,
    host,
    subset: subsetName,
    port,
    notFound: notFoundReason !== undefined,
    notFoundReason,
    passthrough,
    policy,
    endpoints,
    chooser,
    outlier,
    admission: new Admission(limitsFrom(policy.connectionPool)),
    signature,
  });
}

/** Distinct request ports one port-less destination builds clusters for. */
const MAX_PORTS_PER_DESTINATION = 16;

class Destination implements RouteDestination {
  readonly host: string;
  readonly subset: string;
  readonly port?: number;
  readonly weight: number;
  readonly headers?: CompiledHeaders;
  readonly #byPort = new Map<number, Cluster>();
  readonly #resolve: (host: string, subset: string, port: number) => Cluster;

  constructor(
    fields: {
      host: string;
      subset: string;
      port?: number;
      weight: number;
      headers?: CompiledHeaders;
    },
    resolve: (host: string, subset: string, port: number) => Cluster,
  ) {
    this.host = fields.host;
    this.subset = fields.subset;
    if (fields.port) this.port = fields.port;
    this.weight = fields.weight;
    if (fields.headers) this.headers = fields.headers;
    this.#resolve = resolve;
  }

  clusterFor(port: number): Cluster {
    const p = this.port ?? port;
    let c = this.#byPort.get(p);
    if (c === undefined) {
      // Ports come from clients' Host headers: past a few, reuse the first cluster built.
      if (this.#byPort.size >= MAX_PORTS_PER_DESTINATION) {
        return this.#byPort.values().next().value!;
      }
      c = this.#resolve(this.host, this.subset, p);
      this.#byPort.set(p, c);
    }
    return c;
  }
}

// ---------------------------------------------------------------- route tables

class Table implements RouteTable {
  readonly name: string;
  readonly virtualHosts: VirtualHost[] = [];
  readonly exact = new Map<string, VirtualHost>();
  /** `[".suffix", vhost]`, most specific first. */
  wildcards: [string, VirtualHost][] = [];
  catchAll?: VirtualHost;
  readonly #cache = new Map<string, VirtualHost | null>();

  constructor(name: string) {
    this.name = name;
  }

  lookup(authority: string): VirtualHost | undefined {
    const cached = this.#cache.get(authority);
    if (cached !== undefined) return cached ?? undefined;
    const host = authorityHost(authority).toLowerCase();
    let found = this.exact.get(host);
    if (found === undefined) {
      for (const [suffix, vhost] of this.wildcards) {
        if (host.length > suffix.length && host.endsWith(suffix)) {
          found = vhost;
          break;
        }
      }
    }
    found ??= this.catchAll;
    // Bounded: authorities come from clients.
    if (this.#cache.size >= 4096) this.#cache.clear();
    this.#cache.set(authority, found ?? null);
    return found;
  }

  /** Registers `host` for `vhost` unless already taken; returns whether it was added. */
  add(host: string, vhost: VirtualHost): boolean {
    const key = host.toLowerCase();
    if (key === "*") {
      if (this.catchAll) return false;
      this.catchAll = vhost;
      return true;
    }
    if (isWildcard(key)) {
      if (this.wildcards.some(([s]) => s === key.slice(1))) return false;
      this.wildcards.push([key.slice(1), vhost]);
      return true;
    }
    if (this.exact.has(key)) return false;
    this.exact.set(key, vhost);
    return true;
  }

  finish(): void {
    this.wildcards.sort((a, b) => (isMoreSpecific(`*${a[0]}`, `*${b[0]}`) ? -1 : 1));
  }
}

function makeVirtualHost(name: string, domains: string[], routes: CompiledRoute[]): VirtualHost {
  const vhost = { name, domains, routes, results: [] as RouteMatch[] };
  for (const route of routes) {
    vhost.results.push(Object.freeze({ kind: "route" as const, route, virtualHost: vhost }));
  }
  return vhost;
}

/**
 * The short forms of a Kubernetes-style FQDN a caller in `namespace` may use (SEMANTICS §1):
 * same namespace `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<first domain label>`; another
 * namespace the same without the bare `name`.
 */
export function hostAliases(host: string, namespace: string, domain: string): string[] {
  const suffix = `.svc.${domain}`;
  if (!host.endsWith(suffix) || isWildcard(host)) return [];
  const head = host.slice(0, -suffix.length); // name.ns
  const dot = head.indexOf(".");
  if (dot <= 0 || head.indexOf(".", dot + 1) >= 0) return [];
  const first = domain.split(".")[0];
  const out = [head, `${head}.svc`, `${head}.svc.${first}`];
  if (head.slice(dot + 1) === namespace) out.unshift(head.slice(0, dot));
  return out;
}

// ---------------------------------------------------------------- the compiler

class Compiler {
  readonly snapshot: Snapshot;
  readonly proxy: ProxyIdentity;
  readonly options: CompileOptions;
  readonly root: string;
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  readonly services = new Map<string, ServiceInfo>();
  readonly drsByNamespace = new Map<string, DR[]>();
  /** Per namespace: exact-host DRs by lower-case host, and the wildcard ones. */
  readonly drIndex = new Map<string, { exact: Map<string, DR[]>; wildcard: DR[] }>();
  readonly retryCache = new Map<string, RetryPolicy>();
  readonly ruleCache = new Map<string, MergedRule | undefined>();
  readonly clusterCache = new Map<string, Cluster>();
  readonly vsList: VS[] = [];
  readonly gatewayNames: string[] = [];
  readonly clusterContext: ClusterContext;
  readonly resolveCluster: (host: string, subset: string, port: number) => Cluster;

  constructor(snapshot: Snapshot, options: CompileOptions) {
    this.snapshot = snapshot;
    this.proxy = snapshot.proxy;
    this.options = options;
    this.root = options.rootNamespace ?? ROOT_NAMESPACE;
    this.clusterContext = {
      proxy: this.proxy,
      services: this.services,
      rule: (host) => this.rule(host),
      random: options.random,
      previous: options.previous,
    };
    this.resolveCluster = (host, subset, port) => this.cluster(host, subset, port);
    this.index();
  }

  cluster(host: string, subset: string, port: number): Cluster {
    const name = clusterName(host, subset, port);
    let c = this.clusterCache.get(name);
    if (c === undefined) {
      c = buildCluster(this.clusterContext, host, subset, port);
      this.clusterCache.set(name, c);
    }
    return c;
  }

  index(): void {
    for (const inst of this.snapshot.instances) {
      const key = inst.host.toLowerCase();
      let svc = this.services.get(key);
      if (!svc) {
        svc = {
          host: inst.host,
          namespace: inst.namespace,
          instances: [],
          ports: [],
          addresses: [],
        };
        this.services.set(key, svc);
      }
      svc.instances.push(inst);
    }
    for (const r of this.snapshot.resources) {
      switch (r.kind) {
        case "ServiceEntry":
          for (const host of r.spec.hosts) {
            const key = host.toLowerCase();
            let svc = this.services.get(key);
            if (!svc) {
              svc = {
                host,
                namespace: r.metadata.namespace,
                instances: [],
                ports: [],
                addresses: [],
              };
              this.services.set(key, svc);
            }
            svc.namespace = r.metadata.namespace;
            svc.ports = r.spec.ports;
            svc.resolution = r.spec.resolution;
            svc.addresses = r.spec.addresses;
          }
          break;
        case "DestinationRule": {
          const list = this.drsByNamespace.get(r.metadata.namespace) ?? [];
          list.push(r);
          this.drsByNamespace.set(r.metadata.namespace, list);
          break;
        }
        case "VirtualService":
          this.vsList.push(r);
          break;
        case "Gateway":
          this.gatewayNames.push(qualify(r));
          break;
      }
    }
    for (const [ns, list] of this.drsByNamespace) {
      list.sort(byAge);
      const entry = { exact: new Map<string, DR[]>(), wildcard: [] as DR[] };
      for (const dr of list) {
        if (isWildcard(dr.spec.host)) {
          entry.wildcard.push(dr);
          continue;
        }
        const key = dr.spec.host.toLowerCase();
        const same = entry.exact.get(key) ?? [];
        same.push(dr);
        entry.exact.set(key, same);
      }
      this.drIndex.set(ns, entry);
    }
    this.vsList.sort(byNamespaceName);
    this.gatewayNames.sort();
  }

  /** The merged DestinationRule for `host` seen from this proxy (SEMANTICS §3.1). */
  rule(host: string): MergedRule | undefined {
    const key = host.toLowerCase();
    if (this.ruleCache.has(key)) return this.ruleCache.get(key);
    const client = this.proxy.namespace;
    const svcNs = this.services.get(key)?.namespace;
    let result: MergedRule | undefined;
    for (const ns of [client, svcNs, this.root]) {
      if (ns === undefined) continue;
      const index = this.drIndex.get(ns);
      if (index === undefined) continue;
      const matching = [
        ...(index.exact.get(key) ?? []),
        ...index.wildcard.filter((dr) => hostMatches(dr.spec.host, key)),
      ];
      const candidates = matching.filter((dr) => {
        if (dr.spec.workloadSelector) {
          return dr.metadata.namespace === client &&
            labelsSelect(dr.spec.workloadSelector.matchLabels, this.proxy.labels);
        }
        if (ns === client) return true;
        const to = dr.spec.exportTo;
        return to.includes("*") || to.includes(client);
      });
      if (candidates.length === 0) continue;
      let best = candidates[0].spec.host;
      for (const dr of candidates) if (isMoreSpecific(dr.spec.host, best)) best = dr.spec.host;
      const same = candidates.filter((dr) => dr.spec.host === best);
      const subsets: Subset[] = [];
      for (const dr of same) {
        for (const s of dr.spec.subsets) {
          if (!subsets.some((x) => x.name === s.name)) subsets.push(s);
        }
      }
      const withPolicy = same.find((dr) => !isEmptyPolicy(dr.spec.trafficPolicy)) ?? same[0];
      result = {
        spec: { trafficPolicy: withPolicy.spec.trafficPolicy, subsets },
        source: same.map(qualify),
      };
      break;
    }
    this.ruleCache.set(key, result);
    return result;
  }

  outboundPolicy(): "ALLOW_ANY" | "REGISTRY_ONLY" {
    const sidecars = this.snapshot.resources.filter((r): r is NormalizedOf<"Sidecar"> =>
      r.kind === "Sidecar"
    );
    const proxy = this.proxy;
    const pick =
      sidecars.filter((s) =>
        s.metadata.namespace === proxy.namespace && s.spec.workloadSelector &&
        labelsSelect(s.spec.workloadSelector.labels, proxy.labels)
      ).sort(byNamespaceName)[0] ??
        sidecars.filter((s) => s.metadata.namespace === proxy.namespace && !s.spec.workloadSelector)
          .sort(byNamespaceName)[0] ??
        sidecars.filter((s) => s.metadata.namespace === this.root && !s.spec.workloadSelector)
          .sort(byNamespaceName)[0];
    if (proxy.mode === "sidecar" && pick?.spec.outboundTrafficPolicy) {
      return pick.spec.outboundTrafficPolicy.mode;
    }
    return this.snapshot.mesh.outboundTrafficPolicy;
  }

  // ---- routes

  /** Compiles a VirtualService's HTTP rules for one binding context (`mesh` or a gateway). */
  compileRoutes(vs: VS, context: string): CompiledRoute[] {
    const routes: CompiledRoute[] = [];
    const id = qualify(vs);
    vs.spec.http.forEach((rule, i) => {
      const where = `VirtualService ${id}: spec.http[${i}]`;
      if (rule.delegate) {
        this.warnings.push(`${where}.delegate: delegation is not supported yet; rule ignored`);
        return;
      }
      const blocks: (HTTPMatchRequest | undefined)[] = rule.match.length ? rule.match : [undefined];
      blocks.forEach((block, j) => {
        if (block && !this.selects(block, context)) return;
        const at = block ? `${where}.match[${j}]` : where;
        try {
          routes.push(this.compileRoute(vs, rule, block, at));
        } catch (error) {
          this.problems.push(`${at}: ${(error as Error).message}`);
        }
      });
    });
    return routes;
  }

  /**
   * Whether a match block applies to this proxy in `context` (SEMANTICS §2.2, trap 13):
   * `sourceLabels`/`sourceNamespace` select sidecars only, so on a gateway proxy they are
   * ignored and the block applies (Istio would test them against the gateway's own labels).
   */
  selects(block: HTTPMatchRequest, context: string): boolean {
    if (block.gateways?.length) return block.gateways.includes(context);
    if (context !== "mesh") return true;
    if (!labelsSelect(block.sourceLabels, this.proxy.labels)) return false;
    return !block.sourceNamespace || block.sourceNamespace === this.proxy.namespace;
  }

  compileRoute(
    vs: VS,
    rule: HTTPRoute,
    block: HTTPMatchRequest | undefined,
    where: string,
  ): CompiledRoute {
    const matcher = new RequestMatcher(block);
    if (matcher.never) {
      this.warnings.push(`${where}: JWT claim matches are not supported; the block never matches`);
    }
    const name = rule.name && block?.name
      ? `${rule.name}.${block.name}`
      : rule.name ?? block?.name ?? "";
    const headers = compileHeaders(rule.headers);
    const action = this.compileAction(rule, matcher.uriInfo);
    const retries = rule.retries === null ? { attempts: 0 } : rule.retries;
    const route: CompiledRoute = {
      name,
      virtualService: qualify(vs),
      matcher,
      uriMatch: matcher.uriInfo,
      action,
      timeout: rule.timeout,
      retryPolicy: this.retryPolicy(retries),
      mirrors: rule.mirrors.map((m) => ({
        destination: this.destination(m.destination, 100, undefined),
        percentage: m.percentage,
      })),
    };
    const extra = route as {
      -readonly [K in keyof CompiledRoute]: CompiledRoute[K];
    };
    const rewrite = rule.rewrite || headers?.authority
      ? compileRewrite(rule.rewrite ?? {}, matcher.uriInfo, { authority: headers?.authority })
      : undefined;
    if (rewrite) extra.rewrite = rewrite;
    if (rule.fault) extra.fault = compileFault(rule.fault);
    if (rule.corsPolicy) extra.cors = compileCors(rule.corsPolicy);
    if (headers) extra.headers = headers;
    return route;
  }

  /** Compiled policies are immutable: equal configurations share one. */
  retryPolicy(retries: RetryConfig | undefined): RetryPolicy {
    const key = JSON.stringify(retries) ?? "default";
    let policy = this.retryCache.get(key);
    if (policy === undefined) {
      policy = compileRetryPolicy(retries, { where: "retries" });
      this.retryCache.set(key, policy);
    }
    return policy;
  }

  compileAction(rule: HTTPRoute, uriMatch: UriMatchInfo): RouteAction {
    if (rule.redirect) {
      return { kind: "redirect", redirect: { ...rule.redirect, uriMatch } };
    }
    if (rule.directResponse) {
      const body = rule.directResponse.body;
      const bytes = body?.string !== undefined
        ? new TextEncoder().encode(body.string)
        : body?.bytes !== undefined
        ? Uint8Array.from(atob(body.bytes), (c) => c.charCodeAt(0))
        : new Uint8Array(0);
      return { kind: "direct", status: rule.directResponse.status, body: bytes };
    }
    if (rule.route.length === 0) {
      throw new Error("the rule has no route, redirect or directResponse");
    }
    const destinations = rule.route.map((d) =>
      this.destination(d.destination, d.weight, compileHeaders(d.headers))
    );
    return {
      kind: "route",
      destinations,
      cumulative: cumulativeWeights(destinations.map((d) => d.weight)),
    };
  }

  destination(
    dest: { host: string; subset?: string; port?: { number: number } },
    weight: number,
    headers: CompiledHeaders | undefined,
  ): RouteDestination {
    const d = new Destination(
      { host: dest.host, subset: dest.subset ?? "", port: dest.port?.number, weight, headers },
      this.resolveCluster,
    );
    // Build the clusters traffic will most likely use now, so /clusters shows them.
    for (const port of this.likelyPorts(dest.host, dest.port?.number)) d.clusterFor(port);
    return d;
  }

  likelyPorts(host: string, fixed: number | undefined): number[] {
    if (fixed) return [fixed];
    const ports = new Set<number>([80]);
    for (const p of this.services.get(host.toLowerCase())?.ports ?? []) ports.add(p.number);
    for (const p of this.rule(host)?.spec.trafficPolicy.portLevelSettings ?? []) {
      ports.add(p.port.number);
    }
    return [...ports];
  }

  defaultRoute(host: string): CompiledRoute {
    const destination = this.destination({ host }, 100, undefined);
    const matcher = new RequestMatcher();
    return {
      name: "default",
      virtualService: "",
      matcher,
      uriMatch: matcher.uriInfo,
      action: { kind: "route", destinations: [destination], cumulative: cumulativeWeights([100]) },
      timeout: DEFAULT_ROUTE_TIMEOUT_MS,
      retryPolicy: this.retryPolicy(undefined),
      mirrors: [],
    };
  }

  // ---- tables

  sidecarTable(): Table {
    const table = new Table("mesh");
    const domain = this.snapshot.mesh.domain;
    const ns = this.proxy.namespace;
    const owner = new Map<string, VS>();
    const vhostOf = new Map<VS, VirtualHost>();
    for (const vs of this.vsList) {
      if (!vs.spec.gateways.includes("mesh")) continue;
      const mine: string[] = [];
      for (const host of vs.spec.hosts) {
        const key = host.toLowerCase();
        const first = owner.get(key);
        if (first) {
          this.warnings.push(
            `VirtualService ${qualify(vs)}: host ${host} is already routed by VirtualService ` +
              `${qualify(first)}; sidecars do not merge VirtualServices for one host, so ` +
              `${qualify(vs)} is ignored for it (merge the two)`,
          );
          continue;
        }
        owner.set(key, vs);
        mine.push(key);
      }
      if (mine.length === 0) continue;
      const vhost = makeVirtualHost(qualify(vs), mine, this.compileRoutes(vs, "mesh"));
      vhostOf.set(vs, vhost);
      for (const key of mine) table.add(key, vhost);
    }
    // Services without a VirtualService of their own: a wildcard VS, else a default route.
    const wildcardOwners = [...owner.entries()].filter(([h]) => isWildcard(h));
    const serviceHosts = [...this.services.values()];
    for (const svc of serviceHosts) {
      const key = svc.host.toLowerCase();
      if (owner.has(key)) continue;
      let best: [string, VS] | undefined;
      for (const entry of wildcardOwners) {
        if (hostMatches(entry[0], key) && (!best || isMoreSpecific(entry[0], best[0]))) {
          best = entry;
        }
      }
      if (best) {
        const vhost = vhostOf.get(best[1])!;
        (vhost.domains as string[]).push(key);
        table.add(key, vhost);
        continue;
      }
      const vhost = makeVirtualHost(`default:${key}`, [key], [this.defaultRoute(svc.host)]);
      table.add(key, vhost);
    }
    // Short-name aliases and ServiceEntry addresses, after every declared host.
    for (const vhost of this.collect(table)) {
      for (const host of [...vhost.domains]) {
        for (const alias of hostAliases(host, ns, domain)) {
          if (table.add(alias, vhost)) (vhost.domains as string[]).push(alias);
        }
        for (const address of this.services.get(host)?.addresses ?? []) {
          if (!address.includes("/") && table.add(address, vhost)) {
            (vhost.domains as string[]).push(address);
          }
        }
      }
    }
    table.finish();
    return table;
  }

  /** The distinct virtual hosts registered in `table` (fills `virtualHosts`). */
  collect(table: Table): VirtualHost[] {
    const seen = new Set<VirtualHost>();
    for (const v of table.exact.values()) seen.add(v);
    for (const [, v] of table.wildcards) seen.add(v);
    if (table.catchAll) seen.add(table.catchAll);
    table.virtualHosts.push(...seen);
    return table.virtualHosts;
  }

  gatewayTable(gateway: string): Table {
    const table = new Table(gateway);
    const byHost = new Map<string, { vs: VS; routes: CompiledRoute[] }[]>();
    for (const vs of this.vsList) {
      if (!vs.spec.gateways.includes(gateway)) continue;
      const routes = this.compileRoutes(vs, gateway);
      for (const host of vs.spec.hosts) {
        const key = host.toLowerCase();
        const list = byHost.get(key) ?? [];
        list.push({ vs, routes });
        byHost.set(key, list);
      }
    }
    for (const [host, list] of byHost) {
      let routes = list[0].routes;
      if (list.length > 1) {
        // Gateways merge: routes concatenated, catch-alls moved to the end (stable).
        const all = list.flatMap((x) => x.routes);
        routes = [
          ...all.filter((r) => !r.matcher.catchAll),
          ...all.filter((r) => r.matcher.catchAll),
        ];
      }
      table.add(host, makeVirtualHost(list.map((x) => qualify(x.vs)).join(","), [host], routes));
    }
    this.collect(table);
    table.finish();
    return table;
  }
}

class Compiled implements CompiledConfig {
  readonly version: string;
  readonly proxy: ProxyIdentity;
  readonly outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  readonly warnings: readonly string[];
  readonly gatewayNames: readonly string[];
  readonly #mesh?: RouteTable;
  readonly #gateways: Map<string, RouteTable>;
  readonly #compiler: Compiler;

  constructor(
    compiler: Compiler,
    mesh: RouteTable | undefined,
    gateways: Map<string, RouteTable>,
  ) {
    this.version = compiler.snapshot.version;
    this.proxy = compiler.proxy;
    this.outboundTrafficPolicy = compiler.outboundPolicy();
    this.warnings = Object.freeze([...compiler.warnings]);
    this.gatewayNames = Object.freeze([...compiler.gatewayNames]);
    this.#mesh = mesh;
    this.#gateways = gateways;
    this.#compiler = compiler;
    // The compiler lives on only to build clusters on demand; drop what it no longer needs.
    compiler.clusterContext.previous = undefined;
  }

  routeTableFor(gateway?: string): RouteTable | undefined {
    if (gateway === undefined || gateway === "mesh") return this.#mesh;
    return this.#gateways.get(gateway);
  }

  cluster(name: string): Cluster | undefined {
    return this.#compiler.clusterCache.get(name);
  }

  clusterFor(host: string, subset: string, port: number): Cluster {
    return this.#compiler.cluster(host, subset, port);
  }

  clusters(): Cluster[] {
    return [...this.#compiler.clusterCache.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  describe(): Record<string, unknown> {
    const table = (t: RouteTable) => ({
      name: t.name,
      virtualHosts: t.virtualHosts.map((v) => ({
        name: v.name,
        domains: v.domains,
        routes: v.routes.map((r) => ({
          name: r.name,
          virtualService: r.virtualService,
          match: r.matcher.describe(),
          action: r.action.kind === "route"
            ? {
              route: r.action.destinations.map((d) => ({
                host: d.host,
                subset: d.subset || undefined,
                port: d.port,
                weight: d.weight,
              })),
            }
            : r.action.kind === "redirect"
            ? { redirect: { ...r.action.redirect, uriMatch: undefined } }
            : { directResponse: { status: r.action.status, bodyBytes: r.action.body.length } },
          timeoutMs: r.timeout,
          retries: { attempts: r.retryPolicy.numRetries, retryOn: r.retryPolicy.retryOn },
          ...(r.fault ? { fault: r.fault } : {}),
          ...(r.rewrite ? { rewrite: { uri: r.rewrite.uri, authority: r.rewrite.authority } } : {}),
          ...(r.mirrors.length
            ? { mirrors: r.mirrors.map((m) => ({ percentage: m.percentage })) }
            : {}),
        })),
      })),
    });
    return {
      version: this.version,
      proxy: this.proxy,
      outboundTrafficPolicy: this.outboundTrafficPolicy,
      warnings: this.warnings,
      routeTables: [
        ...(this.#mesh ? [table(this.#mesh)] : []),
        ...[...this.#gateways.values()].map(table),
      ],
      clusters: this.clusters().map((c) => c.describe()),
    };
  }
}

/**
 * Compiles a snapshot. Throws {@linkcode SnapshotCompileError} listing every problem; on success
 * the result is immutable (clusters built later on demand are cached inside it).
 */
export function compileSnapshot(snapshot: Snapshot, options: CompileOptions = {}): CompiledConfig {
  const compiler = new Compiler(snapshot, options);
  let mesh: RouteTable | undefined;
  const gateways = new Map<string, RouteTable>();
  if (snapshot.proxy.mode === "sidecar") {
    mesh = compiler.sidecarTable();
  } else {
    for (const name of compiler.gatewayNames) gateways.set(name, compiler.gatewayTable(name));
  }
  if (compiler.problems.length > 0) {
    throw new SnapshotCompileError(snapshot.version, compiler.problems);
  }
  // Clusters the previous config built on demand keep their state too, while their host exists.
  for (const prior of options.previous?.clusters() ?? []) {
    if (compiler.services.has(prior.host.toLowerCase())) {
      compiler.cluster(prior.host, prior.subset, prior.port);
    }
  }
  return new Compiled(compiler, mesh, gateways);
}
