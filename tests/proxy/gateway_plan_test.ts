/**
 * Gateway listener planning and server selection: YAML → snapshot (the static source's builder)
 * → compiled config → listener plan and per-request server choice.
 */

import assert from "node:assert/strict";
import { snapshotFromText } from "../../mesh/discovery/mod.ts";
import type { ProxyIdentity, Snapshot } from "../../mesh/model/mod.ts";
import { compileSnapshot } from "../../mesh/pipeline/mod.ts";
import { parseServerHost, planListeners, serverHostAdmits } from "../../proxy/gateway_plan.ts";
import { ServerSelector } from "../../proxy/gateway_routes.ts";

const IDENTITY: ProxyIdentity = {
  mode: "gateway",
  name: "ingress",
  namespace: "istio-system",
  labels: { istio: "ingressgateway" },
  id: "ingress-0001.istio-system",
};

function snapshot(yaml: string, identity = IDENTITY): Snapshot {
  const s = snapshotFromText(yaml, "test.yaml", { identity });
  if (typeof s === "string") throw new Error(s);
  return s;
}

const GATEWAYS = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*.example.com", "prod/api.shop.test"]
  - port: {number: 8081, name: http-redirect, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: ["./secure.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 9443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 7000, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shared, namespace: prod}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["shop.test"]
    bind: 127.0.0.1
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem}
`;

Deno.test("server hosts: bare, */, ns/ and ./ forms", () => {
  assert.deepEqual(parseServerHost("Foo.COM", "gw"), { namespace: "*", host: "foo.com" });
  assert.deepEqual(parseServerHost("*/foo.com", "gw"), { namespace: "*", host: "foo.com" });
  assert.deepEqual(parseServerHost("prod/*.foo.com", "gw"), {
    namespace: "prod",
    host: "*.foo.com",
  });
  assert.deepEqual(parseServerHost("./foo.com", "gw"), { namespace: "gw", host: "foo.com" });
  const sh = parseServerHost("prod/*.foo.com", "gw");
  assert.equal(serverHostAdmits(sh, "prod", "a.foo.com"), true);
  assert.equal(serverHostAdmits(sh, "prod", "*.foo.com"), true);
  assert.equal(serverHostAdmits(sh, "prod", "*"), true);
  assert.equal(serverHostAdmits(sh, "dev", "a.foo.com"), false);
  assert.equal(serverHostAdmits(sh, "prod", "foo.com"), false);
});

Deno.test("plan: selected Gateways only, one listener per bind:port, unsupported servers warned", () => {
  const snap = snapshot(GATEWAYS);
  const plan = planListeners(snap.resources);
  assert.deepEqual(plan.gateways, ["istio-system/web", "prod/shared"]);
  const keys = plan.listeners.map((l) => `${l.key}=${l.kind}`);
  assert.deepEqual(keys, [
    "0.0.0.0:8080=http",
    "127.0.0.1:8080=http",
    "0.0.0.0:8081=http",
    "0.0.0.0:8443=https",
    "0.0.0.0:9000=tcp",
  ]);
  const redirect = plan.listeners.find((l) => l.port === 8081)!;
  assert.equal(redirect.servers[0].httpsRedirect, true);
  const https = plan.listeners.find((l) => l.port === 8443)!;
  assert.deepEqual(https.tls, {
    mode: "SIMPLE",
    serverCertificate: "/c.pem",
    privateKey: "/k.pem",
  });
  assert.deepEqual(https.servers.map((s) => s.gateway), ["istio-system/web"]);
  assert.deepEqual(https.servers[0].hosts, [{
    namespace: "istio-system",
    host: "secure.example.com",
  }]);
  assert.equal(plan.warnings.length, 2, plan.warnings.join("\n"));
  assert.match(plan.warnings[0], /istio-system\/web: spec\.servers\[4\].*PASSTHROUGH/);
  assert.match(plan.warnings[1], /prod\/shared: spec\.servers\[1\].*other TLS settings/);
});

Deno.test("plan: the signature changes with TLS settings, not with hosts", () => {
  const a = planListeners(snapshot(GATEWAYS).resources);
  const b = planListeners(
    snapshot(GATEWAYS.replace('"./secure.example.com"', '"*"')).resources,
  );
  const c = planListeners(
    snapshot(GATEWAYS.replace("privateKey: /k.pem}", "privateKey: /k2.pem}"))
      .resources,
  );
  const sig = (p: typeof a, port: number) => p.listeners.find((l) => l.port === port)!.signature;
  assert.equal(sig(a, 8443), sig(b, 8443));
  assert.notEqual(sig(a, 8443), sig(c, 8443));
  assert.equal(sig(a, 8080), sig(c, 8080));
});

const ROUTES = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*.example.com", "prod/*.shop.test", "./ops.test"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: second, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["second.test"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: [a.example.com, b.other.test]
  gateways: [istio-system/web]
  http: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: prod}
spec:
  hosts: ["api.shop.test"]
  gateways: [istio-system/web]
  http: [{route: [{destination: {host: shop.prod.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-dev, namespace: dev}
spec:
  hosts: ["dev.shop.test"]
  gateways: [istio-system/web]
  http: [{route: [{destination: {host: shop.dev.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ops, namespace: default}
spec:
  hosts: ["ops.test"]
  gateways: [istio-system/web]
  http: [{route: [{destination: {host: ops.default.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/second]
  http: [{route: [{destination: {host: second.default.svc.cluster.local}}]}]
`;

Deno.test("selector: intersection of server and VirtualService hosts, namespace rules", () => {
  const snap = snapshot(ROUTES);
  const config = compileSnapshot(snap);
  const plan = planListeners(snap.resources);
  assert.equal(plan.listeners.length, 1);
  const selector = new ServerSelector(plan.listeners[0].servers, config);
  const gw = (authority: string) => selector.select(authority)?.gateway;
  assert.equal(gw("a.example.com"), "istio-system/web");
  assert.equal(gw("A.Example.com:8080"), "istio-system/web", "port ignored, case-insensitive");
  assert.equal(gw("b.other.test"), undefined, "VS host outside the server hosts");
  assert.equal(gw("z.example.com"), undefined, "server host without a VirtualService");
  assert.equal(gw("api.shop.test"), "istio-system/web", "prod/ admits a VS in prod");
  assert.equal(gw("dev.shop.test"), undefined, "prod/ rejects a VS in dev");
  assert.equal(gw("ops.test"), undefined, "./ admits only the Gateway's namespace");
  assert.equal(gw("second.test"), "istio-system/second", "another Gateway on the same port");
  assert.equal(gw(""), undefined);
});
