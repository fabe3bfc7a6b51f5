/**
 * A sidecar without a control plane (`--config FILE`): endpoints from a ServiceEntry, routing
 * from a VirtualService, and a reload when the file changes (and on SIGHUP).
 *
 * @module
 */

import assert from "node:assert/strict";
import { get, request, startApp, startSidecar, stopAll, tempDir, waitFor } from "./e2e_helpers.ts";

function config(appPort: number, extra = ""): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.internal]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${appPort}}}]
${extra}`;
}

const FAULT_VS = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo.internal]
  http:
  - match: [{uri: {prefix: /teapot}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: echo.internal}}]
  - route: [{destination: {host: echo.internal}}]
    headers: {response: {set: {x-config: second}}}
`;

Deno.test({
  name: "a sidecar in static mode serves its file and reloads it on change and SIGHUP",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await tempDir();
    try {
      const app = await startApp({ service: "echo" });
      const file = `${dir}/mesh.yaml`;
      await Deno.writeTextFile(file, config(app.port));
      const client = await startSidecar({ service: "client", appPort: app.port, config: file });

      const first = await request(client.outbound, { host: "echo.internal", path: "/teapot" });
      assert.equal(first.status, 200);
      assert.equal(JSON.parse(first.body).service, "echo");
      assert.equal(first.headers["x-config"], undefined);
      const dump = JSON.parse((await get(client.admin, "/config_dump")).body);
      assert.equal(dump.source.kind, "static");

      // The file changes: the new VirtualService applies without a restart.
      await Deno.writeTextFile(file, config(app.port, FAULT_VS));
      await waitFor(
        async () =>
          (await request(client.outbound, { host: "echo.internal", path: "/teapot" })).status ===
            418,
        "the changed file to apply",
      );
      const other = await request(client.outbound, { host: "echo.internal", path: "/x" });
      assert.equal(other.status, 200);
      assert.equal(other.headers["x-config"], "second");

      // An invalid file keeps the previous configuration.
      await Deno.writeTextFile(file, "kind: VirtualService\nspec: {hosts: 7}\n");
      await waitFor(
        () => /keeping the previous configuration/.test(client.proc.output()),
        "the invalid file to be reported",
      );
      assert.equal(
        (await request(client.outbound, { host: "echo.internal", path: "/teapot" })).status,
        418,
      );

      // SIGHUP re-reads the file (and does not stop the proxy).
      await Deno.writeTextFile(file, config(app.port));
      client.proc.kill("SIGHUP");
      await waitFor(() => /SIGHUP: reloading/.test(client.proc.output()), "the SIGHUP reload");
      await waitFor(
        async () =>
          (await request(client.outbound, { host: "echo.internal", path: "/teapot" })).status ===
            200,
        "the restored file to apply",
      );
      assert.equal((await get(client.admin, "/ready")).status, 200);
      assert.equal(client.proc.exited, false);
    } finally {
      await stopAll();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
