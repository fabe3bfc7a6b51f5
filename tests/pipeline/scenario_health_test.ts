/**
 * Passive and active health over real sockets: outlier ejection and return (SEMANTICS §3.6),
 * locality failover driven by ejections (§3.4, §8.3), active health checks (§8.2).
 */

import assert from "node:assert/strict";
import { sidecar } from "./snapshot_fixture.ts";
import {
  Client,
  HEALTH_PATH,
  instance,
  makeSnapshot,
  startProxy,
  startUpstream,
  tally,
  waitFor,
} from "./upstreams.ts";

function config(trafficPolicy: string): string {
  return `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
${trafficPolicy}
`;
}

Deno.test("outlier detection ejects a failing instance within a few requests; it returns", async () => {
  const bad = startUpstream("bad", { status: 500 });
  const good = startUpstream("good");
  const proxy = startProxy(
    makeSnapshot(
      config(`    outlierDetection:
      consecutive5xxErrors: 3
      interval: 100ms
      baseEjectionTime: 700ms
      maxEjectionPercent: 100`),
      [instance("ratings", bad), instance("ratings", good)],
    ),
  );
  const c = new Client(proxy.port);
  try {
    const first = [];
    for (let i = 0; i < 10; i++) first.push(await c.request("/", { host: "ratings" }));
    assert.equal(bad.count, 3, "ejected after 3 consecutive 5xx");
    const after = [];
    for (let i = 0; i < 20; i++) after.push(await c.request("/", { host: "ratings" }));
    assert.deepEqual(tally(after), { good: 20 });
    bad.behaviour.status = 200;
    const back = await waitFor(async () => {
      const r = await c.request("/", { host: "ratings" });
      return r.headers["x-upstream"] === "bad";
    }, 5000);
    assert.ok(back, "the ejected host returned after its ejection time");
  } finally {
    c.close();
    await proxy.close();
    await bad.close();
    await good.close();
  }
});

Deno.test("locality failover: local endpoints failing move traffic to the remote locality", async () => {
  const local = startUpstream("local", { status: 503 });
  const remote = startUpstream("remote");
  const proxy = startProxy(
    makeSnapshot(
      config(`    outlierDetection:
      consecutive5xxErrors: 2
      interval: 100ms
      baseEjectionTime: 30s
      maxEjectionPercent: 100`),
      [
        instance("ratings", local, {}, { locality: "r1/z1/s1" }),
        instance("ratings", remote, {}, { locality: "r2/z2/s2" }),
      ],
      { proxy: sidecar({ locality: "r1/z1/s1" }) },
    ),
  );
  const c = new Client(proxy.port);
  try {
    const early = [];
    for (let i = 0; i < 2; i++) early.push(await c.request("/", { host: "ratings" }));
    assert.deepEqual(tally(early), { local: 2 }, "the local locality is preferred while healthy");
    const later = [];
    for (let i = 0; i < 20; i++) later.push(await c.request("/", { host: "ratings" }));
    assert.deepEqual(tally(later), { remote: 20 });
  } finally {
    c.close();
    await proxy.close();
    await local.close();
    await remote.close();
  }
});

Deno.test("active health checks: 503 sheds at once, 200 brings the host back", async () => {
  const a = startUpstream("a", { healthStatus: 503 });
  const b = startUpstream("b");
  const proxy = startProxy(
    makeSnapshot(config("    loadBalancer: {simple: ROUND_ROBIN}"), [
      instance("ratings", a),
      instance("ratings", b),
    ]),
    {
      pipeline: {
        healthCheck: { path: HEALTH_PATH, intervalMs: 50, timeoutMs: 1000, healthyThreshold: 2 },
      },
    },
  );
  const c = new Client(proxy.port);
  try {
    assert.ok(await waitFor(() => a.healthChecks >= 1 && b.healthChecks >= 1));
    assert.ok(await waitFor(() => proxy.pipeline.healthStatus().some((s) => !s.healthy)));
    const shed = [];
    for (let i = 0; i < 10; i++) shed.push(await c.request("/", { host: "ratings" }));
    assert.deepEqual(tally(shed), { b: 10 });
    a.behaviour.healthStatus = 200;
    const checks = a.healthChecks;
    assert.ok(await waitFor(() => proxy.pipeline.healthStatus().every((s) => s.healthy)));
    assert.ok(a.healthChecks >= checks + 2, "healthyThreshold successes were needed");
    const back = [];
    for (let i = 0; i < 10; i++) back.push(await c.request("/", { host: "ratings" }));
    assert.ok((tally(back).a ?? 0) >= 3, JSON.stringify(tally(back)));
  } finally {
    c.close();
    await proxy.close();
    await a.close();
    await b.close();
  }
});

Deno.test("a successful active health check un-ejects an outlier-ejected host", async () => {
  const a = startUpstream("a", { status: 500 });
  const b = startUpstream("b");
  const proxy = startProxy(
    makeSnapshot(
      config(`    outlierDetection:
      consecutive5xxErrors: 1
      interval: 10s
      baseEjectionTime: 60s
      maxEjectionPercent: 100`),
      [instance("ratings", a), instance("ratings", b)],
    ),
    // Checks pass all along, but only every 1.5 s so the ejection is observable first.
    { pipeline: { healthCheck: { path: HEALTH_PATH, intervalMs: 1500 } } },
  );
  const c = new Client(proxy.port);
  try {
    for (let i = 0; i < 4; i++) await c.request("/", { host: "ratings" });
    assert.equal(a.count, 1, "ejected after one 5xx");
    a.behaviour.status = 200;
    const checks = a.healthChecks;
    assert.ok(await waitFor(() => a.healthChecks > checks, 5000));
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await c.request("/", { host: "ratings" }));
    assert.ok((tally(replies).a ?? 0) >= 2, JSON.stringify(tally(replies)));
  } finally {
    c.close();
    await proxy.close();
    await a.close();
    await b.close();
  }
});
