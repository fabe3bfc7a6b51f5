/**
 * Traffic management through real sidecars and a real control plane, every part a process:
 * weighted split, header routing, fault injection, a route timeout, retries hiding a failing
 * instance, outlier ejection, circuit breaking, and the metrics the proxies report.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  applyYaml,
  get,
  request,
  type SidecarHandle,
  startApp,
  startControl,
  startSidecar,
  stopAll,
  waitFor,
} from "./e2e_helpers.ts";

const SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

function reviewsVs(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
${http}`;
}

/** Sends `n` requests to `host` through `client`'s outbound; returns the parsed results. */
async function send(
  client: SidecarHandle,
  n: number,
  options: { host?: string; path?: string; headers?: Record<string, string> } = {},
) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = await request(client.outbound, {
      host: options.host ?? "reviews:9080",
      path: options.path ?? "/",
      headers: options.headers,
    });
    let version: string | undefined;
    try {
      version = JSON.parse(res.body).version;
    } catch {
      // a local reply
    }
    out.push({ ...res, version });
  }
  return out;
}

Deno.test({
  name: "sidecars route, split, inject faults, time out, retry, eject and shed load",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    try {
      const control = await startControl();
      const [clientApp, v1App, v2App, goodApp, badApp] = await Promise.all([
        startApp({ service: "client" }),
        startApp({ service: "reviews", version: "v1" }),
        startApp({ service: "reviews", version: "v2" }),
        startApp({ service: "backend", version: "v1" }),
        startApp({ service: "backend", version: "v2", failStatus: 503 }),
      ]);
      await applyYaml(control.url, SUBSETS, { wait: false });
      const [client, v1] = await Promise.all([
        startSidecar({ service: "client", appPort: clientApp.port, control: control.url }),
        startSidecar({
          service: "reviews",
          version: "v1",
          appPort: v1App.port,
          control: control.url,
        }),
        startSidecar({
          service: "reviews",
          version: "v2",
          appPort: v2App.port,
          control: control.url,
        }),
        startSidecar({
          service: "backend",
          version: "v1",
          appPort: goodApp.port,
          control: control.url,
        }),
        startSidecar({
          service: "backend",
          version: "v2",
          appPort: badApp.port,
          control: control.url,
        }),
      ]);
      // Every instance registered and visible to the client.
      await waitFor(async () => {
        const seen = new Set((await send(client, 6)).map((r) => r.version));
        const backend = new Set(
          (await send(client, 4, { host: "backend" })).map((r) => `${r.status}`),
        );
        return seen.has("v1") && seen.has("v2") && backend.has("200") && backend.has("503");
      }, "both reviews versions and both backend instances to be reachable");

      await t.step("weighted split sends traffic to both subsets", async () => {
        await applyYaml(
          control.url,
          reviewsVs(`  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
`),
        );
        const results = await send(client, 40);
        const v1n = results.filter((r) => r.version === "v1").length;
        const v2n = results.filter((r) => r.version === "v2").length;
        assert.equal(v1n + v2n, 40, JSON.stringify(results.map((r) => r.status)));
        assert.ok(v1n >= 6 && v2n >= 6, `v1 ${v1n}, v2 ${v2n}`);

        await applyYaml(
          control.url,
          reviewsVs(`  - route:
    - {destination: {host: reviews, subset: v1}, weight: 0}
    - {destination: {host: reviews, subset: v2}, weight: 100}
`),
        );
        const all = await send(client, 10);
        assert.deepEqual(all.map((r) => r.version), Array(10).fill("v2"));
      });

      await t.step("end-user: jason goes to v2, everyone else to v1", async () => {
        await applyYaml(
          control.url,
          reviewsVs(`  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`),
        );
        const jason = await send(client, 8, { headers: { "end-user": "jason" } });
        assert.deepEqual(jason.map((r) => r.version), Array(8).fill("v2"));
        const others = await send(client, 8, { headers: { "end-user": "alice" } });
        assert.deepEqual(others.map((r) => r.version), Array(8).fill("v1"));
        // Absolute-form (explicit proxy) requests route the same way.
        const abs = await request(client.outbound, {
          host: "reviews.default",
          absolute: true,
          headers: { "end-user": "jason" },
        });
        assert.equal(JSON.parse(abs.body).version, "v2");
      });

      await t.step("fault injection aborts and delays", async () => {
        await applyYaml(
          control.url,
          reviewsVs(`  - match: [{headers: {x-fault: {exact: abort}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-fault: {exact: delay}}}]
    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`),
        );
        const [aborted] = await send(client, 1, { headers: { "x-fault": "abort" } });
        assert.equal(aborted.status, 418);
        const started = Date.now();
        const [delayed] = await send(client, 1, { headers: { "x-fault": "delay" } });
        assert.equal(delayed.status, 200);
        assert.ok(Date.now() - started >= 900, `delayed by only ${Date.now() - started} ms`);
        const [plain] = await send(client, 1);
        assert.equal(plain.status, 200);
      });

      await t.step("a route timeout answers 504", async () => {
        await applyYaml(
          control.url,
          reviewsVs(`  - match: [{uri: {prefix: /delay}}]
    timeout: 0.5s
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`),
        );
        const started = Date.now();
        const [slow] = await send(client, 1, { path: "/delay/4000" });
        const took = Date.now() - started;
        assert.equal(slow.status, 504);
        assert.match(slow.body, /upstream request timeout/);
        assert.ok(took < 3500, `took ${took} ms`);
        const [fast] = await send(client, 1, { path: "/delay/10" });
        assert.equal(fast.status, 200);
      });

      await t.step("circuit breaking sheds load with x-envoy-overloaded", async () => {
        await applyYaml(
          control.url,
          `${
            SUBSETS.replace(
              "  subsets:",
              `  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}
  subsets:`,
            )
          }---
${reviewsVs("  - route: [{destination: {host: reviews, subset: v1}}]\n")}`,
        );
        const results = await Promise.all(
          Array.from(
            { length: 6 },
            () => request(client.outbound, { host: "reviews", path: "/delay/1500" }),
          ),
        );
        const overloaded = results.filter((r) =>
          r.status === 503 && r.headers["x-envoy-overloaded"] === "true"
        );
        assert.ok(overloaded.length >= 1, JSON.stringify(results.map((r) => r.status)));
        assert.ok(results.some((r) => r.status === 200), JSON.stringify(results));
        await applyYaml(control.url, SUBSETS);
      });

      await t.step("retries hide a failing instance", async () => {
        await applyYaml(
          control.url,
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend}
spec:
  hosts: [backend]
  http:
  - route: [{destination: {host: backend}}]
    retries: {attempts: 3, retryOn: "5xx,connect-failure"}
`,
        );
        const results = await send(client, 20, { host: "backend" });
        assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
        assert.ok(results.every((r) => r.version === "v1"));
      });

      await t.step("outlier detection ejects the failing instance", async () => {
        await applyYaml(
          control.url,
          `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend}
spec:
  hosts: [backend]
  http:
  - route: [{destination: {host: backend}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend}
spec:
  host: backend
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 1s
      baseEjectionTime: 60s
      maxEjectionPercent: 100
`,
        );
        // Without retries the failing instance shows until it is ejected.
        await waitFor(async () => {
          await send(client, 2, { host: "backend" });
          const clusters = await get(client.admin, "/clusters");
          return /outbound\|80\|\|backend\.default\.svc\.cluster\.local::[^:]+:\d+::health_flags::\/failed_outlier_check/
            .test(clusters.body);
        }, "the failing backend to be ejected");
        const results = await send(client, 12, { host: "backend" });
        assert.deepEqual(results.map((r) => r.status), Array(12).fill(200));
      });

      await t.step("proxies report Istio metrics", async () => {
        const source = (await get(client.admin, "/stats/prometheus")).body;
        assert.match(
          source,
          /istio_requests_total\{reporter="source",source_workload="client",[^}]*destination_version="v2",[^}]*destination_service="reviews\.default\.svc\.cluster\.local",[^}]*response_code="200",response_flags="-"[^}]*\} \d+/,
        );
        assert.match(source, /response_code="418",response_flags="FI"/);
        assert.match(source, /response_code="504",response_flags="UT"/);
        assert.match(source, /response_code="503",response_flags="UO"/);
        assert.match(source, /istio_request_duration_milliseconds_bucket\{reporter="source",/);
        const destination = (await get(v1.admin, "/stats/prometheus")).body;
        assert.match(
          destination,
          /istio_requests_total\{reporter="destination",[^}]*destination_workload="reviews-v1",[^}]*response_code="200"/,
        );
        const dump = JSON.parse((await get(client.admin, "/config_dump")).body);
        assert.equal(dump.identity.name, "client");
        assert.equal(typeof dump.snapshot.version, "string");
        assert.ok(Array.isArray(dump.config.clusters));
      });
    } finally {
      await stopAll();
    }
  },
});
