/**
 * Egress, as real processes in static `--config` mode with a loopback "external" server:
 * ServiceEntry hosts routed with VirtualService and DestinationRule policies (a VS timeout, a
 * DR subset), the outbound traffic policy set by a Sidecar resource (REGISTRY_ONLY 502,
 * ALLOW_ANY pass-through), Sidecar egress `hosts` scoping, and the egress-gateway path
 * (sidecar → egress gateway → external) with one VirtualService bound to `mesh` and the gateway.
 */

import assert from "node:assert/strict";
import {
  freePort,
  get,
  request,
  startApp,
  startSidecar,
  stopAll,
  tempDir,
  waitFor,
} from "./e2e_helpers.ts";
import { startGateway } from "./gateway_helpers.ts";

function externalYaml(port: number): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: default}
spec:
  hosts: [api.external.test]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}, labels: {version: v1}}]
`;
}

function policyYaml(mode: string, hosts: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: [${hosts}]}]
  outboundTrafficPolicy: {mode: ${mode}}
`;
}

Deno.test("egress: ServiceEntry with VS timeout and DR subset; REGISTRY_ONLY, scoping, ALLOW_ANY", async () => {
  try {
    const external = await startApp({ service: "external" });
    const app = await startApp({ service: "client" });
    const dir = await tempDir();
    const file = `${dir}/mesh.yaml`;
    const rest = externalYaml(external.port) + `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hidden, namespace: partner}
spec:
  hosts: [api.hidden.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${external.port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: external, namespace: default}
spec:
  host: api.external.test
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external, namespace: default}
spec:
  hosts: [api.external.test]
  http:
  - timeout: 1s
    route: [{destination: {host: api.external.test, subset: v1}}]
`;
    await Deno.writeTextFile(file, policyYaml("REGISTRY_ONLY", '"./*"') + "---" + rest);
    const sc = await startSidecar({ service: "client", appPort: app.port, config: file });

    const ok = await request(sc.outbound, { host: "api.external.test", path: "/x" });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).service, "external");

    const started = Date.now();
    const slow = await request(sc.outbound, { host: "api.external.test", path: "/delay/4000" });
    const took = Date.now() - started;
    assert.equal(slow.status, 504, slow.body);
    assert.ok(took >= 900 && took < 3500, `the VS timeout (1s) cut the request after ${took} ms`);

    // REGISTRY_ONLY: hosts the proxy does not know (or does not import) get 502.
    assert.equal((await request(sc.outbound, { host: "unknown.test" })).status, 502);
    assert.equal((await request(sc.outbound, { host: "api.hidden.test" })).status, 502);
    assert.equal(
      (await request(sc.outbound, { host: `127.0.0.1:${external.port}` })).status,
      502,
    );

    // ALLOW_ANY and every namespace imported: the same requests now go through.
    await Deno.writeTextFile(file, policyYaml("ALLOW_ANY", '"*/*"') + "---" + rest);
    await waitFor(
      async () => (await request(sc.outbound, { host: "api.hidden.test" })).status === 200,
      "the reloaded Sidecar resource",
    );
    const direct = await request(sc.outbound, {
      host: `127.0.0.1:${external.port}`,
      path: "/delay/1500",
    });
    assert.equal(direct.status, 200, "ALLOW_ANY pass-through has no route timeout");
    assert.equal(JSON.parse(direct.body).service, "external");
    assert.equal((await request(sc.outbound, { host: "api.external.test" })).status, 200);
  } finally {
    await stopAll();
  }
});

Deno.test("egress: sidecar → egress gateway → external, one VirtualService bound to mesh and the gateway", async () => {
  try {
    const external = await startApp({ service: "external" });
    const app = await startApp({ service: "client" });
    const egressPort = freePort();
    const dir = await tempDir();
    const file = `${dir}/mesh.yaml`;
    await Deno.writeTextFile(
      file,
      externalYaml(external.port) + `
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: egressgateway, namespace: istio-system}
spec:
  hosts: [istio-egressgateway.istio-system.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${egressPort}}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: ${egressPort}, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: [api.external.test]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external-through-egress, namespace: default}
spec:
  hosts: [api.external.test]
  gateways: [mesh, istio-system/egress]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}
  - match: [{gateways: [istio-system/egress], port: ${egressPort}}]
    route:
    - destination: {host: api.external.test, port: {number: 80}}
`,
    );
    const gw = await startGateway({
      name: "egress",
      namespace: "istio-system",
      labels: "istio=egressgateway",
      config: file,
    });
    assert.deepEqual(gw.listeners, [egressPort]);
    const sc = await startSidecar({ service: "client", appPort: app.port, config: file });

    const res = await request(sc.outbound, { host: "api.external.test", path: "/out" });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body);
    assert.equal(echo.service, "external");
    assert.equal(echo.path, "/out");
    // The gateway appends the peer (the sidecar) to x-forwarded-for; a sidecar does not.
    assert.equal(echo.headers["x-forwarded-for"], "127.0.0.1");
    const stats = (await get(gw.admin, "/stats/prometheus")).body;
    assert.match(stats, /istio_requests_total\{[^}]*api\.external\.test[^}]*\} 1\b/);
  } finally {
    await stopAll();
  }
});
