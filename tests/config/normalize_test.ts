import assert from "node:assert/strict";
import {
  DEFAULT_CONNECTION_POOL,
  normalize,
  resolveGatewayName,
} from "../../mesh/config/normalize.ts";
import type { KindName, NormalizedOf, Resource } from "../../mesh/config/types.ts";

function res(kind: KindName, spec: Record<string, unknown>, namespace = "prod"): Resource {
  return {
    apiVersion: "networking.istio.io/v1",
    kind,
    metadata: { name: "x", namespace },
    spec,
  };
}

function vs(spec: Record<string, unknown>, options = {}) {
  return (normalize(res("VirtualService", spec), options) as NormalizedOf<"VirtualService">).spec;
}
function dr(spec: Record<string, unknown>) {
  return (normalize(res("DestinationRule", spec)) as NormalizedOf<"DestinationRule">).spec;
}
const route = (host: string, extra: Record<string, unknown> = {}) => ({
  destination: { host },
  ...extra,
});

Deno.test("VS hosts and destinations: short names expand in the VS's namespace", () => {
  const spec = vs({
    hosts: ["reviews", "reviews.other", "*.example.com", "*", "10.0.0.1"],
    http: [{ route: [route("ratings")], mirror: { host: "shadow" } }],
    tcp: [{ route: [route("db")] }],
    tls: [{ match: [{ sniHosts: ["a.com"] }], route: [route("tlsbackend")] }],
  });
  assert.deepEqual(spec.hosts, [
    "reviews.prod.svc.cluster.local",
    "reviews.other",
    "*.example.com",
    "*",
    "10.0.0.1",
  ]);
  assert.equal(spec.http[0].route[0].destination.host, "ratings.prod.svc.cluster.local");
  assert.equal(spec.http[0].mirrors[0].destination.host, "shadow.prod.svc.cluster.local");
  assert.equal(spec.tcp[0].route[0].destination.host, "db.prod.svc.cluster.local");
  assert.equal(spec.tls[0].route[0].destination.host, "tlsbackend.prod.svc.cluster.local");
});

Deno.test("the domain option changes the expansion suffix", () => {
  const spec = vs({ hosts: ["reviews"], http: [{ route: [route("reviews")] }] }, {
    domain: "mesh.internal",
  });
  assert.deepEqual(spec.hosts, ["reviews.prod.svc.mesh.internal"]);
});

Deno.test("DR host expands; SE, Gateway, Sidecar and authz hosts stay literal", () => {
  assert.equal(dr({ host: "reviews" }).host, "reviews.prod.svc.cluster.local");
  assert.equal(dr({ host: "reviews.prod" }).host, "reviews.prod");
  const se = normalize(res("ServiceEntry", { hosts: ["api"], ports: [] })) as NormalizedOf<
    "ServiceEntry"
  >;
  assert.deepEqual(se.spec.hosts, ["api"]);
  const gw = normalize(res("Gateway", {
    servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["web"] }],
  })) as NormalizedOf<"Gateway">;
  assert.deepEqual(gw.spec.servers[0].hosts, ["web"]);
  const sc = normalize(res("Sidecar", { egress: [{ hosts: ["./reviews"] }] })) as NormalizedOf<
    "Sidecar"
  >;
  assert.deepEqual(sc.spec.egress[0].hosts, ["./reviews"]);
  const ap = normalize(res("AuthorizationPolicy", {
    rules: [{ to: [{ operation: { hosts: ["web"] } }] }],
  })) as NormalizedOf<"AuthorizationPolicy">;
  assert.deepEqual(ap.spec.rules[0].to[0].operation.hosts, ["web"]);
});

Deno.test("VS gateways default to mesh; names resolve to namespace/name", () => {
  assert.deepEqual(vs({ hosts: ["a"] }).gateways, ["mesh"]);
  assert.deepEqual(
    vs({ hosts: ["a"], gateways: ["gw", "./gw2", "other/gw3", "gw4.edge", "mesh"] }).gateways,
    [
      "prod/gw",
      "prod/gw2",
      "other/gw3",
      "edge/gw4",
      "mesh",
    ],
  );
  assert.equal(resolveGatewayName("gw.edge.svc.cluster.local", "prod"), "edge/gw");
  const m = vs({ hosts: ["a"], http: [{ match: [{ gateways: ["gw"] }], route: [route("a")] }] });
  assert.deepEqual(m.http[0].match[0].gateways, ["prod/gw"]);
  assert.equal(m.http[0].match[0].ignoreUriCase, false);
});

Deno.test("exportTo defaults to * for VS, DR and SE", () => {
  assert.deepEqual(vs({ hosts: ["a"] }).exportTo, ["*"]);
  assert.deepEqual(dr({ host: "a" }).exportTo, ["*"]);
  assert.deepEqual(vs({ hosts: ["a"], exportTo: ["."] }).exportTo, ["."]);
});

Deno.test("route timeout: 15000 ms when unset, 0 keeps 0, durations in ms", () => {
  const spec = vs({
    hosts: ["a"],
    http: [
      { route: [route("a")] },
      { route: [route("a")], timeout: "0s" },
      { route: [route("a")], timeout: "1.5s" },
    ],
  });
  assert.deepEqual(spec.http.map((r) => r.timeout), [15000, 0, 1500]);
});

Deno.test("retries: default policy when absent, none with attempts 0, explicit fields", () => {
  const spec = vs({
    hosts: ["a"],
    http: [
      { route: [route("a")] },
      { route: [route("a")], retries: { attempts: 0 } },
      {
        route: [route("a")],
        retries: { attempts: 3, perTryTimeout: "2s", retryOn: "gateway-error,503" },
      },
    ],
  });
  assert.deepEqual(spec.http[0].retries, {
    attempts: 2,
    retryOn: "connect-failure,refused-stream,unavailable,cancelled",
    retryOnTokens: ["connect-failure", "refused-stream", "unavailable", "cancelled"],
    retriableStatusCodes: [],
    retryRemoteLocalities: false,
    retryIgnorePreviousHosts: true,
    backoff: 25,
  });
  assert.equal(spec.http[1].retries, null);
  const r = spec.http[2].retries!;
  assert.equal(r.attempts, 3);
  assert.equal(r.perTryTimeout, 2000);
  assert.deepEqual(r.retryOnTokens, ["gateway-error", "retriable-status-codes"]);
  assert.deepEqual(r.retriableStatusCodes, [503]);
});

Deno.test("a lone destination weighs 100; several keep weights and drop zero ones", () => {
  const spec = vs({
    hosts: ["a"],
    http: [
      { route: [route("a", { weight: 30 })] },
      {
        route: [
          route("a", { weight: 80 }),
          route("b", { weight: 20 }),
          route("c", { weight: 0 }),
        ],
      },
    ],
    tcp: [{ route: [route("a")] }],
  });
  assert.deepEqual(spec.http[0].route.map((d) => d.weight), [100]);
  assert.deepEqual(spec.http[1].route.map((d) => [d.destination.host.split(".")[0], d.weight]), [
    ["a", 80],
    ["b", 20],
  ]);
  assert.equal(spec.tcp[0].route[0].weight, 100);
});

Deno.test("fault: percentage from value, from deprecated percent, 100 when unset; delay in ms", () => {
  const spec = vs({
    hosts: ["a"],
    http: [
      {
        route: [route("a")],
        fault: {
          delay: { fixedDelay: "7s" },
          abort: { httpStatus: 500, percentage: { value: 12.5 } },
        },
      },
      { route: [route("a")], fault: { abort: { httpStatus: 503, percent: 40 } } },
    ],
  });
  assert.deepEqual(spec.http[0].fault, {
    delay: { fixedDelay: 7000, percentage: 100 },
    abort: { httpStatus: 500, percentage: 12.5 },
  });
  assert.deepEqual(spec.http[1].fault, { abort: { httpStatus: 503, percentage: 40 } });
});

Deno.test("mirror and mirrorPercent(age) become mirrors entries", () => {
  const spec = vs({
    hosts: ["a"],
    http: [
      { route: [route("a")], mirror: { host: "m", subset: "v2" }, mirrorPercent: 30 },
      { route: [route("a")], mirror: { host: "m" }, mirrorPercentage: { value: 5.5 } },
      { route: [route("a")], mirror: { host: "m" } },
      { route: [route("a")], mirrors: [{ destination: { host: "n" } }] },
    ],
  });
  assert.deepEqual(spec.http[0].mirrors, [{
    destination: { host: "m.prod.svc.cluster.local", subset: "v2" },
    percentage: 30,
  }]);
  assert.equal(spec.http[1].mirrors[0].percentage, 5.5);
  assert.equal(spec.http[2].mirrors[0].percentage, 100);
  assert.equal(spec.http[3].mirrors[0].percentage, 100);
  assert.equal("mirror" in spec.http[0], false);
});

Deno.test("redirectCode defaults to 301; delegate namespace defaults to the VS's", () => {
  const spec = vs({
    hosts: ["a"],
    http: [{ redirect: { uri: "/new" } }, { delegate: { name: "d" } }],
  });
  assert.deepEqual(spec.http[0].redirect, { uri: "/new", redirectCode: 301 });
  assert.deepEqual(spec.http[0].route, []);
  assert.deepEqual(spec.http[1].delegate, { name: "d", namespace: "prod" });
});

Deno.test("CORS: allowOrigin folds into allowOrigins; maxAge in ms; FORWARD default", () => {
  const spec = vs({
    hosts: ["a"],
    http: [{
      route: [route("a")],
      corsPolicy: {
        allowOrigin: ["https://a.com"],
        allowOrigins: [{ prefix: "https://b" }],
        maxAge: "24h",
      },
    }],
  });
  assert.deepEqual(spec.http[0].corsPolicy, {
    allowOrigins: [{ prefix: "https://b" }, { exact: "https://a.com" }],
    allowMethods: [],
    allowHeaders: [],
    exposeHeaders: [],
    maxAge: 86_400_000,
    unmatchedPreflights: "FORWARD",
  });
});

Deno.test("DR load balancer: ROUND_ROBIN by default, LEAST_CONN → LEAST_REQUEST", () => {
  assert.deepEqual(dr({ host: "a" }).trafficPolicy.loadBalancer, { simple: "ROUND_ROBIN" });
  assert.deepEqual(
    dr({ host: "a", trafficPolicy: { loadBalancer: { simple: "LEAST_CONN" } } }).trafficPolicy
      .loadBalancer,
    { simple: "LEAST_REQUEST" },
  );
  // A subset policy keeps only what it sets: its blocks replace the top level.
  const spec = dr({
    host: "a",
    subsets: [{
      name: "v1",
      labels: { version: "v1" },
      trafficPolicy: { tls: { mode: "SIMPLE" } },
    }],
  });
  assert.equal(spec.subsets[0].trafficPolicy!.loadBalancer, undefined);
  assert.equal(spec.subsets[0].trafficPolicy!.tls!.mode, "SIMPLE");
});

Deno.test("port-level settings get an explicit load balancer (they replace the policy)", () => {
  const spec = dr({
    host: "a",
    trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: { mode: "SIMPLE" } }] },
  });
  const p = spec.trafficPolicy.portLevelSettings![0];
  assert.deepEqual(p.loadBalancer, { simple: "ROUND_ROBIN" });
  assert.deepEqual(p.tls, { mode: "SIMPLE", insecureSkipVerify: false });
});

Deno.test("consistent hash: ring hash 1024 by default; deprecated minimumRingSize mapped; ttl in ms", () => {
  const a = dr({
    host: "a",
    trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: "s", ttl: "10s" } } } },
  }).trafficPolicy.loadBalancer!.consistentHash!;
  assert.deepEqual(a, {
    httpCookie: { name: "s", ttl: 10000 },
    ringHash: { minimumRingSize: 1024 },
  });
  const b = dr({
    host: "a",
    trafficPolicy: {
      loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 2048 } },
    },
  }).trafficPolicy.loadBalancer!.consistentHash!;
  assert.deepEqual(b.ringHash, { minimumRingSize: 2048 });
});

Deno.test("outlier detection: defaults filled when the block is present; consecutiveErrors dropped", () => {
  const spec = dr({
    host: "a",
    trafficPolicy: {
      outlierDetection: { consecutiveErrors: 3, interval: "1s", maxEjectionPercent: 0 },
    },
  });
  assert.deepEqual(spec.trafficPolicy.outlierDetection, {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 0,
    interval: 1000,
    baseEjectionTime: 30000,
    maxEjectionPercent: 10,
    minHealthPercent: 0,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailures: 5,
  });
  assert.equal(dr({ host: "a" }).trafficPolicy.outlierDetection, undefined);
});

Deno.test("connection pool: a present block is complete, durations in ms, 0 means default", () => {
  const spec = dr({
    host: "a",
    trafficPolicy: {
      connectionPool: {
        tcp: { maxConnections: 0, connectTimeout: "250ms" },
        http: { http1MaxPendingRequests: 1 },
      },
    },
  });
  const pool = spec.trafficPolicy.connectionPool!;
  assert.equal(pool.tcp.maxConnections, DEFAULT_CONNECTION_POOL.tcp.maxConnections);
  assert.equal(pool.tcp.connectTimeout, 250);
  assert.equal(pool.http.http1MaxPendingRequests, 1);
  assert.equal(pool.http.http2MaxRequests, 2 ** 32 - 1);
  assert.equal(pool.http.idleTimeout, 3_600_000);
});

Deno.test("ServiceEntry defaults: MESH_EXTERNAL, NONE, targetPort, endpoint weight 1", () => {
  const se = normalize(res("ServiceEntry", {
    hosts: ["api.example.com"],
    ports: [{ number: 443, name: "https", protocol: "TLS" }],
    endpoints: [{ address: "1.2.3.4" }, { address: "1.2.3.5", weight: 3 }],
  })) as NormalizedOf<"ServiceEntry">;
  assert.equal(se.spec.location, "MESH_EXTERNAL");
  assert.equal(se.spec.resolution, "NONE");
  assert.equal(se.spec.ports[0].targetPort, 443);
  assert.deepEqual(se.spec.endpoints.map((e) => e.weight), [1, 3]);
  assert.deepEqual(se.spec.exportTo, ["*"]);
});

Deno.test("WorkloadEntry weight defaults to 1 (0 too)", () => {
  const we = normalize(res("WorkloadEntry", { address: "10.0.0.1", weight: 0 })) as NormalizedOf<
    "WorkloadEntry"
  >;
  assert.equal(we.spec.weight, 1);
  assert.deepEqual(we.spec.labels, {});
});

Deno.test("Gateway tls.mode is PASSTHROUGH when a tls block exists without mode", () => {
  const gw = normalize(res("Gateway", {
    servers: [
      { port: { number: 443, name: "tls", protocol: "TLS" }, hosts: ["*"], tls: {} },
      { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] },
    ],
  })) as NormalizedOf<"Gateway">;
  assert.equal(gw.spec.servers[0].tls!.mode, "PASSTHROUGH");
  assert.equal(gw.spec.servers[1].tls, undefined);
  assert.deepEqual(gw.spec.selector, {});
});

Deno.test("Sidecar: an outboundTrafficPolicy without mode means REGISTRY_ONLY", () => {
  const a = normalize(res("Sidecar", { outboundTrafficPolicy: {} })) as NormalizedOf<"Sidecar">;
  assert.equal(a.spec.outboundTrafficPolicy!.mode, "REGISTRY_ONLY");
  const b = normalize(res("Sidecar", {})) as NormalizedOf<"Sidecar">;
  assert.equal(b.spec.outboundTrafficPolicy, undefined);
});

Deno.test("PeerAuthentication mode UNSET by default; AuthorizationPolicy ALLOW with explicit lists", () => {
  const pa = normalize(res("PeerAuthentication", {})) as NormalizedOf<"PeerAuthentication">;
  assert.deepEqual(pa.spec.mtls, { mode: "UNSET" });
  const ap = normalize(res("AuthorizationPolicy", {})) as NormalizedOf<"AuthorizationPolicy">;
  assert.equal(ap.spec.action, "ALLOW");
  assert.deepEqual(ap.spec.rules, []);
  const all = normalize(res("AuthorizationPolicy", { rules: [{}] })) as NormalizedOf<
    "AuthorizationPolicy"
  >;
  assert.deepEqual(all.spec.rules, [{ from: [], to: [], when: [] }]);
});

Deno.test("normalize is pure: the input resource is not modified", () => {
  const input = res("VirtualService", {
    hosts: ["a"],
    http: [{ match: [{ uri: { prefix: "/" } }], route: [route("a")], mirror: { host: "m" } }],
  });
  const before = structuredClone(input);
  const out = normalize(input);
  assert.deepEqual(input, before);
  assert.equal(out.metadata.namespace, "prod");
});
