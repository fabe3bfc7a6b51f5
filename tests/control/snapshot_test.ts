import assert from "node:assert/strict";
import { normalize } from "../../mesh/config/mod.ts";
import {
  buildSnapshot,
  DEFAULT_MESH_SETTINGS,
  type ProxyIdentity,
  type ServiceInstance,
  type Snapshot,
  type SnapshotInput,
} from "../../mesh/model/mod.ts";
import { resources } from "./helpers.ts";

function input(yaml: string, instances: readonly ServiceInstance[] = []): SnapshotInput {
  return {
    resources: resources(yaml).map((r) => normalize(r)),
    instances,
    mesh: DEFAULT_MESH_SETTINGS,
  };
}

function sidecar(namespace: string, labels: Record<string, string> = {}): ProxyIdentity {
  return { mode: "sidecar", name: labels.app ?? "app", namespace, labels, id: `x.${namespace}` };
}

function gateway(labels: Record<string, string>, namespace = "istio-system"): ProxyIdentity {
  return { mode: "gateway", name: "gw", namespace, labels, id: `gw.${namespace}` };
}

function names(snapshot: Snapshot, kind?: string): string[] {
  return snapshot.resources.filter((r) => !kind || r.kind === kind)
    .map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
}

function hosts(snapshot: Snapshot): string[] {
  return [...new Set(snapshot.instances.map((i) => i.host))];
}

function instance(service: string, namespace: string, address = "10.0.0.1"): ServiceInstance {
  return {
    host: `${service}.${namespace}.svc.cluster.local`,
    namespace,
    address,
    port: 15006,
    labels: { app: service },
    source: "registry",
  };
}

const vs = (name: string, ns: string, extra = "", host = name, dest = host) =>
  `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]${extra}
  http:
  - route:
    - destination: {host: ${dest}}
`;

const dr = (name: string, ns: string, extra = "") =>
  `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}${extra}
`;

Deno.test("snapshot: exportTo '.', '*' and namespace names", () => {
  const yaml = vs("a", "prod", "\n  exportTo: ['.']") +
    vs("b", "prod", "\n  exportTo: ['*']") +
    vs("d", "prod", "\n  exportTo: [test]") +
    vs("e", "prod") +
    dr("f", "prod", "\n  exportTo: ['.']");
  const data = input(yaml);
  assert.deepEqual(names(buildSnapshot(data, sidecar("prod"))), [
    "DestinationRule/prod/f",
    "VirtualService/prod/a",
    "VirtualService/prod/b",
    "VirtualService/prod/e",
  ]);
  assert.deepEqual(names(buildSnapshot(data, sidecar("test"))), [
    "VirtualService/prod/b",
    "VirtualService/prod/d",
    "VirtualService/prod/e",
  ]);
  assert.deepEqual(names(buildSnapshot(data, sidecar("other"))), [
    "VirtualService/prod/b",
    "VirtualService/prod/e",
  ]);
});

Deno.test("snapshot: sidecars get no Gateways and no gateway-only VirtualServices", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
` + vs("web", "default", "\n  gateways: [edge]", "web.example.com", "web") +
    vs("both", "default", "\n  gateways: [edge, mesh]");
  const snap = buildSnapshot(input(yaml), sidecar("default"));
  assert.deepEqual(names(snap), ["VirtualService/default/both"]);
});

Deno.test("snapshot: Sidecar egress scopes services, VirtualServices and DestinationRules", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: prod}
spec:
  egress:
  - hosts: ["./*", "istio-system/*", "shared/ratings.shared.svc.cluster.local"]
` + vs("reviews", "prod") +
    vs("ratings", "shared") +
    vs("details", "shared") +
    // An imported VirtualService imports its destination even from a namespace not listed.
    vs("frontend", "prod", "", "frontend", "backend.other.svc.cluster.local") +
    dr("reviews", "prod") + dr("details", "shared") +
    dr("backend.other.svc.cluster.local", "other");
  const data = input(yaml, [
    instance("reviews", "prod"),
    instance("ratings", "shared"),
    instance("details", "shared"),
    instance("backend", "other"),
    instance("unrelated", "other"),
  ]);
  const snap = buildSnapshot(data, sidecar("prod", { app: "reviews" }));
  assert.deepEqual(names(snap), [
    "DestinationRule/other/backend.other.svc.cluster.local",
    "DestinationRule/prod/reviews",
    "Sidecar/prod/default",
    "VirtualService/prod/frontend",
    "VirtualService/prod/reviews",
    "VirtualService/shared/ratings",
  ]);
  assert.deepEqual(hosts(snap), [
    "backend.other.svc.cluster.local",
    "ratings.shared.svc.cluster.local",
    "reviews.prod.svc.cluster.local",
  ]);
  // A proxy in another namespace is not scoped by prod's Sidecar.
  const other = buildSnapshot(data, sidecar("shared"));
  assert.equal(hosts(other).length, 5);
  assert.ok(!names(other).some((n) => n.startsWith("Sidecar/")));
});

Deno.test("snapshot: Sidecar selection order and ~ forms", () => {
  const sc = (name: string, ns: string, hosts: string[], selector?: string) =>
    `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: ${ns}}
spec:${selector ? `\n  workloadSelector: {labels: {${selector}}}` : ""}
  egress:
  - hosts: [${hosts.map((h) => JSON.stringify(h)).join(", ")}]
`;
  const yaml = sc("mesh-default", "istio-system", ["./*"]) +
    sc("ns-default", "prod", ["*/*", "~other/*"]) +
    sc("reviews-only", "prod", ["~/*"], "app: reviews");
  const data = input(yaml, [
    instance("a", "prod"),
    instance("b", "other"),
    instance("c", "test"),
  ]);
  // The workload-selecting Sidecar wins, and `~/*` imports nothing.
  const reviews = buildSnapshot(data, sidecar("prod", { app: "reviews" }));
  assert.deepEqual(names(reviews, "Sidecar"), ["Sidecar/prod/reviews-only"]);
  assert.deepEqual(hosts(reviews), []);
  // Then the namespace's selector-less Sidecar: everything except `other`.
  const ratings = buildSnapshot(data, sidecar("prod", { app: "ratings" }));
  assert.deepEqual(names(ratings, "Sidecar"), ["Sidecar/prod/ns-default"]);
  assert.deepEqual(hosts(ratings), ["a.prod.svc.cluster.local", "c.test.svc.cluster.local"]);
  // Then the root namespace's default, where `.` is the workload's own namespace.
  const test = buildSnapshot(data, sidecar("test", { app: "c" }));
  assert.deepEqual(names(test, "Sidecar"), ["Sidecar/istio-system/mesh-default"]);
  assert.deepEqual(hosts(test), ["c.test.svc.cluster.local"]);
});

Deno.test("snapshot: gateways get selected Gateways, bound VirtualServices and their destinations", () => {
  const gw = (name: string, ns: string, selector: string, mode?: string) =>
    `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {${selector}}
  servers:
  - port: {number: ${mode ? 443 : 80}, name: p, protocol: ${mode ? "TLS" : "HTTP"}}
    hosts: ["*"]${mode ? `\n    tls: {mode: ${mode}}` : ""}
`;
  const yaml = gw("public", "edge", "istio: ingress") +
    gw("internal", "edge", "istio: internal") +
    gw("everyone", "default", "") +
    vs("shop", "default", "\n  gateways: [edge/public]", "shop.example.com", "shop") +
    vs("admin", "default", "\n  gateways: [edge/internal]", "admin.example.com", "admin") +
    vs("mesh-only", "default") +
    dr("shop", "default") + dr("admin", "default");
  const data = input(yaml, [instance("shop", "default"), instance("admin", "default")]);
  const snap = buildSnapshot(data, gateway({ istio: "ingress" }));
  assert.deepEqual(names(snap), [
    "DestinationRule/default/shop",
    "Gateway/default/everyone",
    "Gateway/edge/public",
    "VirtualService/default/shop",
  ]);
  assert.deepEqual(hosts(snap), ["shop.default.svc.cluster.local"]);
  // An AUTO_PASSTHROUGH server routes by SNI to any service: everything is sent.
  const sni = input(yaml + gw("sni", "edge", "istio: sni", "AUTO_PASSTHROUGH"), data.instances);
  const all = buildSnapshot(sni, gateway({ istio: "sni" }));
  assert.deepEqual(hosts(all), [
    "admin.default.svc.cluster.local",
    "shop.default.svc.cluster.local",
  ]);
});

Deno.test("snapshot: versions follow content, not input order", () => {
  const yaml = vs("a", "default") + vs("b", "default");
  const one = buildSnapshot(input(yaml, [instance("a", "default")]), sidecar("default"));
  const reordered = input(vs("b", "default") + vs("a", "default"), [instance("a", "default")]);
  assert.equal(buildSnapshot(reordered, sidecar("default")).version, one.version);
  assert.match(one.version, /^[0-9a-f]{16}$/);
  const more = input(yaml, [instance("a", "default"), instance("a", "default", "10.0.0.2")]);
  assert.notEqual(buildSnapshot(more, sidecar("default")).version, one.version);
  const changed = input(vs("a", "default", "", "a", "c") + vs("b", "default"), [
    instance("a", "default"),
  ]);
  assert.notEqual(buildSnapshot(changed, sidecar("default")).version, one.version);
  // Unrelated namespaces' private config does not change this proxy's version.
  const privateElsewhere = input(yaml + vs("z", "other", "\n  exportTo: ['.']"), [
    instance("a", "default"),
  ]);
  assert.equal(buildSnapshot(privateElsewhere, sidecar("default")).version, one.version);
});

Deno.test("snapshot: proxies of one scope share arrays; policies follow labels", () => {
  const yaml = vs("a", "default") + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-only, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: DENY
  rules: [{}]
`;
  const data = input(yaml);
  const x = buildSnapshot(data, { ...sidecar("default", { app: "ratings" }), id: "x" });
  const y = buildSnapshot(data, { ...sidecar("default", { app: "ratings" }), id: "y" });
  assert.equal(x.resources, y.resources);
  assert.notEqual(x.version, y.version);
  const reviews = buildSnapshot(data, sidecar("default", { app: "reviews" }));
  assert.deepEqual(names(reviews, "AuthorizationPolicy"), [
    "AuthorizationPolicy/default/reviews-only",
  ]);
  assert.deepEqual(names(x, "AuthorizationPolicy"), []);
});

Deno.test("snapshot: ServiceEntry instances are visible only where the entry is exported", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: prod}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: 192.0.2.1}]
`;
  const se: ServiceInstance = {
    host: "api.example.com",
    namespace: "prod",
    address: "192.0.2.1",
    port: 443,
    labels: {},
    source: "serviceentry",
  };
  const data = input(yaml, [se]);
  assert.deepEqual(hosts(buildSnapshot(data, sidecar("prod"))), ["api.example.com"]);
  assert.deepEqual(names(buildSnapshot(data, sidecar("prod"))), ["ServiceEntry/prod/ext"]);
  assert.deepEqual(hosts(buildSnapshot(data, sidecar("test"))), []);
  assert.deepEqual(names(buildSnapshot(data, sidecar("test"))), []);
});
