/**
 * Pipeline entry for the data-plane benchmark: the full forwarding pipeline under a realistic
 * configuration, every endpoint pointing at one upstream.
 *
 *   deno run -A tests/bench/pipeline_main.ts --port P --upstream 127.0.0.1:Q
 *
 * Listens on 127.0.0.1:P (0 = any free port) as a sidecar outbound listener, prints exactly one
 * line `listening on 127.0.0.1:<port>` when ready, exits 0 on SIGTERM/SIGINT. Requests for
 * `Host: reviews` go through a VirtualService with three header-match rules (which a plain
 * request misses) and a 90/10 split over subsets of a DestinationRule with outlier detection
 * and connection-pool limits; other hosts pass through (ALLOW_ANY).
 *
 * @module
 */

import { HttpServer, listenTcp } from "../../mesh/http/mod.ts";
import { normalize, validateSource } from "../../mesh/config/mod.ts";
import type { ServiceInstance, Snapshot } from "../../mesh/model/mod.ts";
import { Pipeline } from "../../mesh/pipeline/pipeline.ts";

/** The benchmark configuration (also used by tests). */
export const BENCH_CONFIG = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    match: [{headers: {x-canary: {regex: "(true|yes|1)"}}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - name: beta
    match: [{headers: {cookie: {prefix: "beta="}}, uri: {prefix: /api}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - name: split
    route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
    retries: {attempts: 2, retryOn: "connect-failure,refused-stream,503"}
    timeout: 10s
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1000, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1000, http2MaxRequests: 10000, maxRetries: 100}
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`;

/** A sidecar snapshot whose `reviews` endpoints all point at `host:port`. */
export function benchSnapshot(host: string, port: number): Snapshot {
  const { resources, diagnostics } = validateSource(BENCH_CONFIG, "bench.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const instances: ServiceInstance[] = ["v1", "v2", "v3"].map((version) => ({
    host: "reviews.default.svc.cluster.local",
    namespace: "default",
    address: host,
    port,
    labels: { app: "reviews", version },
    source: "registry",
  }));
  return {
    version: "bench",
    proxy: {
      mode: "sidecar",
      name: "productpage",
      namespace: "default",
      labels: { app: "productpage", version: "v1" },
      id: "productpage-bench.default",
    },
    mesh: { domain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    resources: resources.map((r) => normalize(r)),
    instances,
  };
}

function usage(msg: string): never {
  console.error(`pipeline_main: ${msg}\nusage: pipeline_main.ts --port P --upstream HOST:PORT`);
  Deno.exit(1);
}

function parseArgs(args: string[]): { port: number; host: string; upstreamPort: number } {
  let port = -1;
  let upstream = "";
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port") port = Number(args[++i]);
    else if (args[i] === "--upstream") upstream = args[++i] ?? "";
    else usage(`unknown argument ${args[i]}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage("--port needs 0-65535");
  const m = /^(.+):(\d+)$/.exec(upstream);
  if (m === null) usage("--upstream needs HOST:PORT");
  return { port, host: m[1], upstreamPort: Number(m[2]) };
}

if (import.meta.main) {
  const opts = parseArgs(Deno.args);
  const pipeline = new Pipeline(benchSnapshot(opts.host, opts.upstreamPort));
  const server = new HttpServer(pipeline.handler({ internal: true, port: 80 }));
  const listener = listenTcp({ hostname: "127.0.0.1", port: opts.port });
  server.serve(listener);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(1000).then(() => pipeline.close()).finally(() => Deno.exit(0));
    setTimeout(() => Deno.exit(0), 1500);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`listening on 127.0.0.1:${listener.port}`);
}
