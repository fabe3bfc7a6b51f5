/** The retry loop: untried hosts first, the maxRetries breaker, backoff inside the timeout. */

import assert from "node:assert/strict";
import {
  instance,
  load,
  makeSnapshot,
  request,
  startProxy,
  startUpstream,
  tally,
} from "./upstreams.ts";

const vs = (retries: string, dr = "") => `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: svc}
spec:
  hosts: [svc]
  http:
  - route: [{destination: {host: svc}}]
    retries: ${retries}
${dr}`;

Deno.test("retries go to hosts not tried yet: two of three failing never surface", async () => {
  const ups = [
    startUpstream("bad1", { status: 500 }),
    startUpstream("bad2", { status: 502 }),
    startUpstream("good"),
  ];
  const proxy = startProxy(
    makeSnapshot(vs("{attempts: 2, retryOn: 5xx}"), ups.map((u) => instance("svc", u))),
  );
  try {
    const replies = await load(proxy.port, 30, { host: "svc", concurrency: 1 });
    assert.deepEqual(tally(replies), { good: 30 });
    assert.ok(proxy.records.every((r) => r.attempts <= 3));
  } finally {
    await proxy.close();
    await Promise.all(ups.map((u) => u.close()));
  }
});

Deno.test("retryIgnorePreviousHosts: false may retry the same host", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const proxy = startProxy(
    makeSnapshot(vs("{attempts: 2, retryOn: 5xx, retryIgnorePreviousHosts: false}"), [
      instance("svc", bad),
    ]),
  );
  try {
    const r = await request(proxy.port, "/", { host: "svc" });
    assert.equal(r.status, 503);
    assert.equal(bad.count, 3);
  } finally {
    await proxy.close();
    await bad.close();
  }
});

Deno.test("the maxRetries circuit breaker skips retries beyond its cap", async () => {
  const dr = `---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  trafficPolicy:
    connectionPool:
      http: {maxRetries: 1}
`;
  const bad = startUpstream("bad", { status: 503, delayMs: 150 });
  const proxy = startProxy(makeSnapshot(vs("{attempts: 1, retryOn: 5xx}", dr), [
    instance("svc", bad),
  ]));
  try {
    const replies = await Promise.all(
      [0, 1, 2, 3].map(() => request(proxy.port, "/", { host: "svc" })),
    );
    assert.ok(replies.every((r) => r.status === 503));
    // Four first attempts; retries in flight were capped at one at a time.
    assert.ok(bad.count >= 5 && bad.count < 8, `upstream saw ${bad.count}`);
    const cluster = proxy.pipeline.config.clusters().find((c) => c.host.startsWith("svc"))!;
    assert.ok(cluster.admission.overflows > 0);
    assert.equal(cluster.admission.activeRetries, 0);
  } finally {
    await proxy.close();
    await bad.close();
  }
});
