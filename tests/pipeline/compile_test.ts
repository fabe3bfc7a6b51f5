import assert from "node:assert/strict";
import { DEFAULT_CONNECTION_POOL } from "../../mesh/config/mod.ts";
import {
  type Cluster,
  type CompiledConfig,
  compileSnapshot,
  hostAliases,
  SnapshotCompileError,
} from "../../mesh/pipeline/compile.ts";
import { requestView } from "../../mesh/pipeline/request_view.ts";
import { selectRoute } from "../../mesh/pipeline/route.ts";
import { bookinfo, compile, instances, sidecar, snapshot } from "./snapshot_fixture.ts";

const REVIEWS = "reviews.default.svc.cluster.local";

function routedCluster(config: CompiledConfig, authority: string, port = 80): Cluster {
  const sel = selectRoute(config, requestView({ authority, port }));
  if (sel.kind !== "route" || sel.route.action.kind !== "route") throw new Error(sel.kind);
  return sel.route.action.destinations[0].clusterFor(port);
}

const SUBSET_TRAP_DR = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool:
      tcp: {maxConnections: 7}
      http: {http2MaxRequests: 70}
    portLevelSettings:
    - port: {number: 9080}
      connectionPool:
        http: {http1MaxPendingRequests: 3}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 100}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST}
  - name: v9
    labels: {version: v9}
`;

Deno.test("subset policy applies only when the route names the subset (trap 2)", () => {
  // No VirtualService: the default route goes to the bare host and uses the top-level policy.
  const bare = compile(SUBSET_TRAP_DR, bookinfo());
  const c = routedCluster(bare, "reviews");
  assert.equal(c.name, `outbound|80||${REVIEWS}`);
  assert.equal(c.policy.connectionPool.tcp.maxConnections, 7);
  assert.equal(c.endpoints.size, 3);
  const routed = compile(
    SUBSET_TRAP_DR + `
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}}]}]
`,
    bookinfo(),
  );
  const v1 = routedCluster(routed, "reviews");
  assert.equal(v1.name, `outbound|80|v1|${REVIEWS}`);
  assert.equal(v1.policy.connectionPool.tcp.maxConnections, 100);
  assert.equal(v1.endpoints.size, 1);
  assert.equal(v1.endpoints.endpoints[0].labels.version, "v1");
});

Deno.test("subset blocks replace whole top-level blocks; port-level entries fall back to defaults (trap 3)", () => {
  const config = compile(SUBSET_TRAP_DR, bookinfo());
  const v1 = config.clusterFor(REVIEWS, "v1", 80);
  // connectionPool replaced whole: the top-level http2MaxRequests is gone.
  assert.equal(v1.policy.connectionPool.tcp.maxConnections, 100);
  assert.equal(
    v1.policy.connectionPool.http.http2MaxRequests,
    DEFAULT_CONNECTION_POOL.http.http2MaxRequests,
  );
  // loadBalancer not set in v1: inherited from the top level.
  assert.equal(v1.policy.loadBalancer.simple, "RANDOM");
  const v2 = config.clusterFor(REVIEWS, "v2", 80);
  assert.equal(v2.policy.loadBalancer.simple, "LEAST_REQUEST");
  assert.equal(v2.policy.connectionPool.tcp.maxConnections, 7);
  // Port 9080: the port-level entry replaces everything; what it omits is default, not top-level.
  const p = config.clusterFor(REVIEWS, "", 9080);
  assert.equal(p.name, `outbound|9080||${REVIEWS}`);
  assert.equal(p.policy.connectionPool.http.http1MaxPendingRequests, 3);
  assert.equal(
    p.policy.connectionPool.tcp.maxConnections,
    DEFAULT_CONNECTION_POOL.tcp.maxConnections,
  );
  assert.equal(p.policy.loadBalancer.simple, "ROUND_ROBIN");
  assert.equal(p.admission.limits.maxPendingRequests, 3);
});

Deno.test("undefined subset and unknown host are NC; a subset with no endpoints is empty (UH)", () => {
  const config = compile(
    SUBSET_TRAP_DR + `
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x: {exact: nc}}}]
    route: [{destination: {host: reviews, subset: v7}}]
  - match: [{headers: {x: {exact: unknown}}}]
    route: [{destination: {host: nowhere.example.com}}]
  - route: [{destination: {host: reviews, subset: v9}}]
`,
    bookinfo(),
  );
  const pick = (x?: string) => {
    const sel = selectRoute(config, requestView({ authority: "reviews", headers: x ? { x } : {} }));
    if (sel.kind !== "route" || sel.route.action.kind !== "route") throw new Error();
    return sel.route.action.destinations[0].clusterFor(80);
  };
  assert.equal(pick("nc").notFound, true);
  assert.match(pick("nc").notFoundReason!, /subset v7/);
  assert.equal(pick("unknown").notFound, true);
  const empty = pick();
  assert.equal(empty.notFound, false);
  assert.equal(empty.endpoints.size, 0);
  assert.equal(empty.chooser.pick(), undefined);
});

Deno.test("DestinationRule namespace precedence: client, then service, then root; most specific host", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: root, namespace: istio-system}
spec:
  host: "*.svc.cluster.local"
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: svc-wide, namespace: default}
spec:
  host: "*.default.svc.cluster.local"
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: svc-exact, namespace: default}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 5}}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: client, namespace: prod}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 9}}}
`;
  const insts = [...bookinfo(), ...instances("other", [{}], { namespace: "misc", base: 5 })];
  const inDefault = compile(yaml, insts);
  const r = inDefault.clusterFor(REVIEWS, "", 80);
  assert.equal(r.policy.connectionPool.tcp.maxConnections, 5);
  assert.deepEqual(r.policy.source, ["default/svc-exact"]);
  assert.equal(
    inDefault.clusterFor("ratings.default.svc.cluster.local", "", 80).policy.loadBalancer.simple,
    "LEAST_REQUEST",
  );
  const inProd = compile(yaml, insts, sidecar({ namespace: "prod" }));
  assert.equal(inProd.clusterFor(REVIEWS, "", 80).policy.connectionPool.tcp.maxConnections, 9);
  // prod has nothing for ratings: the service's namespace (default) answers.
  assert.deepEqual(inProd.clusterFor("ratings.default.svc.cluster.local", "", 80).policy.source, [
    "default/svc-wide",
  ]);
  // Neither client nor service namespace: the root namespace.
  assert.deepEqual(inProd.clusterFor("other.misc.svc.cluster.local", "", 80).policy.source, [
    "istio-system/root",
  ]);
});

Deno.test("compile rejects an untranslatable regex and lists every problem", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: '[[:^alpha:]]+'}}]
    route: [{destination: {host: reviews}}]
  - match: [{headers: {x: {regex: '(?U)a+'}}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`;
  assert.throws(
    () => compileSnapshot(snapshot(yaml, bookinfo())),
    (error: unknown) => {
      assert.ok(error instanceof SnapshotCompileError);
      assert.equal(error.problems.length, 2);
      assert.match(
        error.problems[0],
        /VirtualService default\/bad: spec\.http\[0\]\.match\[0\].*POSIX/,
      );
      assert.match(error.problems[1], /spec\.http\[1\]\.match\[0\].*ungreedy/);
      assert.match(error.message, /previous configuration stays in effect/);
      return true;
    },
  );
});

Deno.test("recompiling carries over runtime state of unchanged clusters", () => {
  const dr = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s}
`;
  const first = compile(dr, bookinfo());
  const c1 = first.clusterFor(REVIEWS, "", 80);
  const e = c1.chooser.pick()!;
  assert.equal(c1.outlier!.report(e, 503, 0), true);
  c1.admission.admitRequest();
  // Same snapshot content: the very same cluster object, ejection and counters intact.
  const second = compile(dr, bookinfo(), sidecar(), first);
  const c2 = second.clusterFor(REVIEWS, "", 80);
  assert.equal(c2, c1);
  assert.equal(c2.endpoints.get(e.key)!.outlier.ejected, true);
  // Endpoints changed (one added): a new cluster, but the surviving endpoint stays ejected.
  const more = [...bookinfo(), ...instances("reviews", [{ version: "v4" }], { base: 9 })];
  const third = compile(dr, more, sidecar(), second);
  const c3 = third.clusterFor(REVIEWS, "", 80);
  assert.notEqual(c3, c1);
  assert.equal(c3.endpoints.size, 4);
  assert.equal(c3.endpoints.get(e.key)!.outlier.ejected, true);
  assert.equal(c3.endpoints.available().length, 3);
  // Clusters built on demand (port 9080) are carried over too.
  const lazy = third.clusterFor(REVIEWS, "", 9080);
  const fourth = compile(dr, more, sidecar(), third);
  assert.equal(fourth.cluster(`outbound|9080||${REVIEWS}`), lazy);
});

Deno.test("round-robin position survives a push of the same content", () => {
  const first = compile("", bookinfo());
  const c = first.clusterFor(REVIEWS, "", 80);
  const seq1 = [c.chooser.pick()!.key, c.chooser.pick()!.key];
  const second = compile("", bookinfo(), sidecar(), first);
  const next = second.clusterFor(REVIEWS, "", 80).chooser.pick()!.key;
  const all = c.endpoints.endpoints.map((x) => x.key);
  const i = all.indexOf(seq1[1]);
  assert.equal(next, all[(i + 1) % all.length]);
});

Deno.test("ServiceEntry hosts get default routes; resolution NONE is passthrough", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: static}
spec:
  hosts: [db.internal]
  addresses: [240.0.0.5]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 10.9.9.9}]
`,
    [{
      host: "db.internal",
      namespace: "default",
      address: "10.9.9.9",
      port: 5432,
      ports: { "5432": 15432 },
      labels: {},
      source: "serviceentry",
    }],
  );
  const ext = routedCluster(config, "api.example.com:443", 443);
  assert.equal(ext.passthrough, true);
  assert.equal(ext.name, "outbound|443||api.example.com");
  const db = routedCluster(config, "db.internal:5432", 5432);
  assert.equal(db.passthrough, false);
  assert.equal(db.endpoints.endpoints[0].port, 15432);
  assert.equal(routedCluster(config, "240.0.0.5:5432", 5432), db);
});

Deno.test("retries and timeouts compile; attempts 0 removes the default retries", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /none}}]
    retries: {attempts: 0}
    timeout: 0s
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
    timeout: 10s
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,503"}
`,
    bookinfo(),
  );
  const route = (path: string) => {
    const sel = selectRoute(config, requestView({ authority: "ratings", path }));
    if (sel.kind !== "route") throw new Error();
    return sel.route;
  };
  assert.equal(route("/none").retryPolicy.numRetries, 0);
  assert.equal(route("/none").timeout, 0);
  assert.equal(route("/x").timeout, 10_000);
  assert.equal(route("/x").retryPolicy.numRetries, 3);
  assert.equal(route("/x").retryPolicy.perTryTimeout, 2000);
  assert.deepEqual(route("/x").retryPolicy.statusCodes, [503]);
  // The default route of a service without a VS: 15 s and 2 retries.
  const sel = selectRoute(config, requestView({ authority: "reviews" }));
  if (sel.kind !== "route") throw new Error();
  assert.equal(sel.route.timeout, 15_000);
  assert.equal(sel.route.retryPolicy.numRetries, 2);
});

Deno.test("clusters() and describe() expose the compiled state as plain data", () => {
  const config = compile(SUBSET_TRAP_DR, bookinfo());
  const names = config.clusters().map((c) => c.name);
  assert.ok(names.includes(`outbound|80||${REVIEWS}`));
  assert.ok(names.includes(`outbound|9080||${REVIEWS}`));
  const dump = JSON.parse(JSON.stringify(config.describe()));
  assert.equal(dump.version, "v1");
  assert.equal(dump.routeTables[0].name, "mesh");
  assert.ok(
    dump.routeTables[0].virtualHosts.some((v: { domains: string[] }) =>
      v.domains.includes("reviews")
    ),
  );
  assert.ok(dump.clusters.length >= 3);
});

Deno.test("hostAliases: same namespace gets the bare name, others do not; non-service hosts none", () => {
  assert.deepEqual(hostAliases(REVIEWS, "default", "cluster.local"), [
    "reviews",
    "reviews.default",
    "reviews.default.svc",
    "reviews.default.svc.cluster",
  ]);
  assert.deepEqual(hostAliases(REVIEWS, "prod", "cluster.local"), [
    "reviews.default",
    "reviews.default.svc",
    "reviews.default.svc.cluster",
  ]);
  assert.deepEqual(hostAliases("api.example.com", "default", "cluster.local"), []);
  assert.deepEqual(hostAliases("*.default.svc.cluster.local", "default", "cluster.local"), []);
});

Deno.test("mirrors, fault, cors, rewrite and headers are compiled onto the route", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v2}
    fault:
      abort: {httpStatus: 418, percentage: {value: 50}}
    mirror: {host: reviews, subset: v1}
    mirrorPercentage: {value: 25}
    corsPolicy:
      allowOrigins: [{exact: "https://a.example"}]
      allowMethods: [GET]
    headers:
      request: {set: {x-a: "1"}}
    route:
    - destination: {host: ratings}
      headers: {request: {set: {x-a: "2"}}}
`,
    bookinfo(),
  );
  const sel = selectRoute(config, requestView({ authority: "ratings", path: "/api/x" }));
  if (sel.kind !== "route" || sel.route.action.kind !== "route") throw new Error();
  const r = sel.route;
  const action = sel.route.action;
  assert.equal(r.rewrite?.uri, "/v2");
  assert.equal(r.fault?.abortStatus, 418);
  assert.equal(r.fault?.abortPercent, 50);
  assert.equal(r.mirrors.length, 1);
  assert.equal(r.mirrors[0].percentage, 25);
  assert.equal(r.mirrors[0].destination.clusterFor(80).name, `outbound|80|v1|${REVIEWS}`);
  assert.equal(r.mirrors[0].destination.clusterFor(80).notFound, true);
  assert.equal(r.cors?.allowMethods, "GET");
  assert.deepEqual(r.headers?.request?.set, [["x-a", "1"]]);
  assert.deepEqual(action.destinations[0].headers?.request?.set, [["x-a", "2"]]);
});
