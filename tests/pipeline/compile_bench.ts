/**
 * Compile benchmark: 1,000 VirtualServices (header, regex and prefix matches, weighted subsets),
 * 1,000 DestinationRules and 5,000 endpoints. Target: compile in < 200 ms.
 *
 *     deno run -A tests/pipeline/compile_bench.ts
 */

import type { ServiceInstance, Snapshot } from "../../mesh/model/mod.ts";
import { type CompiledConfig, compileSnapshot } from "../../mesh/pipeline/compile.ts";
import { requestView } from "../../mesh/pipeline/request_view.ts";
import { selectRoute } from "../../mesh/pipeline/route.ts";
import { parseResources, sidecar } from "./snapshot_fixture.ts";

const SERVICES = 1000;
const PER_SERVICE = 5;

function yaml(): string {
  const docs: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    docs.push(`apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: svc${i}, namespace: ns${i % 10}}
spec:
  hosts: [svc${i}]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    - uri: {regex: '/api/v[0-9]+/items/\\d+'}
    route: [{destination: {host: svc${i}, subset: v2}}]
  - match: [{uri: {prefix: /static}, ignoreUriCase: true}]
    rewrite: {uri: /assets}
    route: [{destination: {host: svc${i}, subset: v1}}]
  - route:
    - {destination: {host: svc${i}, subset: v1}, weight: 75}
    - {destination: {host: svc${i}, subset: v2}, weight: 25}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}
    timeout: 10s
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: svc${i}, namespace: ns${i % 10}}
spec:
  host: svc${i}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 100}}
    outlierDetection: {consecutive5xxErrors: 5}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}`);
  }
  return docs.join("\n---\n");
}

function instances(): ServiceInstance[] {
  const out: ServiceInstance[] = [];
  for (let i = 0; i < SERVICES; i++) {
    for (let k = 0; k < PER_SERVICE; k++) {
      out.push({
        host: `svc${i}.ns${i % 10}.svc.cluster.local`,
        namespace: `ns${i % 10}`,
        address: `10.${i >> 8}.${i & 255}.${k + 1}`,
        port: 15006,
        labels: { app: `svc${i}`, version: k % 2 ? "v2" : "v1" },
        locality: "us-east/zone-a/",
        source: "registry",
      });
    }
  }
  return out;
}

/** The benchmark snapshot: 1,000 VirtualServices and DestinationRules, 5,000 endpoints. */
export function benchSnapshot(): Snapshot {
  return {
    version: "bench",
    proxy: sidecar({ namespace: "ns0", locality: "us-east/zone-a/" }),
    mesh: { domain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    resources: parseResources(yaml()),
    instances: instances(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Compile times in ms (median of 5 after a warm-up): fresh and with `{previous}`. */
export function measureCompile(snapshot: Snapshot): {
  freshMs: number;
  previousMs: number;
  config: CompiledConfig;
} {
  compileSnapshot(snapshot);
  const runs: number[] = [];
  let previous: CompiledConfig | undefined;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    previous = compileSnapshot(snapshot, { previous });
    runs.push(performance.now() - t0);
  }
  const fresh: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    compileSnapshot(snapshot);
    fresh.push(performance.now() - t0);
  }
  return { freshMs: median(fresh), previousMs: median(runs), config: previous! };
}

if (import.meta.main) main();

function main(): void {
  const { freshMs, previousMs, config } = measureCompile(benchSnapshot());
  console.log(
    `compile ${SERVICES} VirtualServices, ${SERVICES} DestinationRules, ` +
      `${SERVICES * PER_SERVICE} endpoints: ${freshMs.toFixed(1)} ms fresh, ` +
      `${previousMs.toFixed(1)} ms with {previous} (median of 5); ` +
      `${config.clusters().length} clusters (target < 200 ms)`,
  );

  // Route selection throughput over the compiled tables.
  const views = [
    requestView({ authority: "svc500.ns0.svc.cluster.local", path: "/api/v2/items/42" }),
    requestView({ authority: "svc10", path: "/STATIC/app.js" }),
    requestView({ authority: "svc990.ns0:9080", path: "/", headers: { "end-user": "bob" } }),
  ];
  const N = 300_000;
  const t0 = performance.now();
  let hits = 0;
  for (let i = 0; i < N; i++) if (selectRoute(config, views[i % 3]).kind === "route") hits++;
  const ns = ((performance.now() - t0) * 1e6) / N;
  console.log(`selectRoute: ${ns.toFixed(0)} ns/request (${hits}/${N} routed)`);
}
