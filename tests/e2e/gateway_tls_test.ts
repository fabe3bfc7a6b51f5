/**
 * `mesh gateway` terminating TLS (real processes, certificates made with `openssl` in a temp
 * directory): SIMPLE serves HTTPS with the configured certificate; MUTUAL requires a client
 * certificate signed by `caCertificates` and refuses clients without one or with a foreign one.
 */

import assert from "node:assert/strict";
import { freePort, startApp, stopAll, tempDir } from "./e2e_helpers.ts";
import { haveOpenssl, KeepAlive, makeCerts, startGateway } from "./gateway_helpers.ts";

const skip = !(await haveOpenssl());
if (skip) console.log("gateway_tls_test: skipped: openssl is not installed");

Deno.test({
  name: "gateway: HTTPS SIMPLE and MUTUAL termination",
  ignore: skip,
  async fn() {
    try {
      const certs = await makeCerts(["secure.example.test"]);
      const ca = await Deno.readTextFile(certs.ca);
      const app = await startApp({ service: "backend" });
      const [simple, mutual] = [freePort(), freePort()];
      const dir = await tempDir();
      const file = `${dir}/mesh.yaml`;
      await Deno.writeTextFile(
        file,
        `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${simple}, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: [secure.example.test]
    tls: {mode: SIMPLE, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}}
  - port: {number: ${mutual}, name: https-mtls, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["*"]
    tls:
      mode: MUTUAL
      serverCertificate: ${certs.serverCert}
      privateKey: ${certs.serverKey}
      caCertificates: ${certs.ca}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend}
spec:
  hosts: [backend.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${app.port}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  hosts: [secure.example.test]
  gateways: [ingress]
  http: [{route: [{destination: {host: backend.test}}]}]
`,
      );
      await startGateway({ config: file, labels: "istio=ingressgateway" });

      const tls = await KeepAlive.open(simple, { caCerts: [ca] });
      try {
        const res = await tls.request("secure.example.test", "/s");
        assert.equal(res.status, 200, res.body);
        const echo = JSON.parse(res.body);
        assert.equal(echo.path, "/s");
        assert.equal(echo.headers["x-forwarded-proto"], "https");
        assert.equal((await tls.request("other.example.test")).status, 404);
      } finally {
        tls.close();
      }

      const client = {
        caCerts: [ca],
        cert: await Deno.readTextFile(certs.clientCert),
        key: await Deno.readTextFile(certs.clientKey),
      };
      const mtls = await KeepAlive.open(mutual, client);
      try {
        const res = await mtls.request("secure.example.test", "/m");
        assert.equal(res.status, 200, res.body);
        assert.equal(JSON.parse(res.body).headers["x-forwarded-proto"], "https");
      } finally {
        mtls.close();
      }

      const refused = async (extra: { cert?: string; key?: string }) => {
        let conn: KeepAlive | undefined;
        try {
          conn = await KeepAlive.open(mutual, { caCerts: [ca], ...extra });
          const res = await conn.request("secure.example.test", "/x");
          return `answered ${res.status}`;
        } catch {
          return "refused";
        } finally {
          conn?.close();
        }
      };
      assert.equal(await refused({}), "refused", "a client without a certificate is rejected");
      assert.equal(
        await refused({
          cert: await Deno.readTextFile(certs.strangerCert),
          key: await Deno.readTextFile(certs.strangerKey),
        }),
        "refused",
        "a client certificate from another CA is rejected",
      );
      await Deno.remove(certs.dir, { recursive: true });
    } finally {
      await stopAll();
    }
  },
});
