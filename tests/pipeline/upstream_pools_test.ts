/** Pools per (cluster, endpoint): reused across snapshots while they survive, closed when gone. */

import assert from "node:assert/strict";
import { UpstreamPools } from "../../mesh/pipeline/upstream_pools.ts";
import { bookinfo, compile } from "./snapshot_fixture.ts";

const DR = (max: number) => `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: ${max}, connectTimeout: 2s}
      http: {maxRequestsPerConnection: 7, idleTimeout: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
`;

function reviews(config: ReturnType<typeof compile>) {
  return config.clusterFor("reviews.default.svc.cluster.local", "", 80);
}

Deno.test("a pool carries the cluster's connection-pool settings and is found again", () => {
  const pools = new UpstreamPools();
  const config = compile(DR(3), bookinfo());
  const cluster = reviews(config);
  const ep = cluster.endpoints.endpoints[0];
  const pool = pools.forEndpoint(cluster, ep);
  assert.equal(pool.address, ep.key);
  assert.equal(pool.options.maxConnections, 3);
  assert.equal(pool.options.connectTimeoutMs, 2000);
  assert.equal(pool.options.maxRequestsPerConnection, 7);
  assert.equal(pool.options.idleTimeoutMs, 30_000);
  assert.equal(pools.forEndpoint(cluster, ep), pool);
  pools.close();
});

Deno.test("reconcile keeps surviving pools and closes the ones gone or changed", () => {
  const pools = new UpstreamPools();
  const first = compile(DR(3), bookinfo());
  const cluster = reviews(first);
  const [a, b] = cluster.endpoints.endpoints;
  const pa = pools.forEndpoint(cluster, a);
  const pb = pools.forEndpoint(cluster, b);
  // Same policy, one endpoint fewer: the survivor keeps its pool.
  const fewer = bookinfo().filter((i) =>
    !(i.host.startsWith("reviews") && i.address === b.address)
  );
  const second = compile(DR(3), fewer, undefined, first);
  pools.reconcile(second);
  const c2 = reviews(second);
  const a2 = c2.endpoints.get(a.key)!;
  assert.equal(pools.forEndpoint(c2, a2), pa);
  assert.equal(pools.size, 1);
  assert.notEqual(pb, undefined);
  // Changed limits: a new pool.
  const third = compile(DR(9), fewer, undefined, second);
  pools.reconcile(third);
  const c3 = reviews(third);
  const p3 = pools.forEndpoint(c3, c3.endpoints.get(a.key)!);
  assert.notEqual(p3, pa);
  assert.equal(p3.options.maxConnections, 9);
  pools.close();
});

Deno.test("pass-through pools are keyed by address and bounded", () => {
  const pools = new UpstreamPools({ maxPassthroughPools: 2 });
  const p1 = pools.forAddress("10.0.0.1", 80);
  assert.equal(pools.forAddress("10.0.0.1", 80), p1);
  pools.forAddress("10.0.0.2", 80);
  pools.forAddress("10.0.0.3", 80);
  assert.equal(pools.size, 2);
  assert.notEqual(pools.forAddress("10.0.0.1", 80), p1, "the oldest was closed");
  pools.close();
});
