import assert from "node:assert/strict";
import { seededRandom } from "../../mesh/pipeline/balance/mod.ts";
import type { CompiledConfig, RouteDestination } from "../../mesh/pipeline/compile.ts";
import { type PlainRequest, requestView } from "../../mesh/pipeline/request_view.ts";
import { NO_ROUTE, selectRoute, UNKNOWN_HOST } from "../../mesh/pipeline/route.ts";
import { pickWeighted } from "../../mesh/pipeline/split.ts";
import { bookinfo, compile, sidecar } from "./snapshot_fixture.ts";

/** The destination subset chosen for a request (first destination of the matched route). */
function target(config: CompiledConfig, req: PlainRequest, gateway?: string): string {
  const sel = selectRoute(config, requestView(req), { gateway });
  if (sel.kind !== "route") return sel.kind;
  const action = sel.route.action;
  assert.equal(action.kind, "route");
  const d = action.destinations[0];
  return `${d.host.split(".")[0]}:${d.subset || "-"}`;
}

const PRECEDENCE = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        Foo: {exact: bar}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

Deno.test("spec Precedence: the header rule before the catch-all wins; others fall through", () => {
  const config = compile(PRECEDENCE, bookinfo());
  assert.equal(target(config, { authority: "reviews", headers: { foo: "bar" } }), "reviews:v2");
  assert.equal(target(config, { authority: "reviews", headers: { Foo: "baz" } }), "reviews:v1");
  assert.equal(target(config, { authority: "reviews" }), "reviews:v1");
});

Deno.test("spec Splitting traffic: 75/25 within ±5% over 2,000 picks", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 75
    - destination: {host: reviews, subset: v2}
      weight: 25
`,
    bookinfo(),
  );
  const sel = selectRoute(config, requestView({ authority: "reviews:9080" }));
  assert.equal(sel.kind, "route");
  if (sel.kind !== "route" || sel.route.action.kind !== "route") throw new Error();
  const action = sel.route.action;
  const random = seededRandom(42);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 2000; i++) {
    const d: RouteDestination = pickWeighted(action, { random });
    counts[d.subset] = (counts[d.subset] ?? 0) + 1;
  }
  assert.ok(Math.abs(counts.v1 / 2000 - 0.75) < 0.05, JSON.stringify(counts));
  assert.ok(Math.abs(counts.v2 / 2000 - 0.25) < 0.05, JSON.stringify(counts));
});

Deno.test("spec Conditional rules: end-user jason → v2, /api/v1 prefix, AND within a block, OR across", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - uri: {prefix: /api/v1}
      method: {exact: POST}
    - queryParams:
        debug: {}
    route:
    - destination: {host: reviews, subset: v3}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`,
    bookinfo(),
  );
  assert.equal(
    target(config, { authority: "reviews", headers: { "end-user": "jason" } }),
    "reviews:v2",
  );
  assert.equal(
    target(config, { authority: "reviews", headers: { "end-user": "Jason" } }),
    "no-route",
  );
  assert.equal(
    target(config, { authority: "reviews", method: "POST", path: "/api/v1/x" }),
    "reviews:v3",
  );
  assert.equal(
    target(config, { authority: "reviews", method: "POST", path: "/api/v1" }),
    "reviews:v3",
  );
  assert.equal(
    target(config, { authority: "reviews", method: "POST", path: "/apiv1" }),
    "no-route",
  );
  assert.equal(
    target(config, { authority: "reviews", method: "GET", path: "/api/v1/x" }),
    "no-route",
  );
  assert.equal(target(config, { authority: "reviews", path: "/x?debug" }), "reviews:v3");
});

Deno.test("NR for an unmatched request in a host with a VS; unknown host otherwise", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {exact: /health}}]
    route: [{destination: {host: ratings}}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "ratings", path: "/health" }), "ratings:-");
  assert.equal(
    selectRoute(config, requestView({ authority: "ratings", path: "/other" })),
    NO_ROUTE,
  );
  assert.equal(selectRoute(config, requestView({ authority: "example.com" })), UNKNOWN_HOST);
  // A service without a VirtualService has a default catch-all route.
  assert.equal(
    target(config, { authority: "productpage:9080", path: "/anything" }),
    "productpage:-",
  );
});

Deno.test("regex is a full match; uri regex ignores ignoreUriCase; exact/prefix honour it", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - name: ids
    match:
    - queryParams:
        id: {regex: '\\d+$'}
    route: [{destination: {host: ratings}}]
  - name: ci
    match:
    - uri: {prefix: /Static}
      ignoreUriCase: true
    - uri: {exact: /EXACT}
      ignoreUriCase: true
    route: [{destination: {host: reviews}}]
  - name: re
    match:
    - uri: {regex: '/[a-z]+/\\d+'}
      ignoreUriCase: true
    route: [{destination: {host: productpage}}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "ratings", path: "/?id=123" }), "ratings:-");
  assert.equal(target(config, { authority: "ratings", path: "/?id=a123" }), "no-route");
  assert.equal(target(config, { authority: "ratings", path: "/static/x.css" }), "reviews:-");
  assert.equal(target(config, { authority: "ratings", path: "/STATIC" }), "reviews:-");
  assert.equal(target(config, { authority: "ratings", path: "/exact" }), "reviews:-");
  assert.equal(target(config, { authority: "ratings", path: "/exact/" }), "no-route");
  assert.equal(target(config, { authority: "ratings", path: "/abc/12" }), "productpage:-");
  assert.equal(target(config, { authority: "ratings", path: "/ABC/12" }), "no-route");
  assert.equal(target(config, { authority: "ratings", path: "/abc/12/x" }), "no-route");
});

Deno.test("withoutHeaders: a missing header is empty; {} means absent", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match:
    - withoutHeaders:
        x-canary: {exact: "yes"}
    route: [{destination: {host: ratings}}]
  - match:
    - withoutHeaders:
        x-debug: {}
    route: [{destination: {host: reviews}}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "ratings" }), "ratings:-");
  assert.equal(
    target(config, { authority: "ratings", headers: { "x-canary": "no" } }),
    "ratings:-",
  );
  assert.equal(
    target(config, { authority: "ratings", headers: { "x-canary": "yes" } }),
    "reviews:-",
  );
  assert.equal(
    target(config, { authority: "ratings", headers: { "x-canary": "yes", "x-debug": "" } }),
    "no-route",
  );
});

const SOURCE_LABELS = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match:
    - sourceLabels: {app: reviews, version: v2}
    route:
    - destination: {host: ratings, subset: v2}
  - route:
    - destination: {host: ratings, subset: v1}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

Deno.test("sourceLabels select the proxy at compile time, not per request", () => {
  const v2 = compile(
    SOURCE_LABELS,
    bookinfo(),
    sidecar({ labels: { app: "reviews", version: "v2" } }),
  );
  const v1 = compile(
    SOURCE_LABELS,
    bookinfo(),
    sidecar({ labels: { app: "reviews", version: "v1" } }),
  );
  assert.equal(target(v2, { authority: "ratings" }), "ratings:v2");
  assert.equal(target(v1, { authority: "ratings" }), "ratings:v1");
  assert.equal(v1.routeTableFor()!.lookup("ratings")!.routes.length, 1);
  assert.equal(v2.routeTableFor()!.lookup("ratings")!.routes.length, 2);
});

Deno.test("short-name aliases depend on the caller's namespace", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
`;
  const local = compile(yaml, bookinfo());
  for (
    const host of [
      "reviews",
      "reviews:9080",
      "REVIEWS",
      "reviews.default",
      "reviews.default.svc",
      "reviews.default.svc.cluster",
      "reviews.default.svc.cluster.local",
    ]
  ) {
    assert.equal(target(local, { authority: host }), "reviews:-", host);
  }
  const other = compile(yaml, bookinfo(), sidecar({ namespace: "prod" }));
  assert.equal(target(other, { authority: "reviews" }), "unknown-host");
  assert.equal(target(other, { authority: "reviews.default" }), "reviews:-");
  assert.equal(target(other, { authority: "reviews.default.svc.cluster.local" }), "reviews:-");
  // The default route of a service without a VS gets the aliases too.
  assert.equal(target(local, { authority: "ratings.default.svc" }), "ratings:-");
  assert.equal(target(other, { authority: "ratings" }), "unknown-host");
});

Deno.test("wildcard hosts: most specific wins; exact beats wildcard; a wildcard VS takes services", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: wide}
spec:
  hosts: ["*.example.com"]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: narrow}
spec:
  hosts: ["*.api.example.com"]
  http: [{route: [{destination: {host: ratings}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: exact}
spec:
  hosts: [v1.api.example.com]
  http: [{route: [{destination: {host: productpage}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: svc-wild}
spec:
  hosts: ["*.default.svc.cluster.local"]
  http: [{route: [{destination: {host: ratings}}]}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "www.example.com" }), "reviews:-");
  assert.equal(target(config, { authority: "a.b.example.com" }), "reviews:-");
  assert.equal(target(config, { authority: "x.api.example.com" }), "ratings:-");
  assert.equal(target(config, { authority: "V1.API.example.com:80" }), "productpage:-");
  assert.equal(target(config, { authority: "example.com" }), "unknown-host");
  // reviews has no VS of its own: the wildcard VS owns it, short names included.
  assert.equal(target(config, { authority: "reviews" }), "ratings:-");
});

Deno.test("gateway tables: bound VS only, merged per host, catch-alls last; no vhost is NR", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: a-site}
spec:
  hosts: [bookinfo.com]
  gateways: [edge]
  http:
  - route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: b-api}
spec:
  hosts: [bookinfo.com]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: mesh-only}
spec:
  hosts: [ratings]
  http: [{route: [{destination: {host: ratings}}]}]
`;
  const gw = compile(yaml, bookinfo(), {
    mode: "gateway",
    name: "edge",
    namespace: "default",
    labels: { istio: "ingressgateway" },
    id: "edge-1.default",
  });
  assert.deepEqual(gw.gatewayNames, ["default/edge"]);
  assert.equal(
    target(gw, { authority: "bookinfo.com", path: "/api/x" }, "default/edge"),
    "reviews:-",
  );
  assert.equal(
    target(gw, { authority: "bookinfo.com", path: "/" }, "default/edge"),
    "productpage:-",
  );
  assert.equal(target(gw, { authority: "ratings" }, "default/edge"), "no-route");
  assert.equal(target(gw, { authority: "bookinfo.com" }, "default/other"), "no-route");
  assert.equal(gw.routeTableFor(), undefined);
});

Deno.test("duplicate VirtualServices on a sidecar: first by namespace/name wins, with a warning", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: z-second}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: ratings}}]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: a-first}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "reviews" }), "reviews:-");
  assert.equal(config.warnings.length, 1);
  assert.match(config.warnings[0], /default\/z-second.*already routed by.*default\/a-first/);
});

Deno.test("match.port and match.gateways; VS bound to a gateway only is invisible to sidecars", () => {
  const config = compile(
    `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  gateways: [mesh, edge]
  http:
  - match: [{port: 9080}]
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - match: [{gateways: [edge]}]
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: productpage}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: edge-only}
spec:
  hosts: [ratings]
  gateways: [edge]
  http: [{route: [{destination: {host: reviews}}]}]
`,
    bookinfo(),
  );
  assert.equal(target(config, { authority: "reviews:9080" }), "reviews:-");
  assert.equal(target(config, { authority: "reviews" }), "productpage:-");
  // ratings has only a gateway VS: the sidecar uses its default route.
  assert.equal(target(config, { authority: "ratings" }), "ratings:-");
});

Deno.test("selection allocates nothing: the same result object comes back", () => {
  const config = compile(PRECEDENCE, bookinfo());
  const view = requestView({ authority: "reviews", headers: { foo: "bar" } });
  assert.equal(selectRoute(config, view), selectRoute(config, view));
});

Deno.test("REGISTRY_ONLY from a Sidecar resource overrides the mesh default", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
  assert.equal(compile(yaml, []).outboundTrafficPolicy, "REGISTRY_ONLY");
  assert.equal(compile("", []).outboundTrafficPolicy, "ALLOW_ANY");
  assert.equal(
    compile(yaml, [], sidecar({ namespace: "prod" })).outboundTrafficPolicy,
    "ALLOW_ANY",
  );
});
