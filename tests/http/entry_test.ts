/** The pass-through entry with --workers 2 (SO_REUSEPORT in Web Workers), and the node:net adapter. */
import assert from "node:assert/strict";
import * as net from "node:net";
import { HttpServer, NodeByteConn } from "../../mesh/http/mod.ts";
import { bytes, IO, rawExchange, recordingUpstream, statuses } from "./helpers.ts";

Deno.test({
  name: "passthrough_main --workers 2 serves on one port and exits 0 on SIGTERM",
  ...IO,
  async fn() {
    const up = recordingUpstream();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../bench/passthrough_main.ts", import.meta.url).pathname,
        "--port",
        "0",
        "--upstream",
        `127.0.0.1:${up.port}`,
        "--workers",
        "2",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    try {
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const m = /^listening on 127\.0\.0\.1:(\d+)\n$/.exec(out);
      assert.ok(m, JSON.stringify(out));
      const port = Number(m[1]);
      for (let i = 0; i < 8; i++) {
        const r = await rawExchange(port, "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n");
        assert.deepEqual(statuses(r), [200]);
      }
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      up.close();
      assert.equal(status.code, 0);
    }
  },
});

Deno.test({
  name: "NodeByteConn: the server runs over a node:net socket",
  ...IO,
  async fn() {
    const server = new HttpServer(async (req, res) => {
      const body = await req.body.readAll();
      await res.respond(200, ["x-path", req.head.path], body);
    });
    const ns = net.createServer((sock) => server.handle(new NodeByteConn(sock, false)));
    await new Promise<void>((r) => ns.listen(0, "127.0.0.1", () => r()));
    const port = (ns.address() as net.AddressInfo).port;
    try {
      const big = "z".repeat(200_000);
      const out = await rawExchange(
        port,
        bytes(
          `POST /n HTTP/1.1\r\nHost: s\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`,
        ),
      );
      assert.deepEqual(statuses(out), [200]);
      assert.match(out, /x-path: \/n/);
      assert.ok(out.endsWith(big));
    } finally {
      await server.close(200);
      await new Promise((r) => ns.close(r));
    }
  },
});
