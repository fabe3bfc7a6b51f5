/**
 * Routing scenarios over real sockets: YAML → snapshot → Pipeline → HttpServer → real upstreams.
 */

import assert from "node:assert/strict";
import {
  Client,
  instance,
  load,
  makeSnapshot,
  request,
  startProxy,
  startUpstream,
  tally,
} from "./upstreams.ts";
import { Flag } from "../../mesh/pipeline/flags.ts";

const REVIEWS_DR = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`;

async function withReviews(
  yaml: string,
  fn: (port: number, ups: ReturnType<typeof startUpstream>[], records: unknown[]) => Promise<void>,
) {
  const ups = ["v1", "v2", "v3"].map((v) => startUpstream(`reviews-${v}`));
  const insts = ups.map((u, i) => instance("reviews", u, { version: `v${i + 1}` }));
  const proxy = startProxy(makeSnapshot(yaml + "\n---\n" + REVIEWS_DR, insts));
  try {
    await fn(proxy.port, ups, proxy.records);
  } finally {
    await proxy.close();
    await Promise.all(ups.map((u) => u.close()));
  }
}

Deno.test("75/25 split within ±5% over 2,000 requests", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}
`;
  await withReviews(yaml, async (port) => {
    const replies = await load(port, 2000, { host: "reviews", concurrency: 8 });
    const t = tally(replies);
    assert.equal(replies.length, 2000);
    assert.equal((t["reviews-v1"] ?? 0) + (t["reviews-v2"] ?? 0), 2000, JSON.stringify(t));
    const share = t["reviews-v1"] / 2000;
    assert.ok(share > 0.70 && share < 0.80, `v1 share ${share}`);
  });
});

Deno.test("header rule before the catch-all: end-user jason goes to v2 (precedence)", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /api/v1}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`;
  await withReviews(yaml, async (port) => {
    const c = new Client(port);
    try {
      for (let i = 0; i < 5; i++) {
        const jason = await c.request("/api/v1/x", {
          host: "reviews",
          headers: { "end-user": "jason" },
        });
        assert.equal(jason.headers["x-upstream"], "reviews-v2");
        const api = await c.request("/api/v1/x", { host: "reviews" });
        assert.equal(api.headers["x-upstream"], "reviews-v3");
        const other = await c.request("/api/v2", {
          host: "reviews.default.svc.cluster.local",
          headers: { "end-user": "mary" },
        });
        assert.equal(other.headers["x-upstream"], "reviews-v1");
      }
    } finally {
      c.close();
    }
  });
});

Deno.test("no matching rule is 404 NR; unknown subset is 503 NC; empty subset is 503 UH", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /nc}}]
    route: [{destination: {host: reviews, subset: v9}}]
  - match: [{uri: {prefix: /uh}}]
    route: [{destination: {host: reviews, subset: empty}}]
  - match: [{uri: {prefix: /ok}}]
    route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews-extra}
spec:
  host: reviews.default.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: empty, labels: {version: nope}}
`;
  const up = startUpstream("reviews-v1");
  const proxy = startProxy(
    makeSnapshot(yaml, [instance("reviews", up, { version: "v1" })]),
  );
  try {
    const nr = await request(proxy.port, "/nothing", { host: "reviews" });
    assert.equal(nr.status, 404);
    assert.equal(nr.body, "");
    const nc = await request(proxy.port, "/nc", { host: "reviews" });
    assert.equal(nc.status, 503);
    const uh = await request(proxy.port, "/uh", { host: "reviews" });
    assert.equal(uh.status, 503);
    assert.equal(uh.body, "no healthy upstream");
    const ok = await request(proxy.port, "/ok", { host: "reviews" });
    assert.equal(ok.status, 200);
    const flags = proxy.records.map((r) => r.flags);
    assert.deepEqual(flags, [Flag.NR, Flag.NC, Flag.UH, 0]);
    assert.equal(up.count, 1);
  } finally {
    await proxy.close();
    await up.close();
  }
});

Deno.test("subset policy applies only when the route names the subset (Rule evaluation)", async () => {
  // The v1 subset allows one connection and no pending request. Routed to the bare host, the
  // top-level (unlimited) policy applies and concurrent requests all pass; routed to v1, the
  // second concurrent request overflows.
  const dr = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 1}
        http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}
`;
  const bare = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {prefix: /subset}}]
    route: [{destination: {host: ratings, subset: v1}}]
  - route: [{destination: {host: ratings}}]
`;
  const up = startUpstream("ratings-v1", { delayMs: 300 });
  const proxy = startProxy(
    makeSnapshot(bare + "\n---\n" + dr, [instance("ratings", up, { version: "v1" })]),
  );
  try {
    const plain = await Promise.all(
      [0, 1, 2].map(() => request(proxy.port, "/", { host: "ratings" })),
    );
    assert.deepEqual(plain.map((r) => r.status), [200, 200, 200]);
    const subset = await Promise.all(
      [0, 1, 2].map(() => request(proxy.port, "/subset", { host: "ratings" })),
    );
    const statuses = subset.map((r) => r.status).sort();
    assert.ok(statuses.includes(503), `expected an overflow, got ${statuses}`);
    assert.ok(statuses.includes(200));
  } finally {
    await proxy.close();
    await up.close();
  }
});

Deno.test("redirect, direct response, rewrite and header operations", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: example.com, redirectCode: 302}
  - match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
    headers:
      response:
        set: {content-type: text/plain}
  - match: [{uri: {prefix: /legacy}}]
    rewrite: {uri: /v2}
    headers:
      request:
        set: {x-route: r}
        remove: [x-secret]
      response:
        add: {x-resp: route}
    route:
    - destination: {host: reviews, subset: v1}
      headers:
        request:
          set: {x-route: d}
        response:
          remove: [x-upstream-extra]
  - route: [{destination: {host: reviews, subset: v1}}]
`;
  await withReviews(yaml, async (port, ups) => {
    ups[0].behaviour.headers = { "x-upstream-extra": "hidden" };
    const redirect = await request(port, "/old/page?q=1", { host: "reviews" });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers["location"], "http://example.com/new?q=1");
    const direct = await request(port, "/teapot", { host: "reviews" });
    assert.equal(direct.status, 418);
    assert.equal(direct.body, "short and stout");
    assert.equal(direct.headers["content-type"], "text/plain");
    const rewritten = await request(port, "/legacy/items?x=1", {
      host: "reviews",
      headers: { "x-secret": "s", "x-route": "client" },
    });
    assert.equal(rewritten.status, 200);
    const seen = JSON.parse(rewritten.body);
    assert.equal(seen.path, "/v2/items?x=1");
    assert.equal(seen.headers["x-route"], "d");
    assert.equal(seen.headers["x-secret"], undefined);
    assert.equal(seen.headers["x-envoy-original-path"], "/legacy/items?x=1");
    assert.equal(seen.headers["x-envoy-attempt-count"], "1");
    assert.equal(seen.headers["x-envoy-expected-rq-timeout-ms"], "15000");
    assert.equal(rewritten.headers["x-resp"], "route");
    assert.equal(rewritten.headers["x-upstream-extra"], undefined);
    const plain = await request(port, "/plain", { host: "reviews" });
    assert.equal(plain.headers["x-upstream-extra"], "hidden");
  });
});

Deno.test("CORS preflight answered by the proxy; actual requests get CORS headers", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - corsPolicy:
      allowOrigins: [{exact: "https://app.example.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-upstream]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: reviews, subset: v1}}]
`;
  await withReviews(yaml, async (port, ups) => {
    const pre = await request(port, "/x", {
      host: "reviews",
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers["access-control-allow-origin"], "https://app.example.com");
    assert.equal(pre.headers["access-control-allow-methods"], "GET,POST");
    assert.equal(pre.headers["access-control-max-age"], "86400");
    assert.equal(ups[0].count, 0);
    const actual = await request(port, "/x", {
      host: "reviews",
      headers: { origin: "https://app.example.com" },
    });
    assert.equal(actual.status, 200);
    assert.equal(actual.headers["access-control-allow-origin"], "https://app.example.com");
    assert.equal(actual.headers["access-control-expose-headers"], "x-upstream");
    const other = await request(port, "/x", {
      host: "reviews",
      method: "OPTIONS",
      headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" },
    });
    // unmatched preflights go upstream (FORWARD)
    assert.equal(other.headers["x-upstream"], "reviews-v1");
    assert.equal(other.headers["access-control-allow-origin"], undefined);
  });
});
