/**
 * Unit tests of the proxy's shared parts: identity from flags, readiness, drain, metrics
 * rendering and the admin endpoints.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../../mesh/cli/mod.ts";
import { Endpoint, Flag, type RequestRecord } from "../../mesh/pipeline/mod.ts";
import {
  drainServers,
  exitCodeOf,
  handleAdmin,
  parseDrainTimeout,
  parseLabels,
  proxyIdentity,
  ProxyMetrics,
  Readiness,
  sidecarCommand,
  sidecarSettings,
} from "../../proxy/mod.ts";

Deno.test("parseLabels splits repeated k=v lists and rejects bad entries", () => {
  assert.deepEqual(parseLabels(["a=1,b=x.y", "team=web"]), { a: "1", b: "x.y", team: "web" });
  assert.deepEqual(parseLabels(undefined), {});
  assert.throws(() => parseLabels(["oops"]), UsageError);
  assert.throws(() => parseLabels(["=v"]), /give key=value pairs/);
  assert.throws(() => parseLabels(["k=has space"]), /label value/);
});

Deno.test("a sidecar identity always carries app and version labels", () => {
  const id = proxyIdentity({
    mode: "sidecar",
    name: "reviews",
    namespace: "default",
    version: "v2",
    labels: { app: "other", team: "a" },
    locality: "r/z",
  });
  assert.deepEqual(id.labels, { app: "reviews", version: "v2", team: "a" });
  assert.match(id.id, /^reviews-v2-[0-9a-f]{4}\.default$/);
  assert.equal(id.locality, "r/z");
  const gw = proxyIdentity({ mode: "gateway", name: "ingress", namespace: "edge" });
  assert.deepEqual(gw.labels, {});
});

Deno.test("sidecar flags: defaults, env twins, exec command and errors", () => {
  const parse = (argv: string[], env: Record<string, string> = {}) =>
    sidecarSettings(parseArgs(argv, sidecarCommand.flags, env));
  const s = parse(["--service", "web", "--app-port", "8080", "--", "./web", "--flag"], {
    MESH_CONTROL: "http://127.0.0.1:15010",
    MESH_LABELS: "tier=front",
  });
  assert.equal(s.inboundPort, 15006);
  assert.equal(s.outboundPort, 15001);
  assert.equal(s.adminPort, 15000);
  assert.equal(s.drainTimeoutMs, 5000);
  assert.equal(s.control, "http://127.0.0.1:15010");
  assert.deepEqual(s.labels, { tier: "front" });
  assert.deepEqual(s.exec, ["./web", "--flag"]);
  assert.equal(s.stateDir, ".state/sidecar/default/web");
  assert.throws(() => parse(["--service", "web"]), /--app-port is required/);
  assert.throws(() => parse(["--service", "web", "--app-port", "x"]), /--app-port x/);
  assert.throws(
    () => parse(["--service", "web", "--app-port", "1", "--drain-timeout", "soon"]),
    /--drain-timeout soon/,
  );
  assert.throws(() => parse(["--service", "web", "--app-port", "1", "extra"]), /after '--'/);
});

Deno.test("readiness needs a snapshot and listeners, and ends with draining", () => {
  const r = new Readiness();
  assert.equal(r.ready, false);
  r.markListening();
  assert.match(r.reason(), /first configuration snapshot/);
  r.markConfigured();
  assert.equal(r.ready, true);
  r.startDraining();
  assert.equal(r.ready, false);
  assert.equal(r.reason(), "draining");
  const res = handleAdmin(
    // deno-lint-ignore no-explicit-any
    { readiness: r } as any,
    new Request("http://127.0.0.1/ready"),
  );
  assert.equal(res.status, 503);
});

Deno.test("drainServers holds, then closes everything within the budget", async () => {
  const calls: [number, number][] = [];
  const started = Date.now();
  const server = {
    close(graceMs = 0) {
      calls.push([Date.now() - started, graceMs]);
      return Promise.resolve();
    },
  };
  await drainServers([server, server], { timeoutMs: 400, holdMs: 1000 });
  assert.equal(calls.length, 2);
  assert.ok(calls[0][0] >= 190, `closed after ${calls[0][0]} ms`); // hold capped at half
  assert.ok(calls[0][1] <= 210 && calls[0][1] >= 0);
  assert.equal(parseDrainTimeout("0s"), 0);
  assert.equal(exitCodeOf({ success: false, code: 143, signal: "SIGTERM" }), 143);
  assert.equal(exitCodeOf({ success: false, code: 3, signal: null }), 3);
});

Deno.test("metrics render istio_requests_total and duration histograms per series", () => {
  const id = proxyIdentity({ mode: "sidecar", name: "client", namespace: "default" });
  const metrics = new ProxyMetrics(id);
  const endpoint = new Endpoint({
    address: "127.0.0.1",
    port: 1,
    labels: { app: "reviews", version: "v2" },
  });
  const record = {
    flags: 0,
    status: 200,
    duration: 7,
    requestBytes: 0,
    responseBytes: 10,
    cluster: "outbound|9080|v2|reviews.default.svc.cluster.local",
    authority: "reviews:9080",
    endpoint,
  } as unknown as RequestRecord;
  metrics.observe(record);
  metrics.observe({ ...record, authority: "reviews" } as unknown as RequestRecord);
  metrics.observe({ ...record, status: 503, flags: Flag.UO } as unknown as RequestRecord);
  metrics.observeInbound({
    status: 200,
    flag: "-",
    durationMs: 1,
    requestBytes: 0,
    responseBytes: 0,
  });
  const text = metrics.render();
  const ok = text.split("\n").filter((l) =>
    l.startsWith('istio_requests_total{reporter="source"') && l.includes('response_code="200"')
  );
  assert.equal(ok.length, 1, text); // two authorities, one series
  assert.match(ok[0], /destination_workload="reviews-v2",/);
  assert.match(ok[0], /destination_service="reviews\.default\.svc\.cluster\.local",/);
  assert.match(ok[0], /destination_service_namespace="default",/);
  assert.match(ok[0], / 2$/);
  assert.match(text, /response_code="503",response_flags="UO"/);
  assert.match(text, /istio_requests_total\{reporter="destination",[^}]*destination_app="client"/);
  assert.match(text, /istio_request_duration_milliseconds_bucket\{[^}]*le="10"\} 2/);
});

Deno.test("metrics: requests that reached no cluster share one series whatever their Host", () => {
  const id = proxyIdentity({ mode: "gateway", name: "edge", namespace: "default" });
  const metrics = new ProxyMetrics(id);
  for (let i = 0; i < 50; i++) {
    metrics.observe({
      flags: Flag.NR,
      status: 404,
      duration: 1,
      requestBytes: 0,
      responseBytes: 0,
      cluster: "",
      authority: `random-${i}.example.com`,
      endpoint: undefined,
    } as unknown as RequestRecord);
  }
  const series = metrics.render().split("\n").filter((l) => l.startsWith("istio_requests_total{"));
  assert.equal(series.length, 1, series.join("\n"));
  assert.match(series[0], /destination_service="unknown",.*response_flags="NR",.*\} 50$/);
});
