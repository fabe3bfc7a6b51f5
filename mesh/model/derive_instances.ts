/**
 * Instances that configuration defines: ServiceEntry endpoints (inline
 * `endpoints`, or the WorkloadEntries its `workloadSelector` selects in its
 * namespace). Pure functions of the resources and a DNS lookup table: the
 * control plane's registry recomputes them after every store change and DNS
 * refresh; the proxies' static `--config` source after every reload.
 *
 * @module
 */

import {
  isIP,
  normalize,
  type Resource,
  type ServiceEntrySpec,
  type WorkloadEntrySpec,
} from "../config/mod.ts";
import type { Instance } from "./api.ts";
import type { ServiceInstance } from "./snapshot.ts";

/** Resolutions whose endpoint addresses (or hosts) are DNS names to resolve. */
const DNS_RESOLUTIONS = new Set(["DNS", "DNS_ROUND_ROBIN"]);

/** Options of {@link deriveInstances}. */
export interface DeriveOptions {
  /** Addresses a DNS name currently resolves to; `undefined` = not resolved (yet). */
  lookup?: (name: string) => readonly string[] | undefined;
}

interface Endpoint {
  spec: WorkloadEntrySpec;
  /** `ServiceEntry ns/name endpoints[i]` or `WorkloadEntry ns/name`. */
  origin: string;
  source: "ServiceEntry" | "WorkloadEntry";
}

/** The DNS names that `resolution: DNS` ServiceEntries need resolved, sorted. */
export function dnsNames(resources: readonly Resource[]): string[] {
  const names = new Set<string>();
  const workloads = workloadEntries(resources);
  for (const resource of resources) {
    if (resource.kind !== "ServiceEntry") continue;
    const spec = normalize(resource).spec as ServiceEntrySpec;
    if (!DNS_RESOLUTIONS.has(spec.resolution)) continue;
    const endpoints = endpointsOf(resource, spec, workloads);
    if (endpoints.length === 0 && !spec.workloadSelector) {
      for (const host of spec.hosts) if (!host.includes("*")) names.add(host);
    }
    for (const endpoint of endpoints) {
      const address = endpoint.spec.address;
      if (address && !isIP(address) && !address.startsWith("unix://")) names.add(address);
    }
  }
  return [...names].sort();
}

/**
 * Every instance the ServiceEntries define: one per (host, endpoint
 * address). STATIC endpoints need an IP address; DNS endpoints are resolved
 * through `options.lookup` (each resolved address is an instance); a DNS
 * ServiceEntry without endpoints resolves its hosts. `resolution: NONE`
 * defines no instances.
 */
export function deriveInstances(
  resources: readonly Resource[],
  options: DeriveOptions = {},
): Instance[] {
  const out: Instance[] = [];
  const workloads = workloadEntries(resources);
  for (const resource of resources) {
    if (resource.kind !== "ServiceEntry") continue;
    const spec = normalize(resource).spec as ServiceEntrySpec;
    if (spec.resolution === "NONE" || spec.ports.length === 0) continue;
    const dns = DNS_RESOLUTIONS.has(spec.resolution);
    const namespace = resource.metadata.namespace;
    let endpoints = endpointsOf(resource, spec, workloads);
    const fromHosts = dns && endpoints.length === 0 && !spec.workloadSelector;
    for (const host of spec.hosts) {
      if (host.includes("*")) continue;
      if (fromHosts) {
        const origin = `ServiceEntry ${namespace}/${resource.metadata.name}`;
        endpoints = [{
          spec: { address: host, ports: {}, labels: {}, weight: 1 },
          origin,
          source: "ServiceEntry",
        }];
      }
      for (const endpoint of endpoints) {
        const address = endpoint.spec.address;
        if (!address) continue;
        const addresses = isIP(address) ? [address] : dns ? options.lookup?.(address) ?? [] : [];
        const ports: Record<string, number> = {};
        for (const port of spec.ports) {
          ports[String(port.number)] = endpoint.spec.ports[port.name] ?? port.targetPort ??
            port.number;
        }
        const first = ports[String(spec.ports[0].number)];
        for (const ip of addresses) {
          const instance: Instance = {
            id: `${endpoint.origin}/${host}/${ip}`,
            source: endpoint.source,
            service: host,
            namespace,
            hostname: host,
            address: ip,
            port: first,
            ports,
            labels: { ...endpoint.spec.labels },
            origin: endpoint.origin,
          };
          if (endpoint.spec.locality) instance.locality = endpoint.spec.locality;
          if (endpoint.spec.serviceAccount) instance.serviceAccount = endpoint.spec.serviceAccount;
          if (endpoint.spec.network) instance.network = endpoint.spec.network;
          if (endpoint.spec.weight) instance.weight = endpoint.spec.weight;
          out.push(instance);
        }
      }
    }
  }
  return out;
}

interface Workload {
  namespace: string;
  name: string;
  spec: WorkloadEntrySpec;
}

function workloadEntries(resources: readonly Resource[]): Workload[] {
  const out: Workload[] = [];
  for (const resource of resources) {
    if (resource.kind !== "WorkloadEntry") continue;
    out.push({
      namespace: resource.metadata.namespace,
      name: resource.metadata.name,
      spec: normalize(resource).spec as WorkloadEntrySpec,
    });
  }
  return out;
}

function endpointsOf(
  resource: Resource,
  spec: ServiceEntrySpec,
  workloads: Workload[],
): Endpoint[] {
  const namespace = resource.metadata.namespace;
  const name = resource.metadata.name;
  if (spec.workloadSelector) {
    // The alpha selector is `{labels}`; accept `matchLabels` as well.
    const selector = spec.workloadSelector as { labels?: Record<string, string> } & {
      matchLabels?: Record<string, string>;
    };
    const wanted = selector.labels ?? selector.matchLabels ?? {};
    return workloads
      .filter((w) => w.namespace === namespace && matches(wanted, w.spec.labels))
      .map((w) => ({
        spec: w.spec,
        origin: `WorkloadEntry ${w.namespace}/${w.name}`,
        source: "WorkloadEntry" as const,
      }));
  }
  return spec.endpoints.map((endpoint, i) => ({
    spec: endpoint,
    origin: `ServiceEntry ${namespace}/${name} endpoints[${i}]`,
    source: "ServiceEntry" as const,
  }));
}

function matches(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(wanted)) if (labels[key] !== value) return false;
  return true;
}

const SOURCES: Record<Instance["source"], ServiceInstance["source"]> = {
  registration: "registry",
  ServiceEntry: "serviceentry",
  WorkloadEntry: "workloadentry",
};

/** The snapshot's view of a registry instance (the registry's bookkeeping fields dropped). */
export function toServiceInstance(instance: Instance): ServiceInstance {
  const out: ServiceInstance = {
    host: instance.hostname,
    namespace: instance.namespace,
    address: instance.address,
    port: instance.port,
    labels: instance.labels,
    source: SOURCES[instance.source],
  };
  if (instance.ports) out.ports = instance.ports;
  if (instance.locality) out.locality = instance.locality;
  if (instance.serviceAccount) out.serviceAccount = instance.serviceAccount;
  if (instance.weight !== undefined && instance.weight !== 1) out.weight = instance.weight;
  return out;
}
