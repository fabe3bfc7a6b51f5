/** Active health checks driven directly, one round at a time. */

import assert from "node:assert/strict";
import { HealthChecker } from "../../mesh/pipeline/health_check.ts";
import { compileSnapshot } from "../../mesh/pipeline/compile.ts";
import { closedPort, HEALTH_PATH, instance, makeSnapshot, startUpstream } from "./upstreams.ts";

const DR = `
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  subsets: [{name: v1, labels: {version: v1}}]
`;

Deno.test("non-200 fails at once; failures need the threshold; successes bring it back", async () => {
  const a = startUpstream("a", { healthStatus: 503 });
  const dead = closedPort();
  const config = compileSnapshot(
    makeSnapshot(DR, [instance("svc", a, { version: "v1" }), instance("svc", dead)]),
  );
  const bare = config.clusterFor("svc.default.svc.cluster.local", "", 80);
  const v1 = config.clusterFor("svc.default.svc.cluster.local", "v1", 80);
  const checker = new HealthChecker({
    path: HEALTH_PATH,
    timeoutMs: 500,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
  });
  try {
    const health = (key: string) => bare.endpoints.get(key)!.health;
    const aKey = `127.0.0.1:${a.port}`;
    const deadKey = `127.0.0.1:${dead}`;
    await checker.runOnce(config);
    assert.equal(health(aKey), "unhealthy", "503 fails at once");
    assert.equal(v1.endpoints.get(aKey)!.health, "unhealthy", "every cluster's record follows");
    assert.equal(health(deadKey), "healthy", "one connection failure is below the threshold");
    await checker.runOnce(config);
    assert.equal(health(deadKey), "unhealthy");
    a.behaviour.healthStatus = 200;
    await checker.runOnce(config);
    assert.equal(health(aKey), "unhealthy", "one success is below healthyThreshold");
    await checker.runOnce(config);
    assert.equal(health(aKey), "healthy");
    a.behaviour.headers = { "x-envoy-immediate-health-check-fail": "true" };
    await checker.runOnce(config);
    assert.equal(health(aKey), "unhealthy");
    assert.equal(a.healthChecks, 5);
    assert.equal(checker.status().length, 2);
  } finally {
    checker.close();
    await a.close();
  }
});

Deno.test("only: endpoints it rejects are never probed; probes carry the mesh marker", async () => {
  // A sidecar stand-in that records the probe's headers.
  let probe: Headers | undefined;
  const ac = new AbortController();
  const sidecar = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    (req) => {
      probe = req.headers;
      return new Response("ok");
    },
  );
  const external = startUpstream("ext", { healthStatus: 404 });
  const config = compileSnapshot(
    makeSnapshot("", [
      instance("svc", sidecar.addr.port),
      instance("svc", external, {}, { source: "serviceentry" }),
    ]),
  );
  const cluster = config.clusterFor("svc.default.svc.cluster.local", "", 80);
  const checker = new HealthChecker({
    timeoutMs: 2000,
    only: (endpoint) => endpoint.source === "registry",
  });
  try {
    await checker.runOnce(config);
    await checker.runOnce(config);
    assert.equal(external.healthChecks, 0, "a ServiceEntry endpoint is not probed");
    assert.equal(cluster.endpoints.get(`127.0.0.1:${external.port}`)!.health, "healthy");
    assert.deepEqual(checker.status().map((s) => s.address), [`127.0.0.1:${sidecar.addr.port}`]);
    assert.equal(checker.status()[0].checks, 2);
    assert.equal(probe?.get("x-mesh-health-check"), "1");
    assert.equal(probe?.get("user-agent"), "mesh-health-check/1");
  } finally {
    checker.close();
    ac.abort();
    await sidecar.finished;
    await external.close();
  }
});
