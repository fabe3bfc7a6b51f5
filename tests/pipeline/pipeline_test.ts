/** The Pipeline API: construction, records for observers, request ids, closing. */

import assert from "node:assert/strict";
import { SnapshotCompileError } from "../../mesh/pipeline/compile.ts";
import { Flag, formatFlags } from "../../mesh/pipeline/flags.ts";
import { Pipeline } from "../../mesh/pipeline/pipeline.ts";
import { compile, sidecar } from "./snapshot_fixture.ts";
import { instance, makeSnapshot, request, startProxy, startUpstream } from "./upstreams.ts";

const VS = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - name: main
    route: [{destination: {host: ratings}}]
`;

Deno.test("a snapshot that does not compile is refused at construction", () => {
  const bad = makeSnapshot(VS, []);
  (bad.resources[0].spec as { http: { retries?: unknown }[] }).http[0].retries = {
    attempts: 1,
    retryOn: "whenever",
  };
  assert.throws(() => new Pipeline(bad), SnapshotCompileError);
});

Deno.test("the observer gets one record per request with route, cluster, host and bytes", async () => {
  const up = startUpstream("ratings");
  const proxy = startProxy(makeSnapshot(VS, [instance("ratings", up)]));
  try {
    const r = await request(proxy.port, "/x?y=1", {
      host: "ratings:9080",
      method: "POST",
      body: "12345",
      headers: { "x-request-id": "req-1" },
    });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers["x-request-id"], "req-1");
    const rec = proxy.records[0];
    assert.equal(rec.status, 200);
    assert.equal(formatFlags(rec.flags), "-");
    assert.equal(rec.routeName, "main");
    assert.equal(rec.virtualService, "default/ratings");
    assert.equal(rec.cluster, "outbound|9080||ratings.default.svc.cluster.local");
    assert.equal(rec.upstreamHost, `127.0.0.1:${up.port}`);
    assert.equal(rec.requestBytes, 5);
    assert.equal(rec.responseBytes, r.body.length);
    assert.equal(rec.requestId, "req-1");
    assert.equal(rec.method, "POST");
    assert.equal(rec.authority, "ratings:9080");
    assert.equal(rec.pathAndQuery, "/x?y=1");
    assert.equal(rec.attempts, 1);
    assert.ok(rec.duration >= 0 && rec.upstreamDuration >= 0);
    // A generated request id is the same on every attempt and in the record.
    await request(proxy.port, "/", { host: "ratings" });
    const generated = proxy.records[1].requestId;
    assert.match(generated, /^[0-9a-f-]{36}$/);
    assert.equal(up.seen[1].headers["x-request-id"], generated);
  } finally {
    await proxy.close();
    await up.close();
  }
});

Deno.test("records carry local-reply flags (an unknown destination host is NC)", async () => {
  const proxy = startProxy(makeSnapshot(VS, []));
  try {
    const r = await request(proxy.port, "/", { host: "ratings" });
    assert.equal(r.status, 503);
    assert.equal(proxy.records[0].flags, Flag.NC);
    assert.equal(proxy.records[0].status, 503);
  } finally {
    await proxy.close();
  }
});

Deno.test("sourceLabels/sourceNamespace never apply on gateway proxies (trap 13)", () => {
  const yaml = `
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: both}
spec:
  hosts: [shop.example.com]
  gateways: [gw, mesh]
  http:
  - match: [{sourceLabels: {app: sleep}, sourceNamespace: other}]
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: reviews}}]
`;
  const gateway = compile(yaml, [], {
    mode: "gateway",
    name: "gw",
    namespace: "default",
    labels: { istio: "ingressgateway" },
    id: "gw-1",
  });
  assert.equal(gateway.routeTableFor("default/gw")!.lookup("shop.example.com")!.routes.length, 2);
  const mesh = compile(yaml, [], sidecar());
  assert.equal(mesh.routeTableFor()!.lookup("shop.example.com")!.routes.length, 1);
});
