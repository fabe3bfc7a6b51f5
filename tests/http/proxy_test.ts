/** Pass-through proxy behaviour over real sockets: keep-alive, pipelining, headers, bodies. */
import assert from "node:assert/strict";
import {
  bytes,
  dial,
  IO,
  rawExchange,
  readAll,
  readUntil,
  recordingUpstream,
  startProxy,
  statuses,
  text,
  writeFully,
} from "./helpers.ts";

function echoHead(head: string, body: string): string {
  const payload = head + body;
  return `HTTP/1.1 200 OK\r\ncontent-length: ${payload.length}\r\n\r\n${payload}`;
}

Deno.test({
  name: "keep-alive and pipelining: responses in order on one connection, one upstream connection",
  ...IO,
  async fn() {
    const up = recordingUpstream((head) => {
      const path = head.split(" ")[1];
      return `HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`;
    });
    const proxy = startProxy(up.port);
    try {
      const c = await dial(proxy.port);
      const reqs = ["/a", "/bb", "/ccc"].map((p) => `GET ${p} HTTP/1.1\r\nHost: s\r\n\r\n`);
      await writeFully(c, bytes(reqs.join("")));
      const out = await readUntil(c, (s) => s.endsWith("/ccc"));
      assert.deepEqual(statuses(out), [200, 200, 200]);
      assert.deepEqual([...out.matchAll(/\r\n\r\n(\/[a-z]+)/g)].map((m) => m[1]), [
        "/a",
        "/bb",
        "/ccc",
      ]);
      // sequential keep-alive requests on the same downstream connection
      for (const p of ["/d", "/e"]) {
        await writeFully(c, bytes(`GET ${p} HTTP/1.1\r\nHost: s\r\n\r\n`));
        const r = await readUntil(c, (s) => s.endsWith(p));
        assert.ok(r.endsWith(p));
      }
      c.close();
      assert.equal(up.connections, 1, "upstream connection is pooled and reused");
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "proxy headers: x-forwarded-*, x-request-id, attempt count, hop-by-hop removal, no via",
  ...IO,
  async fn() {
    const up = recordingUpstream(echoHead);
    const proxy = startProxy(up.port);
    try {
      const out = await rawExchange(
        proxy.port,
        "GET http://reviews.default:9080/r?x=1 HTTP/1.1\r\nHost: ignored\r\n" +
          "Connection: keep-alive, x-private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n" +
          "Proxy-Connection: keep-alive\r\nTE: gzip\r\nX-Forwarded-For: 10.0.0.1\r\n" +
          "X-Envoy-Attempt-Count: 7\r\nX-Keep: yes\r\n\r\n",
        1500,
      );
      const seen = out.slice(out.indexOf("\r\n\r\n") + 4);
      assert.match(seen, /^GET \/r\?x=1 HTTP\/1\.1\r\n/);
      assert.match(seen, /\r\nhost: reviews\.default:9080\r\n/i);
      assert.doesNotMatch(seen, /ignored/);
      assert.match(seen, /\r\nx-forwarded-for: 10\.0\.0\.1, 127\.0\.0\.1\r\n/);
      assert.match(seen, /\r\nx-forwarded-proto: http\r\n/);
      assert.match(
        seen,
        /\r\nx-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\r\n/,
      );
      assert.match(seen, /\r\nx-envoy-attempt-count: 1\r\n/);
      assert.doesNotMatch(seen, /attempt-count: 7/);
      assert.match(seen, /\r\nX-Keep: yes\r\n/);
      for (
        const gone of [
          /x-private/i,
          /keep-alive/i,
          /proxy-connection/i,
          /\r\nte:/i,
          /\r\nvia:/i,
          /\r\nconnection:/i,
        ]
      ) {
        assert.doesNotMatch(seen, gone);
      }
      const kept = await rawExchange(
        proxy.port,
        "GET / HTTP/1.1\r\nHost: s\r\nX-Request-Id: abc-123\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n",
      );
      assert.match(kept, /\r\nX-Request-Id: abc-123\r\n/);
      assert.doesNotMatch(kept, /x-request-id: [0-9a-f]{8}-/);
      assert.match(kept, /\r\nX-Forwarded-Proto: https\r\n/);
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "chunked both ways, HEAD/204/304 without bodies, close-delimited upstream body",
  ...IO,
  async fn() {
    const ac = new AbortController();
    const srv = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
      async (req) => {
        const u = new URL(req.url);
        if (u.pathname === "/echo") {
          const body = await req.text();
          // a stream body makes Deno.serve answer chunked
          const stream = new ReadableStream({
            start(ctl) {
              ctl.enqueue(bytes("got:"));
              ctl.enqueue(bytes(body));
              ctl.close();
            },
          });
          return new Response(stream, { headers: { "x-len": String(body.length) } });
        }
        if (u.pathname === "/204") return new Response(null, { status: 204 });
        if (u.pathname === "/304") return new Response(null, { status: 304 });
        return new Response("head-body", { headers: { "content-type": "text/plain" } });
      },
    );
    const proxy = startProxy(srv.addr.port);
    try {
      const out = await rawExchange(
        proxy.port,
        "POST /echo HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
          "5\r\nhello\r\n1;ext=x\r\n \r\n5\r\nworld\r\n0\r\nTrailer-X: 1\r\n\r\n",
      );
      assert.deepEqual(statuses(out), [200]);
      assert.match(out, /transfer-encoding: chunked/i);
      assert.match(out, /x-len: 11/);
      const body = out.slice(out.indexOf("\r\n\r\n") + 4);
      assert.equal(dechunk(body), "got:hello world");

      const head = await rawExchange(
        proxy.port,
        "HEAD / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
      );
      assert.deepEqual(statuses(head), [200]);
      assert.ok(head.endsWith("\r\n\r\n"), "HEAD response has no body");
      assert.match(head, /content-length: 9/i);

      const c = await dial(proxy.port);
      await writeFully(
        c,
        bytes(
          "GET /204 HTTP/1.1\r\nHost: s\r\n\r\nGET /304 HTTP/1.1\r\nHost: s\r\n\r\nGET / HTTP/1.1\r\nHost: s\r\n\r\n",
        ),
      );
      const three = await readUntil(c, (s) => s.endsWith("head-body"));
      c.close();
      assert.deepEqual(statuses(three), [204, 304, 200]);
    } finally {
      await proxy.close();
      ac.abort();
      await srv.finished;
    }
    // close-delimited upstream body → chunked for HTTP/1.1, close-delimited for HTTP/1.0
    const up = recordingUpstream(() => null);
    const raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      for await (const c of raw) {
        (async () => {
          await readUntil(c, (s) => s.includes("\r\n\r\n"));
          await writeFully(c, bytes("HTTP/1.1 200 OK\r\n\r\nuntil-close-body"));
          c.close();
        })();
      }
    })().catch(() => {});
    const p2 = startProxy((raw.addr as Deno.NetAddr).port);
    try {
      const r11 = await rawExchange(
        p2.port,
        "GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
      );
      assert.match(r11, /transfer-encoding: chunked/i);
      assert.equal(dechunk(r11.slice(r11.indexOf("\r\n\r\n") + 4)), "until-close-body");
      const r10 = await rawExchange(p2.port, "GET / HTTP/1.0\r\n\r\n");
      assert.doesNotMatch(r10, /transfer-encoding/i);
      assert.ok(r10.endsWith("\r\n\r\nuntil-close-body"));
    } finally {
      await p2.close();
      raw.close();
      up.close();
    }
  },
});

function dechunk(s: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const eol = s.indexOf("\r\n", i);
    const size = parseInt(s.slice(i, eol).split(";")[0], 16);
    if (size === 0) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

Deno.test({
  name: "Expect: 100-continue is answered by the proxy before the body is sent",
  ...IO,
  async fn() {
    const up = recordingUpstream(echoHead);
    const proxy = startProxy(up.port);
    try {
      const c = await dial(proxy.port);
      await writeFully(
        c,
        bytes("PUT /x HTTP/1.1\r\nHost: s\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"),
      );
      const interim = await readUntil(c, (s) => s.includes("\r\n\r\n"));
      assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
      await writeFully(c, bytes("hello"));
      const final = await readUntil(c, (s) => s.endsWith("hello"));
      c.close();
      assert.deepEqual(statuses(final), [200]);
      assert.doesNotMatch(final, /expect:/i, "Expect is not forwarded");
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "WebSocket upgrade: 101 relayed, then raw bytes tunnelled both ways",
  ...IO,
  async fn() {
    let upstreamHead = "";
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      for await (const c of l) {
        (async () => {
          upstreamHead = await readUntil(c, (s) => s.includes("\r\n\r\n"));
          await writeFully(
            c,
            bytes(
              "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhi!",
            ),
          );
          const buf = new Uint8Array(1024);
          for (;;) {
            const n = await c.read(buf).catch(() => null);
            if (n === null) break;
            // echo with a marker, byte-exact
            await writeFully(c, buf.slice(0, n).map((b) => b ^ 0xff));
          }
          c.close();
        })();
      }
    })().catch(() => {});
    const proxy = startProxy((l.addr as Deno.NetAddr).port);
    try {
      const c = await dial(proxy.port);
      await writeFully(
        c,
        bytes(
          "GET /ws HTTP/1.1\r\nHost: s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      const first = await readUntil(c, (s) => s.endsWith("hi!"));
      assert.deepEqual(statuses(first), [101]);
      assert.match(first, /\r\nUpgrade: websocket\r\n/i);
      assert.match(upstreamHead, /\r\nconnection: upgrade\r\n/i);
      assert.match(upstreamHead, /\r\nUpgrade: websocket\r\n/);
      const payload = new Uint8Array([0, 1, 2, 250, 13, 10, 13, 10, 255]);
      await writeFully(c, payload);
      const buf = new Uint8Array(64);
      let got = new Uint8Array(0);
      while (got.length < payload.length) {
        const n = await c.read(buf);
        if (n === null) break;
        got = new Uint8Array([...got, ...buf.subarray(0, n)]);
      }
      assert.deepEqual([...got], [...payload].map((b) => b ^ 0xff));
      c.close();
    } finally {
      await proxy.close();
      l.close();
    }
  },
});

Deno.test({
  name: "a pooled connection closed by the upstream is retried once on a fresh connection",
  ...IO,
  async fn() {
    let n = 0;
    // answers the first request on each connection, then drops the connection on the next one
    const perConn = new Map<string, number>();
    const up = recordingUpstream((head) => {
      n++;
      const key = String(up.connections);
      const seen = (perConn.get(key) ?? 0) + 1;
      perConn.set(key, seen);
      if (seen > 1) return null;
      return `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${head.length % 10}`;
    });
    const proxy = startProxy(up.port);
    try {
      const c = await dial(proxy.port);
      for (let i = 0; i < 3; i++) {
        await writeFully(c, bytes("GET / HTTP/1.1\r\nHost: s\r\n\r\n"));
        const r = await readUntil(c, (s) => /\r\n\r\n\d$/.test(s));
        assert.deepEqual(statuses(r), [200], `request ${i}: ${r}`);
      }
      c.close();
      assert.equal(up.connections, 3);
      assert.equal(n, 5);
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "pool limit: maxRequestsPerConnection opens a new upstream connection",
  ...IO,
  async fn() {
    const up = recordingUpstream();
    const proxy = startProxy(up.port, { pool: { maxRequestsPerConnection: 2 } });
    try {
      const c = await dial(proxy.port);
      for (let i = 0; i < 5; i++) {
        await writeFully(c, bytes("GET / HTTP/1.1\r\nHost: s\r\n\r\n"));
        await readUntil(c, (s) => s.endsWith("ok"));
      }
      c.close();
      assert.equal(up.connections, 3);
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "HTTP/1.0 client without keep-alive gets connection: close and a closed socket",
  ...IO,
  async fn() {
    const up = recordingUpstream();
    const proxy = startProxy(up.port);
    try {
      const c = await dial(proxy.port);
      const t0 = Date.now();
      await writeFully(c, bytes("GET / HTTP/1.0\r\n\r\n"));
      const out = text(await readAll(c, 3000));
      c.close();
      assert.ok(Date.now() - t0 < 2500, "closed by the proxy");
      assert.deepEqual(statuses(out), [200]);
      assert.match(out, /connection: close/i);
    } finally {
      await proxy.close();
      up.close();
    }
  },
});
