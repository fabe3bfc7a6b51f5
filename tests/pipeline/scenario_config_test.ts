/**
 * Mirrors, unknown hosts (ALLOW_ANY / REGISTRY_ONLY), gateways and snapshot updates over real
 * sockets.
 */

import assert from "node:assert/strict";
import { HttpServer, listenTcp } from "../../mesh/http/mod.ts";
import { SnapshotCompileError } from "../../mesh/pipeline/compile.ts";
import { Flag } from "../../mesh/pipeline/flags.ts";
import { Pipeline } from "../../mesh/pipeline/pipeline.ts";
import {
  closedPort,
  instance,
  makeSnapshot,
  request,
  startProxy,
  startUpstream,
  waitFor,
} from "./upstreams.ts";

Deno.test("a mirror gets a copy with Host unchanged; a slow or dead mirror delays nothing", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin, subset: v1}}]
    mirror: {host: httpbin, subset: v2}
    mirrorPercentage: {value: 100}
  - route: [{destination: {host: httpbin, subset: v1}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
  const primary = startUpstream("v1");
  const mirror = startUpstream("v2", { delayMs: 1500, status: 500 });
  const proxy = startProxy(
    makeSnapshot(yaml, [
      instance("httpbin", primary, { version: "v1" }),
      instance("httpbin", mirror, { version: "v2" }),
    ]),
  );
  try {
    const t0 = performance.now();
    const r = await request(proxy.port, "/post", {
      host: "httpbin:8000",
      method: "POST",
      body: "hello",
    });
    const took = performance.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-upstream"], "v1");
    assert.ok(took < 1000, `primary took ${took} ms`);
    assert.ok(await waitFor(() => mirror.count === 1, 5000));
    assert.equal(mirror.seen[0].headers["host"], "httpbin:8000");
    assert.equal(mirror.seen[0].body, "hello");
    assert.equal(primary.seen[0].body, "hello");
    assert.equal(
      mirror.seen[0].headers["x-request-id"],
      primary.seen[0].headers["x-request-id"],
    );
  } finally {
    await proxy.close();
    await primary.close();
    await mirror.close();
  }
});

Deno.test("unknown host: ALLOW_ANY passes through without timeout; REGISTRY_ONLY is 502", async () => {
  const outside = startUpstream("outside", { delayMs: 300 });
  const allow = startProxy(makeSnapshot("", []));
  const block = startProxy(makeSnapshot("", [], { outbound: "REGISTRY_ONLY" }));
  try {
    const host = `127.0.0.1:${outside.port}`;
    const r = await request(allow.port, "/x", {
      host,
      headers: { "x-envoy-upstream-rq-timeout-ms": "50" },
    });
    assert.equal(r.status, 200, "no timeout applies, not even an override");
    assert.equal(r.headers["x-upstream"], "outside");
    assert.equal(allow.records[0].cluster, "PassthroughCluster");
    const b = await request(block.port, "/x", { host });
    assert.equal(b.status, 502);
    assert.equal(block.records[0].flags, 0);
    assert.equal(outside.count, 1);
  } finally {
    await allow.close();
    await block.close();
    await outside.close();
  }
});

Deno.test("gateway: routes by its table, ignores sourceLabels, strips x-envoy-*, 404 NR", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - match:
    - sourceLabels: {app: nobody}
      uri: {prefix: /cart}
    route: [{destination: {host: cart}}]
  - route: [{destination: {host: web}}]
`;
  const cart = startUpstream("cart");
  const web = startUpstream("web");
  const proxy = startProxy(
    makeSnapshot(yaml, [instance("cart", cart), instance("web", web)], {
      proxy: {
        mode: "gateway",
        name: "ingress",
        namespace: "default",
        labels: { istio: "ingressgateway" },
        id: "ingress-1.default",
      },
    }),
    { handler: { gateway: "default/edge", internal: false, port: 8080 } },
  );
  try {
    const r = await request(proxy.port, "/cart/1", {
      host: "shop.example.com",
      headers: { "x-envoy-max-retries": "5", "x-envoy-upstream-rq-timeout-ms": "1" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-upstream"], "cart", "sourceLabels never apply on a gateway");
    const fwd = JSON.parse(r.body).headers;
    assert.equal(fwd["x-envoy-max-retries"], undefined);
    assert.equal(fwd["x-forwarded-for"], "127.0.0.1");
    const other = await request(proxy.port, "/", { host: "shop.example.com:8080" });
    assert.equal(other.headers["x-upstream"], "web");
    const none = await request(proxy.port, "/", { host: "unknown.example.com" });
    assert.equal(none.status, 404);
    assert.equal(proxy.records[2].flags, Flag.NR);
  } finally {
    await proxy.close();
    await cart.close();
    await web.close();
  }
});

Deno.test("snapshot updates swap atomically; a bad snapshot is rejected and the old serves", async () => {
  const vs = (subset: string) => `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: ${subset}}}]
    retries: {attempts: 1, retryOn: 5xx}
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
  const v1 = startUpstream("v1");
  const v2 = startUpstream("v2");
  const insts = [
    instance("reviews", v1, { version: "v1" }),
    instance("reviews", v2, { version: "v2" }),
  ];
  const pipeline = new Pipeline(makeSnapshot(vs("v1"), insts));
  const server = new HttpServer(pipeline.handler({ internal: true }));
  const listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
  server.serve(listener);
  const port = listener.port;
  try {
    assert.equal((await request(port, "/", { host: "reviews" })).headers["x-upstream"], "v1");
    const pools = pipeline.pools.size;
    pipeline.update(makeSnapshot(vs("v2"), insts, { version: "v2" }));
    assert.equal(pipeline.config.version, "v2");
    assert.equal((await request(port, "/", { host: "reviews" })).headers["x-upstream"], "v2");
    assert.equal(pipeline.pools.size, pools + 1, "the v1 pool survives: its cluster still exists");

    const bad = makeSnapshot(vs("v1"), insts, { version: "v3" });
    // An invalid retry condition slipped past validation: compilation must refuse the snapshot.
    const route = (bad.resources[0].spec as { http: { retries: { retryOn: string } }[] }).http[0];
    route.retries.retryOn = "sometimes";
    assert.throws(() => pipeline.update(bad), SnapshotCompileError);
    assert.equal(pipeline.config.version, "v2");
    assert.equal((await request(port, "/", { host: "reviews" })).headers["x-upstream"], "v2");

    // Endpoints gone: their pools close; the service keeps answering from what remains.
    pipeline.update(makeSnapshot(vs("v2"), [insts[1]], { version: "v4" }));
    assert.equal(pipeline.pools.size, 1);
    assert.equal((await request(port, "/", { host: "reviews" })).headers["x-upstream"], "v2");
    // And a dead endpoint is 503 UF after the default retry found no other host.
    pipeline.update(
      makeSnapshot(vs("v2"), [instance("reviews", closedPort(), { version: "v2" })], {
        version: "v5",
      }),
    );
    assert.equal((await request(port, "/", { host: "reviews" })).status, 503);
  } finally {
    await server.close(500);
    await pipeline.close();
    await v1.close();
    await v2.close();
  }
});
