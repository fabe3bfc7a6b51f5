/**
 * Retries, timeouts, override headers and circuit breaking over real sockets (SEMANTICS §2.11,
 * §2.12, §3.5, §9).
 */

import assert from "node:assert/strict";
import { Flag } from "../../mesh/pipeline/flags.ts";
import {
  closedPort,
  instance,
  load,
  makeSnapshot,
  request,
  startClosingUpstream,
  startProxy,
  startUpstream,
} from "./upstreams.ts";

function vs(extra: string): string {
  return `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
${extra}
`;
}

Deno.test("retryOn 5xx hides one always-failing instance of two", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const good = startUpstream("good");
  const proxy = startProxy(
    makeSnapshot(vs("    retries: {attempts: 3, retryOn: 5xx}"), [
      instance("ratings", bad),
      instance("ratings", good),
    ]),
  );
  try {
    const replies = await load(proxy.port, 40, { host: "ratings", concurrency: 4 });
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    assert.ok(bad.count > 0, "the failing instance was tried");
    const retried = proxy.records.filter((r) => r.attempts === 2);
    assert.equal(retried.length, bad.count, "each failure was retried once, on the other host");
    const seen = good.seen.find((s) => s.headers["x-envoy-attempt-count"] === "2");
    assert.ok(seen, "the retry carries x-envoy-attempt-count: 2");
  } finally {
    await proxy.close();
    await bad.close();
    await good.close();
  }
});

Deno.test("503 is not retried by default; exhausted retries add URX", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const proxy = startProxy(makeSnapshot(vs(""), [instance("ratings", bad)]));
  const proxy2 = startProxy(
    makeSnapshot(vs("    retries: {attempts: 2, retryOn: 5xx}"), [instance("ratings", bad)]),
  );
  try {
    const r = await request(proxy.port, "/", { host: "ratings" });
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-upstream"], "bad");
    assert.equal(bad.count, 1);
    const r2 = await request(proxy2.port, "/", { host: "ratings" });
    assert.equal(r2.status, 503);
    assert.equal(r2.headers["x-upstream"], "bad", "the last attempt's response is relayed");
    assert.equal(bad.count, 4);
    assert.equal(proxy2.records[0].attempts, 3);
    assert.equal(proxy2.records[0].flags, Flag.URX);
  } finally {
    await proxy.close();
    await proxy2.close();
    await bad.close();
  }
});

Deno.test("default policy retries a connect failure on another endpoint; alone: 503 UF,URX", async () => {
  const good = startUpstream("good");
  const dead = closedPort();
  const proxy = startProxy(
    makeSnapshot(vs(""), [instance("ratings", dead), instance("ratings", good)]),
  );
  const lonely = startProxy(makeSnapshot(vs(""), [instance("ratings", closedPort())]));
  try {
    const replies = await load(proxy.port, 20, { host: "ratings", concurrency: 2 });
    assert.deepEqual([...new Set(replies.map((r) => r.status))], [200]);
    assert.ok(proxy.records.some((r) => r.attempts === 2));
    const r = await request(lonely.port, "/", { host: "ratings" });
    assert.equal(r.status, 503);
    assert.match(r.body, /connection failure/);
    assert.equal(lonely.records[0].flags, Flag.UF | Flag.URX);
    assert.equal(lonely.records[0].attempts, 3);
  } finally {
    await proxy.close();
    await lonely.close();
    await good.close();
  }
});

Deno.test("an upstream closing without a response is 503 UC", async () => {
  const closing = startClosingUpstream();
  const proxy = startProxy(
    makeSnapshot(vs("    retries: {attempts: 0}"), [instance("ratings", closing.port)]),
  );
  try {
    const r = await request(proxy.port, "/", { host: "ratings" });
    assert.equal(r.status, 503);
    assert.equal(proxy.records[0].flags, Flag.UC);
  } finally {
    await proxy.close();
    closing.close();
  }
});

Deno.test("route timeout: 504 UT 'upstream request timeout' after about the timeout", async () => {
  const slow = startUpstream("slow", { delayMs: 2000 });
  const proxy = startProxy(makeSnapshot(vs("    timeout: 200ms"), [instance("ratings", slow)]));
  try {
    const t0 = performance.now();
    const r = await request(proxy.port, "/", { host: "ratings" });
    const took = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.equal(r.body, "upstream request timeout");
    assert.ok(took >= 180 && took < 1500, `took ${took} ms`);
    assert.equal(proxy.records[0].flags, Flag.UT);
    assert.equal(slow.seen[0].headers["x-envoy-expected-rq-timeout-ms"], "200");
  } finally {
    await proxy.close();
    await slow.close();
  }
});

Deno.test("per-try timeout is not retried by default (trap 4), but is with retryOn 5xx", async () => {
  const slow = startUpstream("slow", { delayMs: 1500 });
  const byDefault = startProxy(
    makeSnapshot(vs("    retries: {attempts: 3, perTryTimeout: 100ms}"), [
      instance("ratings", slow),
    ]),
  );
  const with5xx = startProxy(
    makeSnapshot(vs("    retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}"), [
      instance("ratings", slow),
    ]),
  );
  try {
    const r = await request(byDefault.port, "/", { host: "ratings" });
    assert.equal(r.status, 504);
    assert.equal(byDefault.records[0].attempts, 1);
    assert.equal(byDefault.records[0].flags, Flag.UT);
    assert.equal(slow.count, 1);
    const r2 = await request(with5xx.port, "/", { host: "ratings" });
    assert.equal(r2.status, 504);
    assert.equal(with5xx.records[0].attempts, 3);
    assert.equal(with5xx.records[0].flags, Flag.UT | Flag.URX);
    assert.equal(slow.count, 4);
  } finally {
    await byDefault.close();
    await with5xx.close();
    await slow.close();
  }
});

Deno.test("the route timeout bounds every attempt and backoff", async () => {
  const bad = startUpstream("bad", { status: 503, delayMs: 120 });
  const proxy = startProxy(
    makeSnapshot(vs("    timeout: 300ms\n    retries: {attempts: 10, retryOn: 5xx}"), [
      instance("ratings", bad),
    ]),
  );
  try {
    const t0 = performance.now();
    const r = await request(proxy.port, "/", { host: "ratings" });
    const took = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(took < 1500, `took ${took} ms`);
    assert.ok(proxy.records[0].attempts < 6, `attempts ${proxy.records[0].attempts}`);
  } finally {
    await proxy.close();
    await bad.close();
  }
});

Deno.test("override headers are honoured only from internal callers, and not forwarded", async () => {
  const slow = startUpstream("slow", { delayMs: 400 });
  const insts = [instance("ratings", slow)];
  const internal = startProxy(makeSnapshot(vs(""), insts));
  const external = startProxy(makeSnapshot(vs(""), insts), { handler: { internal: false } });
  try {
    const headers = {
      "x-envoy-upstream-rq-timeout-ms": "100",
      "x-envoy-decorator": "keep?",
      "x-forwarded-proto": "https",
    };
    const r1 = await request(internal.port, "/", { host: "ratings", headers });
    assert.equal(r1.status, 504);
    const r2 = await request(external.port, "/", { host: "ratings", headers });
    assert.equal(r2.status, 200);
    const fwd = JSON.parse(r2.body).headers;
    assert.equal(fwd["x-envoy-upstream-rq-timeout-ms"], undefined);
    assert.equal(fwd["x-envoy-decorator"], undefined, "external x-envoy-* headers are stripped");
    assert.equal(fwd["x-forwarded-proto"], "http", "an outside client cannot claim https");
    slow.behaviour.delayMs = 0;
    const r3 = await request(internal.port, "/", {
      host: "ratings",
      headers: {
        "x-envoy-upstream-rq-timeout-ms": "5000",
        "x-envoy-decorator": "kept",
        "x-forwarded-proto": "https",
      },
    });
    const fwd3 = JSON.parse(r3.body).headers;
    assert.equal(fwd3["x-envoy-upstream-rq-timeout-ms"], undefined, "consumed, not forwarded");
    assert.equal(fwd3["x-envoy-decorator"], "kept");
    assert.equal(fwd3["x-forwarded-proto"], "https", "a mesh caller's x-forwarded-proto is kept");
    assert.equal(fwd3["x-envoy-expected-rq-timeout-ms"], "5000");
  } finally {
    await internal.close();
    await external.close();
    await slow.close();
  }
});

Deno.test("x-envoy-max-retries replaces the route's retry count for internal callers", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const proxy = startProxy(
    makeSnapshot(vs("    retries: {attempts: 1, retryOn: 5xx}"), [instance("ratings", bad)]),
  );
  try {
    await request(proxy.port, "/", { host: "ratings", headers: { "x-envoy-max-retries": "3" } });
    assert.equal(bad.count, 4);
    assert.equal(proxy.records[0].attempts, 4);
  } finally {
    await proxy.close();
    await bad.close();
  }
});

Deno.test("circuit breaking: maxConnections 1, one pending, concurrency 3 → 503 UO", async () => {
  const dr = `
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`;
  const slow = startUpstream("slow", { delayMs: 400 });
  const proxy = startProxy(makeSnapshot(vs("") + dr, [instance("ratings", slow)]));
  try {
    const replies = await Promise.all(
      [0, 1, 2].map(() => request(proxy.port, "/", { host: "ratings" })),
    );
    const overflow = replies.filter((r) => r.status === 503);
    assert.equal(overflow.length, 1, JSON.stringify(replies.map((r) => r.status)));
    assert.equal(overflow[0].headers["x-envoy-overloaded"], "true");
    assert.equal(replies.filter((r) => r.status === 200).length, 2);
    assert.equal(proxy.records.filter((r) => r.flags === Flag.UO).length, 1);
    assert.equal(slow.count, 2);
    const cluster = proxy.pipeline.config.clusters().find((c) => c.host.startsWith("ratings"))!;
    assert.equal(cluster.admission.activeConnections, 0);
    assert.equal(cluster.admission.pendingRequests, 0);
    assert.equal(cluster.admission.activeRequests, 0);
  } finally {
    await proxy.close();
    await slow.close();
  }
});
