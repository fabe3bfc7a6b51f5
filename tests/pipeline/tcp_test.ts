/** L4 route compilation: rule selection, ports, weights, clusters. */

import assert from "node:assert/strict";
import { snapshotFromText } from "../../mesh/discovery/mod.ts";
import type { ProxyIdentity } from "../../mesh/model/mod.ts";
import { compileSnapshot, compileTcpRoute, pickTcpDestination } from "../../mesh/pipeline/mod.ts";

const GATEWAY: ProxyIdentity = {
  mode: "gateway",
  name: "edge",
  namespace: "default",
  labels: { app: "edge" },
  id: "edge-1.default",
};

const YAML = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {app: edge}
  servers:
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.tcp.test]
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, labels: {version: v1}}, {address: 127.0.0.2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo.tcp.test
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a-other-port}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: 9100}]
    route: [{destination: {host: echo.tcp.test, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b-split}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: 9000, gateways: [other]}]
    route: [{destination: {host: echo.tcp.test, subset: v2}}]
  - match: [{port: 9000}]
    route:
    - {destination: {host: echo.tcp.test, subset: v1}, weight: 80}
    - {destination: {host: echo.tcp.test, subset: v2}, weight: 20}
    - {destination: {host: echo.tcp.test, subset: v2}, weight: 0}
`;

function compile(yaml = YAML) {
  const snap = snapshotFromText(yaml, "t.yaml", { identity: GATEWAY });
  if (typeof snap === "string") throw new Error(snap);
  return { snap, config: compileSnapshot(snap) };
}

Deno.test("tcp route: first applicable rule by port and gateways; weights; service port", () => {
  const { snap, config } = compile();
  const route = compileTcpRoute(snap.resources, config, { gateway: "default/edge", port: 9000 });
  assert.ok(route);
  assert.equal(route.name, "default/b-split tcp[1]");
  assert.deepEqual(route.destinations.map((d) => [d.subset, d.weight, d.port]), [
    ["v1", 80, 7000],
    ["v2", 20, 7000],
  ]);
  assert.equal(route.destinations[0].cluster.name, "outbound|7000|v1|echo.tcp.test");
  assert.deepEqual(route.destinations[0].cluster.endpoints.endpoints.map((e) => e.key), [
    "127.0.0.1:7000",
  ]);
  assert.equal(pickTcpDestination(route, { random: () => 0.79 }).subset, "v1");
  assert.equal(pickTcpDestination(route, { random: () => 0.81 }).subset, "v2");
  const other = compileTcpRoute(snap.resources, config, { gateway: "default/edge", port: 9100 });
  assert.equal(other?.name, "default/a-other-port tcp[0]");
  assert.equal(
    compileTcpRoute(snap.resources, config, { gateway: "default/edge", port: 9200 }),
    undefined,
  );
  assert.equal(
    compileTcpRoute(snap.resources, config, { gateway: "default/nope", port: 9000 }),
    undefined,
  );
});

Deno.test("tcp route: admits filters VirtualServices by namespace and host", () => {
  const { snap, config } = compile();
  const route = compileTcpRoute(snap.resources, config, {
    gateway: "default/edge",
    port: 9000,
    admits: (ns) => ns === "prod",
  });
  assert.equal(route, undefined);
});

Deno.test("tcp route: destinationSubnets blocks never apply and warn", () => {
  const { snap, config } = compile(
    YAML.replace(
      "- match: [{port: 9000}]",
      "- match: [{port: 9000, destinationSubnets: [10.0.0.0/8]}]",
    ),
  );
  const warnings: string[] = [];
  const route = compileTcpRoute(snap.resources, config, {
    gateway: "default/edge",
    port: 9000,
    warn: (m) => warnings.push(m),
  });
  assert.equal(route, undefined);
  assert.match(warnings[0], /b-split: spec\.tcp\[1\]: destinationSubnets/);
});
