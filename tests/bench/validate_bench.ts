/**
 * Benchmark of the configuration pipeline: 10,000 realistic resources (a mix
 * of kinds) in one YAML stream, timed for parse + validate and for
 * normalize. Standalone: `deno run -A tests/bench/validate_bench.ts`; the
 * bench main calls {@link runValidateBench}.
 *
 * @module
 */

import { normalize, parseSource, validateSource } from "../../mesh/config/mod.ts";

/** Figures of one benchmark run. */
export interface ValidateBenchResult {
  resources: number;
  bytes: number;
  /** YAML parse alone (with positions kept), milliseconds. */
  parseMs: number;
  /** Parse + validate (schemas, envelope, warnings), milliseconds. */
  validateMs: number;
  /** Normalizing every validated resource, milliseconds. */
  normalizeMs: number;
  /** Validated resources per second. */
  resourcesPerSecond: number;
  errors: number;
}

/** One resource of the generated stream; `i` varies names, hosts and numbers. */
function resource(i: number): string {
  const ns = `ns${i % 20}`;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
      return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-${i}
  namespace: ${ns}
  labels: {app: svc-${i}}
spec:
  hosts:
  - svc-${i}
  http:
  - match:
    - headers:
        end-user:
          exact: user-${i}
      uri:
        prefix: /api/v${i % 3}
    fault:
      delay:
        fixedDelay: ${i % 7 + 1}s
        percentage: {value: 10}
    route:
    - destination: {host: svc-${i}, subset: v2, port: {number: 9080}}
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,reset"}
  - route:
    - destination: {host: svc-${i}, subset: v1}
      weight: 90
    - destination: {host: svc-${i}, subset: v3}
      weight: 10
`;
    case 3:
    case 4:
    case 5:
      return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: svc-${i}
  namespace: ${ns}
spec:
  host: svc-${i}
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms}
      http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 10}
    outlierDetection:
      consecutive5xxErrors: 7
      interval: 5m
      baseEjectionTime: 15m
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
  - name: v3
    labels: {version: v3}
`;
    case 6:
      return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext-${i}
  namespace: ${ns}
spec:
  hosts: [api${i}.example.com]
  ports:
  - {number: 443, name: https, protocol: TLS}
  location: MESH_EXTERNAL
  resolution: DNS
`;
    case 7:
      return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw-${i}
  namespace: ${ns}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["svc-${i}.example.com"]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["svc-${i}.example.com"]
    tls: {mode: SIMPLE, credentialName: cert-${i}}
`;
    case 8:
      return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm-${i}
  namespace: ${ns}
spec:
  address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}
  labels: {app: svc-${i}, version: v1}
  serviceAccount: svc-${i}
`;
    default:
      return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-${i}
  namespace: ${ns}
spec:
  selector:
    matchLabels: {app: svc-${i}}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/${ns}/sa/client"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/api/*"]
`;
  }
}

/** Generates `count` resources as one multi-document YAML stream. */
export function generateStream(count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(resource(i));
  return parts.join("---\n");
}

/**
 * Runs the benchmark and returns its figures: each phase is timed `rounds`
 * times (after a warm-up) and the fastest round is reported, which is the
 * least disturbed by other processes on a shared machine.
 */
export function runValidateBench(count = 10_000, rounds = 3): Promise<ValidateBenchResult> {
  const text = generateStream(count);
  // Warm-up: JIT the parser, the schemas and the normalizer on a small stream.
  const warm = validateSource(generateStream(500), "warm.yaml");
  for (const r of warm.resources) normalize(r);

  let parseMs = Infinity;
  let validateMs = Infinity;
  let normalizeMs = Infinity;
  let result = warm;
  for (let round = 0; round < rounds; round++) {
    let t = performance.now();
    parseSource(text, "bench.yaml");
    parseMs = Math.min(parseMs, performance.now() - t);

    t = performance.now();
    result = validateSource(text, "bench.yaml");
    validateMs = Math.min(validateMs, performance.now() - t);

    t = performance.now();
    for (const r of result.resources) normalize(r);
    normalizeMs = Math.min(normalizeMs, performance.now() - t);
  }

  return Promise.resolve({
    resources: result.resources.length,
    bytes: text.length,
    parseMs,
    validateMs,
    normalizeMs,
    resourcesPerSecond: Math.round(result.resources.length / (validateMs / 1000)),
    errors: result.diagnostics.filter((d) => d.severity === "error").length,
  });
}

if (import.meta.main) {
  const r = await runValidateBench();
  const rows: [string, string][] = [
    ["resources", String(r.resources)],
    ["stream size", `${(r.bytes / 1024 / 1024).toFixed(2)} MiB`],
    ["parse (YAML)", `${r.parseMs.toFixed(0)} ms`],
    ["parse + validate", `${r.validateMs.toFixed(0)} ms (target < 1000 ms)`],
    ["normalize", `${r.normalizeMs.toFixed(0)} ms`],
    ["throughput", `${r.resourcesPerSecond} resources/s`],
    ["errors", String(r.errors)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("validate benchmark (fastest of 3 rounds)");
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  if (r.errors > 0) Deno.exit(1);
}
