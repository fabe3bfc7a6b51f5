/**
 * `mesh gateway` over HTTP, as real processes in static `--config` mode: host routing through
 * bound VirtualServices, `ns/host` binding rules, unknown hosts 404, `x-envoy-*` stripped,
 * `x-forwarded-for`/`-proto` set, `httpsRedirect`, and listeners following Gateway changes
 * without disturbing connections on other ports; and the same fed by a control plane.
 */

import assert from "node:assert/strict";
import {
  applyYaml,
  freePort,
  get,
  request,
  startApp,
  startControl,
  stopAll,
  tempDir,
  waitFor,
} from "./e2e_helpers.ts";
import { KeepAlive, startGateway } from "./gateway_helpers.ts";

function gatewayYaml(servers: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
${servers}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: not-mine, namespace: default}
spec:
  selector: {istio: somebody-else}
  servers:
  - port: {number: 1, name: http, protocol: HTTP}
    hosts: ["*"]
`;
}

function backendYaml(appPort: number): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${appPort}}}]
`;
}

const ROUTES = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [www.example.test, secure.example.test]
  gateways: [ingress]
  http: [{route: [{destination: {host: backend.test}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: prod}
spec:
  hosts: [api.shop.test]
  gateways: [default/ingress]
  http: [{route: [{destination: {host: backend.test}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: dev}
spec:
  hosts: [dev.shop.test]
  gateways: [default/ingress]
  http: [{route: [{destination: {host: backend.test}}]}]
`;

Deno.test("gateway: routing, ns/host binding, 404, x-envoy-* stripped, forwarded headers, redirect", async () => {
  try {
    const app = await startApp({ service: "backend" });
    const web = freePort();
    const redirect = freePort();
    const dir = await tempDir();
    const file = `${dir}/mesh.yaml`;
    await Deno.writeTextFile(
      file,
      gatewayYaml(`
  - port: {number: ${web}, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*.example.test", "prod/*.shop.test"]
  - port: {number: ${redirect}, name: http-redirect, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*"]
    tls: {httpsRedirect: true}
`) + "---" + backendYaml(app.port) + "---" + ROUTES,
    );
    const gw = await startGateway({ config: file, labels: "istio=ingressgateway" });
    assert.deepEqual(gw.listeners, [web, redirect].sort((a, b) => a - b));
    assert.equal((await get(gw.admin, "/healthz/ready")).status, 200);

    const res = await request(web, {
      host: "www.example.test",
      path: "/hello?x=1",
      headers: {
        "x-envoy-upstream-rq-timeout-ms": "1",
        "x-envoy-max-retries": "5",
        "x-envoy-custom": "outside",
        "x-forwarded-for": "203.0.113.7",
      },
    });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body);
    assert.equal(echo.service, "backend");
    assert.equal(echo.path, "/hello");
    for (
      const name of ["x-envoy-upstream-rq-timeout-ms", "x-envoy-max-retries", "x-envoy-custom"]
    ) {
      assert.equal(echo.headers[name], undefined, `${name} must not pass the gateway`);
    }
    assert.equal(echo.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert.equal(echo.headers["x-forwarded-proto"], "http");
    assert.equal(echo.headers.host, "www.example.test");

    // The server hosts admit *.example.test; a host outside them, or without a VS, is 404 NR.
    assert.equal((await request(web, { host: "unknown.test" })).status, 404);
    assert.equal((await request(web, { host: "nothing.example.test" })).status, 404);
    // prod/*.shop.test admits the VirtualService declared in prod, not the one in dev.
    assert.equal((await request(web, { host: "api.shop.test:8080" })).status, 200);
    assert.equal((await request(web, { host: "dev.shop.test" })).status, 404);

    const moved = await request(redirect, { host: "secure.example.test", path: "/a?b=1" });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, "https://secure.example.test/a?b=1");
    assert.equal((await request(redirect, { host: "unknown.test" })).status, 404);

    const stats = (await get(gw.admin, "/stats/prometheus")).body;
    assert.match(stats, /istio_requests_total\{[^}]*response_code="200"[^}]*\} [1-9]/);
    assert.match(stats, /istio_requests_total\{[^}]*response_code="404"[^}]*response_flags="NR"/);
    const stopped = Date.now();
    const status = await gw.proc.stop({ graceMs: 10_000 });
    assert.equal(status.code, 0, gw.proc.output());
    assert.ok(Date.now() - stopped < 5000, "an idle gateway stops at once on SIGTERM");
    assert.equal(app.proc.exited, false);
  } finally {
    await stopAll();
  }
});

Deno.test("gateway: listeners open, close and re-route as Gateways change; other ports keep their connections", async () => {
  try {
    const app = await startApp({ service: "backend" });
    const [a, b] = [freePort(), freePort()];
    const dir = await tempDir();
    const file = `${dir}/mesh.yaml`;
    const server = (port: number, hosts: string) => `
  - port: {number: ${port}, name: http-${port}, protocol: HTTP}
    bind: 127.0.0.1
    hosts: [${hosts}]
`;
    const write = (servers: string) =>
      Deno.writeTextFile(
        file,
        gatewayYaml(servers) + "---" + backendYaml(app.port) + "---" + ROUTES,
      );
    await write(server(a, '"*.example.test"'));
    const gw = await startGateway({ config: file, labels: "istio=ingressgateway" });
    assert.deepEqual(gw.listeners, [a]);

    const held = await KeepAlive.open(a);
    try {
      assert.equal((await held.request("www.example.test")).status, 200);
      assert.equal((await held.request("api.shop.test")).status, 404);

      // Add a port: it opens; the held connection on the other port still serves.
      await write(server(a, '"*.example.test"') + server(b, '"*"'));
      await waitFor(
        async () => (await request(b, { host: "api.shop.test" })).status === 200,
        "port b",
      );
      assert.equal((await held.request("www.example.test")).status, 200);

      // Change the hosts of port a: same socket and connection, new routing.
      await write(server(a, '"*.example.test", "*.shop.test"') + server(b, '"*"'));
      await waitFor(async () => (await held.request("api.shop.test")).status === 200, "re-route");

      // Remove port b: it stops accepting; port a's connection is untouched.
      await write(server(a, '"*.example.test", "*.shop.test"'));
      await waitFor(async () => {
        try {
          await request(b, { host: "api.shop.test", timeoutMs: 2000 });
          return false;
        } catch {
          return true;
        }
      }, "port b closed");
      assert.equal((await held.request("www.example.test")).status, 200);
      const dump = JSON.parse((await get(gw.admin, "/config_dump")).body);
      assert.deepEqual(dump.listeners.map((l: { address: string }) => l.address), [
        `127.0.0.1:${a}`,
      ]);
    } finally {
      held.close();
    }
  } finally {
    await stopAll();
  }
});

Deno.test("gateway: follows the control plane; apply --wait opens and re-routes listeners", async () => {
  try {
    const app = await startApp({ service: "backend" });
    const control = await startControl();
    const gw = await startGateway({ control: control.url, labels: "istio=ingressgateway" });
    assert.deepEqual(gw.listeners, [], "no Gateway yet");
    const port = freePort();
    const gateway = gatewayYaml(`
  - port: {number: ${port}, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*.example.test"]
`);
    await applyYaml(control.url, gateway + "---" + backendYaml(app.port) + "---" + ROUTES);
    // apply --wait returned: the gateway ACKed, so its listener is open and routing.
    const res = await request(port, { host: "www.example.test" });
    assert.equal(res.status, 200, res.body);
    assert.equal((await request(port, { host: "api.shop.test" })).status, 404);
    await applyYaml(
      control.url,
      gateway.replace('"*.example.test"', '"*.example.test", "*/*.shop.test"'),
    );
    assert.equal((await request(port, { host: "api.shop.test" })).status, 200);
    const dump = JSON.parse((await get(gw.admin, "/config_dump")).body);
    assert.equal(dump.source.kind, "control");
  } finally {
    await stopAll();
  }
});
