/** Upstream failures → status and response flag; downstream timeouts (slowloris, idle). */
import assert from "node:assert/strict";
import {
  ConnectionPool,
  forward,
  type ForwardResult,
  HttpServer,
  listenTcp,
  type PoolOptions,
} from "../../mesh/http/mod.ts";
import {
  bytes,
  dial,
  IO,
  rawExchange,
  readAll,
  readUntil,
  sleep,
  statuses,
  text,
  writeFully,
} from "./helpers.ts";

/** A raw upstream whose reply to each request is scripted by `script(conn)`. */
function scriptedUpstream(script: (c: Deno.Conn, head: string) => Promise<void>) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of l) {
      (async () => {
        const head = await readUntil(c, (s) => s.includes("\r\n\r\n"));
        try {
          await script(c, head);
        } catch {
          // peer gone
        }
      })();
    }
  })().catch(() => {});
  return { port: (l.addr as Deno.NetAddr).port, close: () => l.close() };
}

/** A proxy recording each ForwardResult. */
function flaggingProxy(
  upstreamPort: number,
  opts: { timeoutMs?: number; pool?: PoolOptions } = {},
) {
  const pool = new ConnectionPool("127.0.0.1", upstreamPort, opts.pool);
  const results: ForwardResult[] = [];
  const server = new HttpServer(async (req, res) => {
    results.push(await forward(req, res, { pool, timeoutMs: opts.timeoutMs }));
  });
  const listener = listenTcp({ port: 0 });
  server.serve(listener);
  return {
    port: listener.port,
    results,
    async close() {
      await server.close(500);
      pool.close();
    },
  };
}

const GET = "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n";

Deno.test({
  name: "upstream closes before responding → 503 UC",
  ...IO,
  async fn() {
    const up = scriptedUpstream((c) => Promise.resolve(c.close()));
    const p = flaggingProxy(up.port);
    try {
      const out = await rawExchange(p.port, GET, 2000);
      assert.deepEqual(statuses(out), [503]);
      assert.match(out, /connection termination/);
      assert.equal(p.results[0].flag, "UC");
    } finally {
      await p.close();
      up.close();
    }
  },
});

Deno.test({
  name: "upstream closes mid-body → downstream connection aborted, flag UC",
  ...IO,
  async fn() {
    const up = scriptedUpstream(async (c) => {
      await writeFully(c, bytes("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-ten.."));
      await sleep(50);
      c.close();
    });
    const p = flaggingProxy(up.port);
    try {
      const t0 = Date.now();
      const out = await rawExchange(p.port, GET, 3000);
      assert.ok(Date.now() - t0 < 2500, "downstream was closed, not left hanging");
      assert.deepEqual(statuses(out), [200]);
      assert.ok(out.endsWith("only-ten.."));
      assert.equal(p.results[0].flag, "UC");
      assert.equal(p.results[0].responseBytes, 10);
    } finally {
      await p.close();
      up.close();
    }
  },
});

Deno.test({
  name: "undelimitable or malformed upstream response → 502 UPE",
  ...IO,
  async fn() {
    const bad = [
      "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nx: a\x00b\r\ncontent-length: 0\r\n\r\n",
      "HTTZ/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\ncontent-length: 0\n\n",
    ];
    for (const resp of bad) {
      const up = scriptedUpstream(async (c) => {
        await writeFully(c, bytes(resp));
        await sleep(20);
        c.close();
      });
      const p = flaggingProxy(up.port);
      try {
        const out = await rawExchange(p.port, GET, 2000);
        assert.deepEqual(statuses(out), [502], JSON.stringify(resp));
        assert.equal(p.results[0].flag, "UPE");
      } finally {
        await p.close();
        up.close();
      }
    }
    // a bad chunk in the body after the head went out: aborted, UPE
    const up = scriptedUpstream(async (c) => {
      await writeFully(
        c,
        bytes("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"),
      );
      await sleep(1000);
      c.close();
    });
    const p = flaggingProxy(up.port);
    try {
      const t0 = Date.now();
      const out = await rawExchange(p.port, GET, 3000);
      assert.ok(Date.now() - t0 < 900, "aborted at once");
      assert.deepEqual(statuses(out), [200]);
      assert.doesNotMatch(
        out,
        /0\r\n\r\n$/,
        "no terminating chunk: the client sees a truncated body",
      );
      assert.equal(p.results[0].flag, "UPE");
    } finally {
      await p.close();
      up.close();
    }
  },
});

Deno.test({
  name: "connection refused → 503 UF; slow upstream → 504 UT",
  ...IO,
  async fn() {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (l.addr as Deno.NetAddr).port;
    l.close();
    const p = flaggingProxy(deadPort);
    try {
      const out = await rawExchange(p.port, GET, 2000);
      assert.deepEqual(statuses(out), [503]);
      assert.equal(p.results[0].flag, "UF");
    } finally {
      await p.close();
    }
    const up = scriptedUpstream(async (c) => {
      await sleep(2000);
      c.close();
    });
    const p2 = flaggingProxy(up.port, { timeoutMs: 200 });
    try {
      const t0 = Date.now();
      const out = await rawExchange(p2.port, GET, 3000);
      assert.deepEqual(statuses(out), [504]);
      assert.match(out, /upstream request timeout/);
      assert.ok(Date.now() - t0 < 1500);
      assert.equal(p2.results[0].flag, "UT");
    } finally {
      await p2.close();
      up.close();
    }
  },
});

Deno.test({
  name: "pool overflow → 503 UO with x-envoy-overloaded",
  ...IO,
  async fn() {
    const up = scriptedUpstream(async (c) => {
      await sleep(400);
      await writeFully(c, bytes("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
    });
    const p = flaggingProxy(up.port, { pool: { maxConnections: 1, maxPending: 0 } });
    try {
      const first = rawExchange(
        p.port,
        "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
        2000,
      );
      await sleep(100);
      const second = await rawExchange(
        p.port,
        "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
        2000,
      );
      assert.deepEqual(statuses(second), [503]);
      assert.match(second, /x-envoy-overloaded: true/);
      assert.deepEqual(statuses(await first), [200]);
      assert.ok(p.results.some((r) => r.flag === "UO"));
    } finally {
      await p.close();
      up.close();
    }
  },
});

Deno.test({
  name: "slowloris: a head not complete within the header timeout → 408 and close",
  ...IO,
  async fn() {
    const server = new HttpServer((_req, res) => res.respond(200, [], "ok"), {
      headerTimeoutMs: 300,
      idleTimeoutMs: 5000,
    });
    const listener = listenTcp({ port: 0 });
    server.serve(listener);
    try {
      const c = await dial(listener.port);
      const t0 = Date.now();
      await writeFully(c, bytes("GET / HTTP/1.1\r\n"));
      // trickle bytes: each write resets nothing, the deadline counts from the first byte
      for (const ch of "Host: s\r\nX-Slow: ") {
        await sleep(40);
        await writeFully(c, bytes(ch)).catch(() => {});
      }
      const out = text(await readAll(c, 3000));
      c.close();
      assert.deepEqual(statuses(out), [408]);
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 2500, `closed after ${took} ms`);
      // a prompt client on the same server is unaffected
      const ok = await rawExchange(
        listener.port,
        "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
      );
      assert.deepEqual(statuses(ok), [200]);
    } finally {
      await server.close(200);
    }
  },
});

Deno.test({
  name: "idle keep-alive connections are closed after the idle timeout",
  ...IO,
  async fn() {
    const server = new HttpServer((_req, res) => res.respond(200, [], "ok"), {
      headerTimeoutMs: 5000,
      idleTimeoutMs: 300,
    });
    const listener = listenTcp({ port: 0 });
    server.serve(listener);
    try {
      const c = await dial(listener.port);
      await writeFully(c, bytes("GET / HTTP/1.1\r\nHost: s\r\n\r\n"));
      const first = await readUntil(c, (s) => s.endsWith("ok"));
      assert.deepEqual(statuses(first), [200]);
      const t0 = Date.now();
      const rest = await readAll(c, 3000);
      c.close();
      assert.equal(rest.length, 0);
      const took = Date.now() - t0;
      assert.ok(took >= 200 && took < 2500, `idle close after ${took} ms`);
      assert.equal(server.connections, 0);
    } finally {
      await server.close(200);
    }
  },
});
