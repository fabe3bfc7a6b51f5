/**
 * The snapshot builder: a pure function of (configuration, service
 * instances, mesh settings) and one proxy's identity, giving that proxy's
 * {@link Snapshot} — only what it needs, with a content-derived version.
 *
 * Sidecars get the VirtualServices bound to `mesh`, DestinationRules and
 * ServiceEntries exported to their namespace (`exportTo`: `*`, `.`, `~`,
 * namespace names; SEMANTICS.md §1), narrowed by the Sidecar resource that
 * selects them (§6: egress `ns/dnsName` hosts with `*`, `.`, `~` and `~ns`
 * exclusions; an imported VirtualService imports its destination hosts).
 * Gateway resources are never sent to sidecars. Gateways get the Gateway
 * resources whose `selector` matches their labels (§5), the VirtualServices
 * bound to those Gateways (and their delegates), and the DestinationRules,
 * ServiceEntries and instances of the hosts those VirtualServices route to —
 * every exported service when a selected Gateway has an AUTO_PASSTHROUGH
 * server, which routes by SNI to any service.
 *
 * Every proxy gets all PeerAuthentications (a client needs its destinations'
 * mTLS mode), the AuthorizationPolicies that apply to it (its namespace or
 * the root namespace, selector matching its labels), and the one Sidecar
 * resource that selects it. WorkloadEntries are not sent: they arrive as
 * instances.
 *
 * The function is pure; it memoizes per input object (an index of the input,
 * and one result per *scope* — proxies of the same mode, namespace and
 * selecting Sidecar/Gateways share resource and instance arrays), so building
 * for a thousand proxies costs little more than building for the distinct
 * scopes. Inputs and results must be treated as immutable.
 *
 * @module
 */

import {
  hostMatches,
  isWildcard,
  type KindName,
  type NormalizedOf,
  type NormalizedResource,
  type VirtualServiceSpec,
} from "../config/mod.ts";
import { canonicalJson, hash64 } from "./hash.ts";
import type { MeshSettings, ProxyIdentity, ServiceInstance, Snapshot } from "./snapshot.ts";

/** Istio's root namespace: mesh-wide Sidecar defaults and policies live there. */
export const ROOT_NAMESPACE = "istio-system";

/** What the builder works from: the whole mesh's configuration and instances. */
export interface SnapshotInput {
  /** Normalized resources (any order; the snapshot sorts them by kind, namespace, name). */
  resources: readonly NormalizedResource[];
  /** Every instance of every service (any order). */
  instances: readonly ServiceInstance[];
  mesh: MeshSettings;
}

type VS = NormalizedOf<"VirtualService">;
type DR = NormalizedOf<"DestinationRule">;
type SE = NormalizedOf<"ServiceEntry">;
type GW = NormalizedOf<"Gateway">;
type SC = NormalizedOf<"Sidecar">;
type AP = NormalizedOf<"AuthorizationPolicy">;

/** A service: a host defined in a namespace (by registrations and/or ServiceEntries). */
interface Service {
  namespace: string;
  /** Lower-cased host. */
  host: string;
  /** Registered services are visible everywhere (their exportTo is `*`). */
  registered: boolean;
  /** ServiceEntries of this namespace that define the host. */
  entries: SE[];
  instances: ServiceInstance[];
}

/** The input, sorted and indexed once; scopes are cached on it. */
interface Index {
  vs: VS[];
  dr: DR[];
  se: SE[];
  gw: GW[];
  sidecars: SC[];
  pa: NormalizedResource[];
  ap: AP[];
  services: Service[];
  vsByName: Map<string, VS>;
  meshJson: string;
  scopes: Map<string, Scope>;
}

/** The part of a snapshot every proxy in one scope shares. */
interface Scope {
  resources: NormalizedResource[];
  instances: ServiceInstance[];
  /** Hash of the resources and instances. */
  contentHash: string;
}

const indexes = new WeakMap<SnapshotInput, Index>();
const itemHashes = new WeakMap<object, string>();

/** Builds the snapshot of `proxy`. Pure: equal inputs give equal snapshots (and versions). */
export function buildSnapshot(input: SnapshotInput, proxy: ProxyIdentity): Snapshot {
  const index = indexOf(input);
  const key = scopeKey(index, proxy);
  let scope = index.scopes.get(key);
  if (!scope) {
    scope = proxy.mode === "gateway" ? gatewayScope(index, proxy) : sidecarScope(index, proxy);
    index.scopes.set(key, scope);
  }
  const version = hash64(`${canonicalJson(proxy)}|${index.meshJson}|${scope.contentHash}`);
  return {
    version,
    proxy,
    mesh: input.mesh,
    resources: scope.resources,
    instances: scope.instances,
  };
}

/**
 * A key naming the proxy's scope: proxies with the same key get the same
 * resources and instances. Exposed for caches of encoded snapshots.
 */
export function snapshotScopeKey(input: SnapshotInput, proxy: ProxyIdentity): string {
  return scopeKey(indexOf(input), proxy);
}

// ---------------------------------------------------------------- index

function indexOf(input: SnapshotInput): Index {
  let index = indexes.get(input);
  if (!index) {
    index = buildIndex(input);
    indexes.set(input, index);
  }
  return index;
}

function buildIndex(input: SnapshotInput): Index {
  const resources = [...input.resources].sort(compareResources);
  const index: Index = {
    vs: [],
    dr: [],
    se: [],
    gw: [],
    sidecars: [],
    pa: [],
    ap: [],
    services: [],
    vsByName: new Map(),
    meshJson: canonicalJson(input.mesh),
    scopes: new Map(),
  };
  for (const r of resources) {
    switch (r.kind) {
      case "VirtualService":
        index.vs.push(r);
        index.vsByName.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
        break;
      case "DestinationRule":
        index.dr.push(r);
        break;
      case "ServiceEntry":
        index.se.push(r);
        break;
      case "Gateway":
        index.gw.push(r);
        break;
      case "Sidecar":
        index.sidecars.push(r);
        break;
      case "PeerAuthentication":
        index.pa.push(r);
        break;
      case "AuthorizationPolicy":
        index.ap.push(r);
        break;
    }
  }
  const services = new Map<string, Service>();
  const serviceOf = (namespace: string, host: string) => {
    const lower = host.toLowerCase();
    const key = `${namespace}\u0000${lower}`;
    let service = services.get(key);
    if (!service) {
      service = { namespace, host: lower, registered: false, entries: [], instances: [] };
      services.set(key, service);
    }
    return service;
  };
  for (const se of index.se) {
    for (const host of se.spec.hosts) serviceOf(se.metadata.namespace, host).entries.push(se);
  }
  const instances = [...input.instances].sort(compareInstances);
  for (const instance of instances) {
    const service = serviceOf(instance.namespace, instance.host);
    if (instance.source === "registry") service.registered = true;
    service.instances.push(instance);
  }
  index.services = [...services.values()];
  return index;
}

function compareResources(a: NormalizedResource, b: NormalizedResource): number {
  return compareText(a.kind, b.kind) || compareText(a.metadata.namespace, b.metadata.namespace) ||
    compareText(a.metadata.name, b.metadata.name);
}

function compareInstances(a: ServiceInstance, b: ServiceInstance): number {
  return compareText(a.host, b.host) || compareText(a.namespace, b.namespace) ||
    compareText(a.address, b.address) || a.port - b.port || compareText(a.source, b.source);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------- scopes

function scopeKey(index: Index, proxy: ProxyIdentity): string {
  // Everything else the scope depends on is the namespace and the selecting resources.
  const ap = index.ap.filter((p) => policyApplies(p, proxy)).map(nameOf).join(",");
  const dr = index.dr.filter((d) =>
    d.spec.workloadSelector !== undefined && drApplies(d, proxy.namespace, proxy.labels)
  ).map(nameOf).join(",");
  const policies = `${ap}|${dr}`;
  if (proxy.mode === "gateway") {
    const gateways = index.gw.filter((g) => selects(g.spec.selector, proxy.labels)).map(nameOf);
    return `gateway|${proxy.namespace}|${gateways.join(",")}|${policies}`;
  }
  const sidecar = selectSidecar(index.sidecars, proxy);
  return `sidecar|${proxy.namespace}|${sidecar ? nameOf(sidecar) : ""}|${policies}`;
}

/** Sidecar selection (SEMANTICS.md §6); ties go to the oldest, then by name. */
function selectSidecar(sidecars: readonly SC[], proxy: ProxyIdentity): SC | undefined {
  const pick = (candidates: SC[]) => candidates.sort(byAge)[0];
  const own = sidecars.filter((s) => s.metadata.namespace === proxy.namespace);
  return pick(own.filter((s) => {
    const wanted = selectorLabels(s.spec.workloadSelector);
    return wanted !== undefined && selects(wanted, proxy.labels);
  })) ??
    pick(own.filter((s) => selectorLabels(s.spec.workloadSelector) === undefined)) ??
    pick(sidecars.filter((s) =>
      s.metadata.namespace === ROOT_NAMESPACE &&
      selectorLabels(s.spec.workloadSelector) === undefined
    ));
}

function byAge(a: NormalizedResource, b: NormalizedResource): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  return compareText(ta, tb) || compareText(a.metadata.namespace, b.metadata.namespace) ||
    compareText(a.metadata.name, b.metadata.name);
}

/**
 * A selector's labels: `{matchLabels}` (v1beta1) or `{labels}` (the alpha
 * form Sidecar and ServiceEntry use); `undefined` when there is no selector.
 */
function selectorLabels(selector: unknown): Record<string, string> | undefined {
  if (selector === undefined || selector === null) return undefined;
  const s = selector as { matchLabels?: Record<string, string>; labels?: Record<string, string> };
  return s.matchLabels ?? s.labels ?? {};
}

/** Label selection: every wanted label present with the same value (empty selects all). */
function selects(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  for (const key in wanted) if (labels[key] !== wanted[key]) return false;
  return true;
}

function nameOf(r: NormalizedResource): string {
  return `${r.metadata.namespace}/${r.metadata.name}`;
}

/** Whether `exportTo` of a resource in `owner` makes it visible in `namespace` (§1). */
function exportedTo(exportTo: readonly string[], owner: string, namespace: string): boolean {
  if (exportTo.length === 0) return true;
  for (const to of exportTo) {
    if (to === "*" || to === namespace || (to === "." && owner === namespace)) return true;
  }
  return false;
}

function policyApplies(policy: AP, proxy: ProxyIdentity): boolean {
  const ns = policy.metadata.namespace;
  if (ns !== proxy.namespace && ns !== ROOT_NAMESPACE) return false;
  // Policies attached by targetRef are resolved by the proxy that holds them.
  if (policy.spec.targetRef || policy.spec.targetRefs?.length) return true;
  const wanted = selectorLabels(policy.spec.selector);
  return wanted === undefined || selects(wanted, proxy.labels);
}

function drApplies(dr: DR, namespace: string, labels: Record<string, string>): boolean {
  const owner = dr.metadata.namespace;
  const wanted = selectorLabels(dr.spec.workloadSelector);
  if (wanted !== undefined) return owner === namespace && selects(wanted, labels);
  return exportedTo(dr.spec.exportTo, owner, namespace);
}

/** Hosts overlap when either matches the other (Istio's `host.Name.Matches`). */
function overlaps(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/** A set of host patterns with fast exact lookups. */
class HostSet {
  readonly exact = new Set<string>();
  readonly wildcards: string[] = [];
  all = false;

  add(host: string): void {
    const lower = host.toLowerCase();
    if (lower === "*") this.all = true;
    else if (isWildcard(lower)) this.wildcards.push(lower);
    else this.exact.add(lower);
  }

  /** Whether `host` (possibly a wildcard) overlaps a member. */
  overlaps(host: string): boolean {
    if (this.all) return true;
    const lower = host.toLowerCase();
    if (!isWildcard(lower)) {
      if (this.exact.has(lower)) return true;
      return this.wildcards.some((w) => hostMatches(w, lower));
    }
    if (lower === "*") return this.exact.size > 0 || this.wildcards.length > 0;
    for (const e of this.exact) if (hostMatches(lower, e)) return true;
    return this.wildcards.some((w) => overlaps(w, lower));
  }
}

/** Destination hosts a VirtualService routes or mirrors to. */
function destinationHosts(spec: VirtualServiceSpec, out: HostSet): void {
  for (const rule of spec.http) {
    for (const r of rule.route) out.add(r.destination.host);
    for (const m of rule.mirrors) out.add(m.destination.host);
  }
  for (const rule of spec.tcp) for (const r of rule.route) out.add(r.destination.host);
  for (const rule of spec.tls) for (const r of rule.route) out.add(r.destination.host);
}

/** Adds the VirtualServices the given ones delegate to (one level, as Istio). */
function withDelegates(index: Index, list: VS[]): VS[] {
  const seen = new Set(list);
  const out = [...list];
  for (const vs of list) {
    for (const rule of vs.spec.http) {
      if (!rule.delegate) continue;
      const target = index.vsByName.get(`${rule.delegate.namespace}/${rule.delegate.name}`);
      if (target && !seen.has(target)) {
        seen.add(target);
        out.push(target);
      }
    }
  }
  return out;
}

/** One parsed Sidecar egress host: `ns/dnsName`. */
interface EgressHost {
  /** `*` for any namespace, else a namespace name. */
  namespace: string;
  host: string;
}

/** What a Sidecar resource imports; `undefined` = everything exported to the namespace. */
interface Imports {
  include: EgressHost[];
  exclude: EgressHost[];
}

function importsOf(sidecar: SC | undefined, proxyNamespace: string): Imports | undefined {
  if (!sidecar || sidecar.spec.egress.length === 0) return undefined;
  const imports: Imports = { include: [], exclude: [] };
  for (const listener of sidecar.spec.egress) {
    for (const entry of listener.hosts) {
      const slash = entry.indexOf("/");
      if (slash === -1) continue;
      let ns = entry.slice(0, slash);
      const host = entry.slice(slash + 1);
      // `~/host` imports nothing; `~ns/host` subtracts from what the others import.
      if (ns === "~") continue;
      const excluded = ns.startsWith("~");
      if (excluded) ns = ns.slice(1);
      // `.` is the proxy's namespace (for a root-namespace default, the workload's own).
      if (ns === ".") ns = proxyNamespace;
      (excluded ? imports.exclude : imports.include).push({ namespace: ns, host });
    }
  }
  return imports;
}

function egressMatches(list: readonly EgressHost[], namespace: string, host: string): boolean {
  for (const e of list) {
    if ((e.namespace === "*" || e.namespace === namespace) && overlaps(e.host, host)) return true;
  }
  return false;
}

function imported(imports: Imports, namespace: string, hosts: readonly string[]): boolean {
  const hit = (list: EgressHost[]) => hosts.some((h) => egressMatches(list, namespace, h));
  return hit(imports.include) && !hit(imports.exclude);
}

function serviceExported(service: Service, namespace: string): boolean {
  if (service.registered) return true;
  return service.entries.some((se) =>
    exportedTo(se.spec.exportTo, se.metadata.namespace, namespace)
  );
}

function sidecarScope(index: Index, proxy: ProxyIdentity): Scope {
  const ns = proxy.namespace;
  const sidecar = selectSidecar(index.sidecars, proxy);
  const imports = importsOf(sidecar, ns);
  let vs = index.vs.filter((v) =>
    v.spec.gateways.includes("mesh") && exportedTo(v.spec.exportTo, v.metadata.namespace, ns) &&
    (imports === undefined || imported(imports, v.metadata.namespace, v.spec.hosts))
  );
  if (imports === undefined) {
    const services = index.services.filter((s) => serviceExported(s, ns));
    return scopeOf(index, proxy, {
      vs,
      services,
      dr: index.dr.filter((d) => drApplies(d, ns, proxy.labels)),
      se: index.se.filter((s) => exportedTo(s.spec.exportTo, s.metadata.namespace, ns)),
      sidecar,
    });
  }
  vs = withDelegates(index, vs);
  const destinations = new HostSet();
  for (const v of vs) destinationHosts(v.spec, destinations);
  const services = index.services.filter((s) =>
    serviceExported(s, ns) &&
    (imported(imports, s.namespace, [s.host]) || destinations.overlaps(s.host))
  );
  return scopeFromServices(index, proxy, { vs, services, destinations, sidecar });
}

function gatewayScope(index: Index, proxy: ProxyIdentity): Scope {
  const ns = proxy.namespace;
  const gateways = index.gw.filter((g) => selects(g.spec.selector, proxy.labels));
  const names = new Set(gateways.map(nameOf));
  const vs = withDelegates(
    index,
    index.vs.filter((v) =>
      exportedTo(v.spec.exportTo, v.metadata.namespace, ns) &&
      v.spec.gateways.some((g) => names.has(g))
    ),
  );
  const destinations = new HostSet();
  const sniRouted = gateways.some((g) =>
    g.spec.servers.some((s) => s.tls?.mode === "AUTO_PASSTHROUGH")
  );
  if (sniRouted) destinations.add("*");
  for (const v of vs) destinationHosts(v.spec, destinations);
  const services = index.services.filter((s) =>
    serviceExported(s, ns) && destinations.overlaps(s.host)
  );
  return scopeFromServices(index, proxy, { vs, services, destinations, gateways });
}

/** A scope whose DestinationRules and ServiceEntries follow its imported services. */
function scopeFromServices(
  index: Index,
  proxy: ProxyIdentity,
  parts: { vs: VS[]; services: Service[]; destinations: HostSet; sidecar?: SC; gateways?: GW[] },
): Scope {
  const ns = proxy.namespace;
  const hosts = parts.destinations;
  const chosen = new Set<SE>();
  for (const service of parts.services) {
    hosts.add(service.host);
    for (const se of service.entries) {
      if (exportedTo(se.spec.exportTo, se.metadata.namespace, ns)) chosen.add(se);
    }
  }
  return scopeOf(index, proxy, {
    ...parts,
    dr: index.dr.filter((d) => drApplies(d, ns, proxy.labels) && hosts.overlaps(d.spec.host)),
    se: index.se.filter((s) => chosen.has(s)),
  });
}

const KIND_ORDER: readonly KindName[] = [
  "AuthorizationPolicy",
  "DestinationRule",
  "Gateway",
  "PeerAuthentication",
  "ServiceEntry",
  "Sidecar",
  "VirtualService",
];

function scopeOf(
  index: Index,
  proxy: ProxyIdentity,
  parts: {
    vs: VS[];
    services: Service[];
    dr: DR[];
    se: SE[];
    sidecar?: SC;
    gateways?: GW[];
  },
): Scope {
  const byKind: Record<string, readonly NormalizedResource[]> = {
    AuthorizationPolicy: index.ap.filter((p) => policyApplies(p, proxy)),
    DestinationRule: parts.dr,
    Gateway: parts.gateways ?? [],
    PeerAuthentication: index.pa,
    ServiceEntry: parts.se,
    Sidecar: parts.sidecar ? [parts.sidecar] : [],
    VirtualService: [...parts.vs].sort(compareResources),
  };
  const resources: NormalizedResource[] = [];
  for (const kind of KIND_ORDER) resources.push(...byKind[kind]);
  const services = [...parts.services].sort((a, b) =>
    compareText(a.host, b.host) || compareText(a.namespace, b.namespace)
  );
  const instances: ServiceInstance[] = [];
  for (const service of services) instances.push(...service.instances);
  let text = "";
  for (const r of resources) text += itemHash(r);
  text += "|";
  for (const i of instances) text += itemHash(i);
  return { resources, instances, contentHash: hash64(text) };
}

function itemHash(item: object): string {
  let hash = itemHashes.get(item);
  if (hash === undefined) {
    hash = hash64(canonicalJson(item));
    itemHashes.set(item, hash);
  }
  return hash;
}
