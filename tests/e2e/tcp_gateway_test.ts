/**
 * L4 routing through `mesh gateway` (a real process, static `--config`): a Gateway server with
 * protocol TCP, a VirtualService `tcp` rule splitting connections by weight across two subsets of
 * a ServiceEntry, and echo servers that answer only after the client half-closes — so the test
 * fails unless end-of-stream is passed on in both directions.
 */

import assert from "node:assert/strict";
import { freePort, stopAll, tempDir } from "./e2e_helpers.ts";
import { startGateway, tcpExchange } from "./gateway_helpers.ts";

/** An echo server: reads until EOF, then answers `<name>:<data>` and closes. */
function echoServer(name: string): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(4096);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            chunks.push(buf.slice(0, n));
          }
          const text = chunks.map((c) => new TextDecoder().decode(c)).join("");
          const out = new TextEncoder().encode(`${name}:${text}`);
          let off = 0;
          while (off < out.length) off += await conn.write(out.subarray(off));
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

Deno.test("tcp: weighted L4 routing through a gateway TCP server, with half-close", async () => {
  const v1 = echoServer("v1");
  const v2 = echoServer("v2");
  try {
    const port = freePort();
    const dir = await tempDir();
    const file = `${dir}/mesh.yaml`;
    await Deno.writeTextFile(
      file,
      `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${port}, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.tcp.test]
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: ${v1.port}}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {tcp: ${v2.port}}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo.tcp.test
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: ["*"]
  gateways: [tcp-gw]
  tcp:
  - match: [{port: ${port}}]
    route:
    - {destination: {host: echo.tcp.test, subset: v1}, weight: 75}
    - {destination: {host: echo.tcp.test, subset: v2}, weight: 25}
`,
    );
    await startGateway({ config: file, labels: "istio=ingressgateway" });
    const counts: Record<string, number> = { v1: 0, v2: 0 };
    const total = 200;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const reply = await tcpExchange(port, `hello ${i}`);
        const [who, rest] = reply.split(":");
        assert.equal(rest, `hello ${i}`, `connection ${i} got ${JSON.stringify(reply)}`);
        counts[who]++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.equal(counts.v1 + counts.v2, total);
    // 75 % expected; ±12 % keeps this stable over 200 draws.
    const share = counts.v1 / total;
    assert.ok(share > 0.63 && share < 0.87, `v1 got ${counts.v1} of ${total}`);

    // A large payload crosses intact.
    const big = "x".repeat(300_000);
    const reply = await tcpExchange(port, big);
    assert.ok(reply === `v1:${big}` || reply === `v2:${big}`, `got ${reply.length} bytes`);
  } finally {
    await stopAll();
    v1.close();
    v2.close();
  }
});
