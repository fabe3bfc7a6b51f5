/** HTTP CONNECT on a sidecar's outbound listener: tcp routes, service clusters, failures. */

import assert from "node:assert/strict";
import type { ServiceInstance } from "../../mesh/model/mod.ts";
import { makeSnapshot, type Proxy, startProxy } from "./upstreams.ts";

/** A loopback TCP server that sends `tag` on accept, then echoes. */
function startEcho(tag: string): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        try {
          await conn.write(new TextEncoder().encode(tag));
          const buf = new Uint8Array(4096);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            await conn.write(buf.subarray(0, n));
          }
        } catch {
          // the test closed the connection
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // already closed
          }
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

/** Reads from `conn` until `text` has been seen or the stream ends; returns what was read. */
async function readUntil(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!done(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

/** Sends `CONNECT target`; returns the response head and the connection (for the tunnel). */
async function connect(
  port: number,
  target: string,
): Promise<{ status: number; head: string; rest: string; conn: Deno.Conn }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
  );
  const text = await readUntil(conn, (t) => t.includes("\r\n\r\n"));
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  return { status: Number(head.split(" ")[1]), head, rest: text.slice(end + 4), conn };
}

function yaml(a: number, b: number): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.tcp.test]
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${a}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo-b}
spec:
  hosts: [echo-b.tcp.test]
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${b}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: split}
spec:
  hosts: [split.tcp.test]
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${a}}, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: split}
spec:
  host: split.tcp.test
  subsets: [{name: none, labels: {version: v9}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split}
spec:
  hosts: [split.tcp.test]
  tcp:
  - match: [{port: 7001}]
    route: [{destination: {host: split.tcp.test, subset: none, port: {number: 7000}}}]
  - match: [{port: 7000}]
    route:
    - {destination: {host: echo.tcp.test}, weight: 75}
    - {destination: {host: echo-b.tcp.test}, weight: 25}
`;
}

async function withProxy(
  outbound: "ALLOW_ANY" | "REGISTRY_ONLY",
  fn: (proxy: Proxy, a: number, b: number) => Promise<void>,
): Promise<void> {
  const a = startEcho("A");
  const b = startEcho("B");
  const endpoint = (host: string, port: number, labels = {}): ServiceInstance => ({
    host,
    namespace: "default",
    address: "127.0.0.1",
    port,
    labels,
    source: "serviceentry",
  });
  const instances = [
    endpoint("echo.tcp.test", a.port),
    endpoint("echo-b.tcp.test", b.port),
    endpoint("split.tcp.test", a.port, { version: "v1" }),
  ];
  const proxy = startProxy(makeSnapshot(yaml(a.port, b.port), instances, { outbound }));
  try {
    await fn(proxy, a.port, b.port);
  } finally {
    await proxy.close();
    a.close();
    b.close();
  }
}

Deno.test("CONNECT to a service tunnels bytes both ways to its endpoint", async () => {
  await withProxy("REGISTRY_ONLY", async (proxy) => {
    const c = await connect(proxy.port, "echo.tcp.test:7000");
    try {
      assert.equal(c.status, 200, c.head);
      assert.match(c.head, /^HTTP\/1\.1 200 Connection Established/);
      const tag = c.rest.length > 0 ? c.rest : await readUntil(c.conn, (t) => t.length > 0);
      assert.equal(tag[0], "A");
      await c.conn.write(new TextEncoder().encode("hello tunnel"));
      const echoed = await readUntil(c.conn, (t) => (tag + t).includes("hello tunnel"));
      assert.ok((tag + echoed).includes("hello tunnel"));
    } finally {
      c.conn.close();
    }
  });
});

Deno.test("CONNECT applies a weighted tcp route per connection (75/25)", async () => {
  await withProxy("ALLOW_ANY", async (proxy) => {
    const counts: Record<string, number> = { A: 0, B: 0 };
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        const c = await connect(proxy.port, "split.tcp.test:7000");
        try {
          assert.equal(c.status, 200, c.head);
          const tag = c.rest.length > 0 ? c.rest : await readUntil(c.conn, (t) => t.length > 0);
          counts[tag[0]]++;
        } finally {
          c.conn.close();
        }
      }));
    }
    assert.equal(counts.A + counts.B, 100);
    assert.ok(counts.A >= 55 && counts.A <= 92, JSON.stringify(counts));
  });
});

Deno.test("CONNECT to an unknown host under REGISTRY_ONLY answers 502", async () => {
  await withProxy("REGISTRY_ONLY", async (proxy) => {
    const c = await connect(proxy.port, "nowhere.example:7000");
    c.conn.close();
    assert.equal(c.status, 502, c.head);
  });
});

Deno.test("CONNECT to an unknown host under ALLOW_ANY connects to host:port directly", async () => {
  await withProxy("ALLOW_ANY", async (proxy, _a, b) => {
    const c = await connect(proxy.port, `127.0.0.1:${b}`);
    try {
      assert.equal(c.status, 200, c.head);
      const tag = c.rest.length > 0 ? c.rest : await readUntil(c.conn, (t) => t.length > 0);
      assert.equal(tag[0], "B");
    } finally {
      c.conn.close();
    }
  });
});

Deno.test("CONNECT without a usable endpoint answers 503 UH", async () => {
  await withProxy("REGISTRY_ONLY", async (proxy) => {
    const c = await connect(proxy.port, "split.tcp.test:7001");
    c.conn.close();
    assert.equal(c.status, 503, c.head);
    assert.ok(proxy.records.some((r) => r.status === 503), "request recorded");
  });
});

Deno.test("CONNECT with a port-less target answers 400", async () => {
  await withProxy("REGISTRY_ONLY", async (proxy) => {
    const c = await connect(proxy.port, "echo.tcp.test");
    c.conn.close();
    assert.equal(c.status, 400, c.head);
  });
});
