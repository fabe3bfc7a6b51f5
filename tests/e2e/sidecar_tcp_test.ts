/**
 * TCP through a sidecar (real processes: control plane + `mesh sidecar`): the app sends
 * `CONNECT tcp-echo.external:9000` to the outbound listener, which resolves the ServiceEntry
 * (protocol TCP, STATIC loopback endpoint), answers `200 Connection Established` and tunnels
 * bytes both ways to the echo server.
 */

import assert from "node:assert/strict";
import {
  applyYaml,
  startApp,
  startControl,
  startSidecar,
  waitFor,
  withProcesses,
} from "./e2e_helpers.ts";

/** A loopback server that echoes every byte back. */
function echoServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await conn.write(buf.subarray(off, n));
          }
        } catch {
          // client went away
        } finally {
          conn.close();
        }
      })();
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** CONNECTs through `port`, sends `payload` in the tunnel; returns the status and the echo. */
async function connectEcho(port: number, payload: string): Promise<{ head: string; echo: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const enc = new TextEncoder();
    await conn.write(
      enc.encode("CONNECT tcp-echo.external:9000 HTTP/1.1\r\nHost: tcp-echo.external:9000\r\n\r\n"),
    );
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const end = text.indexOf("\r\n\r\n");
    const head = end < 0 ? text : text.slice(0, end);
    if (!head.startsWith("HTTP/1.1 200")) return { head, echo: "" };
    let echo = text.slice(end + 4);
    await conn.write(enc.encode(payload));
    while (echo.length < payload.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      echo += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { head, echo };
  } finally {
    conn.close();
  }
}

Deno.test("sidecar: CONNECT to a TCP ServiceEntry tunnels bytes to its endpoint", async () => {
  const echo = echoServer();
  try {
    await withProcesses(async () => {
      const control = await startControl();
      await applyYaml(
        control.url,
        `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo, namespace: default}
spec:
  hosts: [tcp-echo.external]
  location: MESH_EXTERNAL
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${echo.port}}}]
`,
      );
      const app = await startApp({ service: "client" });
      const sidecar = await startSidecar({
        service: "client",
        appPort: app.port,
        control: control.url,
      });
      const payload = "hello through the tunnel\n".repeat(40);
      const result = await waitFor(async () => {
        const r = await connectEcho(sidecar.outbound, payload);
        return r.head.startsWith("HTTP/1.1 200") ? r : undefined;
      }, "CONNECT answered 200");
      assert.match(result.head, /^HTTP\/1\.1 200 Connection Established/);
      assert.equal(result.echo, payload);
    });
  } finally {
    echo.close();
  }
});
