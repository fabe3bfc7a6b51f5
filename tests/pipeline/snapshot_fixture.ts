/** Builds snapshots from real YAML (validated and normalized) for pipeline tests. */

import { normalize, type NormalizedResource, validateSource } from "../../mesh/config/mod.ts";
import type { ProxyIdentity, ServiceInstance, Snapshot } from "../../mesh/model/mod.ts";
import { seededRandom } from "../../mesh/pipeline/balance/mod.ts";
import { type CompiledConfig, compileSnapshot } from "../../mesh/pipeline/compile.ts";

/** Validates and normalizes YAML; throws on any error diagnostic. */
export function parseResources(yaml: string): NormalizedResource[] {
  const { resources, diagnostics } = validateSource(yaml, "test.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length) throw new Error(JSON.stringify(errors, null, 2));
  return resources.map((r) => normalize(r));
}

/** A sidecar identity (`sleep` in `default` unless overridden). */
export function sidecar(extra: Partial<ProxyIdentity> = {}): ProxyIdentity {
  return {
    mode: "sidecar",
    name: "sleep",
    namespace: "default",
    labels: { app: "sleep" },
    id: "sleep-1.default",
    ...extra,
  };
}

/** Instances of `name.ns.svc.cluster.local`, one per label set. */
export function instances(
  name: string,
  labels: Record<string, string>[],
  options: { namespace?: string; base?: number; port?: number } = {},
): ServiceInstance[] {
  const ns = options.namespace ?? "default";
  return labels.map((l, i) => ({
    host: `${name}.${ns}.svc.cluster.local`,
    namespace: ns,
    address: `10.${options.base ?? 0}.0.${i + 1}`,
    port: options.port ?? 15006,
    labels: { app: name, ...l },
    source: "registry" as const,
  }));
}

/** A snapshot from YAML and instances. */
export function snapshot(
  yaml: string,
  insts: ServiceInstance[],
  proxy: ProxyIdentity = sidecar(),
  version = "v1",
): Snapshot {
  return {
    version,
    proxy,
    mesh: { domain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    resources: yaml.trim() ? parseResources(yaml) : [],
    instances: insts,
  };
}

/** Compiles with a seeded random source. */
export function compile(
  yaml: string,
  insts: ServiceInstance[],
  proxy: ProxyIdentity = sidecar(),
  previous?: CompiledConfig,
): CompiledConfig {
  return compileSnapshot(snapshot(yaml, insts, proxy), { random: seededRandom(7), previous });
}

/** Bookinfo-ish reviews (v1, v2, v3) and ratings, productpage instances in `default`. */
export function bookinfo(): ServiceInstance[] {
  return [
    ...instances("reviews", [{ version: "v1" }, { version: "v2" }, { version: "v3" }]),
    ...instances("ratings", [{ version: "v1" }], { base: 1 }),
    ...instances("productpage", [{ version: "v1" }], { base: 2 }),
  ];
}
