/** Fault-injection scenarios (spec "Injecting faults", SEMANTICS §2.13) over real sockets. */

import assert from "node:assert/strict";
import { Flag } from "../../mesh/pipeline/flags.ts";
import { sidecar } from "./snapshot_fixture.ts";
import {
  Client,
  instance,
  load,
  makeSnapshot,
  request,
  startProxy,
  startUpstream,
} from "./upstreams.ts";

const RATINGS_DR = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
`;

Deno.test("delay 200 ms for 50% of 100 requests (the spec's 5 s / 10% scaled down)", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      delay: {percentage: {value: 50}, fixedDelay: 200ms}
    route: [{destination: {host: ratings, subset: v1}}]
`;
  const up = startUpstream("ratings-v1");
  const proxy = startProxy(
    makeSnapshot(yaml + "---\n" + RATINGS_DR, [instance("ratings", up, { version: "v1" })]),
  );
  try {
    const clients = Array.from({ length: 10 }, () => new Client(proxy.port));
    const timings: number[] = [];
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const r = await c.request("/", { host: "ratings" });
        timings.push(performance.now() - t0);
        assert.equal(r.status, 200);
      }
      c.close();
    }));
    const delayed = proxy.records.filter((r) => r.flags & Flag.DI);
    assert.ok(delayed.length >= 30 && delayed.length <= 70, `delayed ${delayed.length}`);
    for (const r of delayed) assert.ok(r.duration >= 190, `delayed request took ${r.duration} ms`);
    const slow = timings.filter((t) => t >= 190).length;
    assert.ok(slow >= delayed.length, `${slow} slow for ${delayed.length} delayed`);
    assert.equal(up.count, 100);
  } finally {
    await proxy.close();
    await up.close();
  }
});

Deno.test("abort 400 for 10% of 1,000 requests; aborts never reach upstream", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      abort: {percentage: {value: 10}, httpStatus: 400}
    retries: {attempts: 3, retryOn: "5xx,retriable-4xx,400"}
    route: [{destination: {host: ratings, subset: v1}}]
`;
  const up = startUpstream("ratings-v1");
  const proxy = startProxy(
    makeSnapshot(
      yaml + "---\n" + RATINGS_DR,
      [instance("ratings", up, { version: "v1" })],
    ),
  );
  try {
    const replies = await load(proxy.port, 1000, { host: "ratings", concurrency: 8 });
    const aborted = replies.filter((r) => r.status === 400);
    assert.ok(aborted.length >= 70 && aborted.length <= 130, `aborted ${aborted.length}`);
    assert.equal(aborted[0].body, "fault filter abort");
    assert.equal(up.count, 1000 - aborted.length, "aborted requests are never retried upstream");
    assert.equal(proxy.records.filter((r) => r.flags & Flag.FI).length, aborted.length);
  } finally {
    await proxy.close();
    await up.close();
  }
});

Deno.test("reviews v2 → ratings: delay all, abort 10% (the spec's combined example)", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match:
    - sourceLabels: {app: reviews, version: v2}
    fault:
      delay: {fixedDelay: 100ms}
      abort: {percent: 10, httpStatus: 400}
    route: [{destination: {host: ratings, subset: v1}}]
  - route: [{destination: {host: ratings, subset: v1}}]
`;
  const up = startUpstream("ratings-v1");
  const insts = [instance("ratings", up, { version: "v1" })];
  const v2 = startProxy(
    makeSnapshot(yaml + "---\n" + RATINGS_DR, insts, {
      proxy: sidecar({ name: "reviews", labels: { app: "reviews", version: "v2" } }),
    }),
  );
  const v1 = startProxy(
    makeSnapshot(yaml + "---\n" + RATINGS_DR, insts, {
      proxy: sidecar({ name: "reviews", labels: { app: "reviews", version: "v1" } }),
    }),
  );
  try {
    const replies = await load(v2.port, 200, { host: "ratings", concurrency: 20 });
    const aborted = replies.filter((r) => r.status === 400).length;
    assert.ok(aborted >= 6 && aborted <= 40, `aborted ${aborted}`);
    assert.ok(v2.records.every((r) => r.flags & Flag.DI && r.duration >= 95));
    assert.equal(replies.filter((r) => r.status === 200).length, 200 - aborted);
    const t0 = performance.now();
    const plain = await request(v1.port, "/", { host: "ratings" });
    assert.equal(plain.status, 200);
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(v1.records[0].flags, 0);
  } finally {
    await v1.close();
    await v2.close();
    await up.close();
  }
});

Deno.test("a fault delay is not counted in the route timeout", async () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      delay: {percentage: {value: 100}, fixedDelay: 400ms}
    timeout: 200ms
    route: [{destination: {host: ratings, subset: v1}}]
`;
  const up = startUpstream("ratings-v1");
  const proxy = startProxy(
    makeSnapshot(yaml + "---\n" + RATINGS_DR, [instance("ratings", up, { version: "v1" })]),
  );
  try {
    const r = await request(proxy.port, "/", { host: "ratings" });
    assert.equal(r.status, 200);
    assert.equal(proxy.records[0].flags, Flag.DI);
  } finally {
    await proxy.close();
    await up.close();
  }
});
