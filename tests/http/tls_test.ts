/**
 * TLS and mutual TLS through the same engine code: the pass-through proxy
 * terminating TLS (Deno.listenTls and node:tls listeners), the pool
 * originating TLS to a TLS upstream, and a server that requires client
 * certificates (node:tls, since Deno.listenTls cannot request them in 2.9).
 */
import assert from "node:assert/strict";
import {
  type ByteListener,
  ConnectionPool,
  HttpServer,
  listenNodeTls,
  listenTcp,
  passthroughHandler,
  type PoolOptions,
} from "../../mesh/http/mod.ts";
import { bytes, IO, readUntil, recordingUpstream, startProxy, statuses, text } from "./helpers.ts";
import { opensslMissing, testPki } from "./tls_fixture.ts";

const missing = opensslMissing();
if (missing !== null) console.log(`tls_test: skipped: ${missing}`);
const TLS = { ...IO, ignore: missing !== null } as const;

const SPIFFE = "spiffe://cluster.local/ns/default/sa/client";

/** One request over an open connection; returns the text read until the body arrived. */
async function get(conn: Deno.Conn, path: string, until: (s: string) => boolean) {
  await conn.write(bytes(`GET ${path} HTTP/1.1\r\nHost: svc\r\n\r\n`));
  return await readUntil(conn, until, 5000);
}

/** A server answering with the peer certificate's SAN (or `none`) and the `x-forwarded-proto`. */
function identityServer(listener: ByteListener): HttpServer {
  const server = new HttpServer(async (req, res) => {
    const cert = req.conn.peerCertificate?.() ?? null;
    const xfp = req.head.get("x-forwarded-proto") ?? "-";
    const body = `san=${cert?.subjectAltName ?? "none"} proto=${xfp} secure=${req.secure}`;
    await res.respond(200, ["content-type", "text/plain"], body);
  });
  server.serve(listener);
  return server;
}

Deno.test({
  name: "pass-through terminates TLS (Deno.listenTls and node:tls) and forwards plain HTTP",
  ...TLS,
  async fn() {
    const pki = await testPki();
    const up = recordingUpstream((head) => {
      const proto = /\r\nx-forwarded-proto: (\S+)/.exec(head)?.[1] ?? "?";
      return `HTTP/1.1 200 OK\r\ncontent-length: ${proto.length}\r\n\r\n${proto}`;
    });
    const listeners: ByteListener[] = [
      listenTcp({ port: 0, cert: pki.serverCert, key: pki.serverKey }),
      await listenNodeTls({ port: 0, cert: pki.serverCert, key: pki.serverKey }),
    ];
    const servers = listeners.map((l) => {
      const pool = new ConnectionPool("127.0.0.1", up.port);
      const s = new HttpServer(passthroughHandler(pool));
      s.serve(l);
      return { s, pool };
    });
    try {
      for (const l of listeners) {
        for (const hostname of ["127.0.0.1", "localhost"]) {
          const c = await Deno.connectTls({ hostname, port: l.port, caCerts: [pki.ca] });
          try {
            const out = await get(c, "/a", (s) => s.endsWith("https"));
            assert.deepEqual(statuses(out), [200], out);
            assert.ok(
              out.endsWith("\r\n\r\nhttps"),
              `upstream saw x-forwarded-proto https: ${out}`,
            );
            // keep-alive over TLS: a second request on the same connection
            const again = await get(c, "/b", (s) => s.endsWith("https"));
            assert.deepEqual(statuses(again), [200]);
          } finally {
            c.close();
          }
        }
      }
      // a client that does not trust the proxy's CA cannot talk to it
      await assert.rejects(async () => {
        const c = await Deno.connectTls({ hostname: "127.0.0.1", port: listeners[0].port });
        try {
          await c.handshake();
        } finally {
          c.close();
        }
      });
    } finally {
      for (const { s, pool } of servers) {
        await s.close(200);
        pool.close();
      }
      up.close();
    }
  },
});

Deno.test({
  name: "the pool originates TLS to a TLS upstream, verifying it against the CA",
  ...TLS,
  async fn() {
    const pki = await testPki();
    const upListener = listenTcp({ port: 0, cert: pki.serverCert, key: pki.serverKey });
    const upstream = identityServer(upListener);
    const cases: { pool: PoolOptions; ok: boolean }[] = [
      { pool: { tls: { tls: true, caCerts: [pki.ca] } }, ok: true },
      // SNI/verification name other than the dialled address: the node:tls path
      { pool: { tls: { tls: true, caCerts: [pki.ca], serverName: "localhost" } }, ok: true },
      // no trust anchor for the upstream's certificate: the connect fails (503 UF)
      { pool: { tls: { tls: true } }, ok: false },
      { pool: { tls: { tls: true, caCerts: [pki.ca], serverName: "other.example" } }, ok: false },
    ];
    try {
      for (const k of cases) {
        const proxy = startProxy(upListener.port, { pool: k.pool });
        try {
          const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
          try {
            const out = await get(c, "/x", (s) => /\r\n\r\n.+/.test(s) && !s.endsWith("\r\n\r\n"));
            if (k.ok) {
              assert.deepEqual(statuses(out), [200], out);
              assert.match(out, /san=none proto=http secure=true/);
            } else {
              assert.deepEqual(statuses(out), [503], out);
              assert.match(out, /upstream connect error/i);
            }
          } finally {
            c.close();
          }
        } finally {
          await proxy.close();
        }
      }
    } finally {
      await upstream.close(200);
    }
  },
});

Deno.test({
  name: "mutual TLS: the server requires a client certificate from its CA and sees its identity",
  ...TLS,
  async fn() {
    const pki = await testPki();
    const listener = await listenNodeTls({
      port: 0,
      cert: pki.serverCert,
      key: pki.serverKey,
      clientCa: [pki.ca],
    });
    const server = identityServer(listener);
    try {
      // a client with a certificate from the CA is served and identified
      const ok = await Deno.connectTls({
        hostname: "localhost",
        port: listener.port,
        caCerts: [pki.ca],
        cert: pki.clientCert,
        key: pki.clientKey,
      });
      try {
        const out = await get(ok, "/id", (s) => s.includes("secure="));
        assert.deepEqual(statuses(out), [200], out);
        assert.ok(out.includes(`san=URI:${SPIFFE}`), out);
        assert.ok(out.includes("secure=true"));
      } finally {
        ok.close();
      }
      // without a certificate, or with one from another CA: no HTTP exchange happens
      const before = listener.handshakeFailures;
      for (const creds of [{}, { cert: pki.strangerCert, key: pki.strangerKey }]) {
        let answer = "";
        try {
          const c = await Deno.connectTls({
            hostname: "127.0.0.1",
            port: listener.port,
            caCerts: [pki.ca],
            ...creds,
          });
          try {
            answer = await get(c, "/id", (s) => s.length > 0);
          } finally {
            c.close();
          }
        } catch {
          // the handshake or the first read fails: rejected
        }
        assert.equal(answer, "", `a client without a valid certificate got: ${answer}`);
      }
      for (let i = 0; i < 100 && listener.handshakeFailures < before + 2; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(listener.handshakeFailures, before + 2);

      // the pool presents the client certificate when originating mutual TLS
      const withCert = startProxy(listener.port, {
        pool: { tls: { tls: true, caCerts: [pki.ca], cert: pki.clientCert, key: pki.clientKey } },
      });
      const withoutCert = startProxy(listener.port, {
        pool: { tls: { tls: true, caCerts: [pki.ca] } },
      });
      try {
        for (const [proxy, expect] of [[withCert, 200], [withoutCert, 503]] as const) {
          const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
          try {
            const out = await get(c, "/p", (s) => /\r\n\r\n.+/.test(s) && !s.endsWith("\r\n\r\n"));
            assert.deepEqual(statuses(out), [expect], out);
            if (expect === 200) assert.ok(out.includes(`san=URI:${SPIFFE}`), out);
          } finally {
            c.close();
          }
        }
      } finally {
        await withCert.close();
        await withoutCert.close();
      }
    } finally {
      await server.close(200);
    }
  },
});

Deno.test({
  name: "node:tls connections stream a large body both ways (adapter backpressure)",
  ...TLS,
  async fn() {
    const pki = await testPki();
    const listener = await listenNodeTls({ port: 0, cert: pki.serverCert, key: pki.serverKey });
    const server = new HttpServer(async (req, res) => {
      const body = await req.body.readAll();
      await res.respond(200, [], body);
    });
    server.serve(listener);
    try {
      const size = 3 * 1024 * 1024 + 17;
      const payload = new Uint8Array(size).map((_, i) => 97 + (i % 26));
      const c = await Deno.connectTls({
        hostname: "localhost",
        port: listener.port,
        caCerts: [pki.ca],
      });
      try {
        const head = bytes(`POST /big HTTP/1.1\r\nHost: s\r\nContent-Length: ${size}\r\n\r\n`);
        const writing = (async () => {
          await c.write(head);
          let o = 0;
          while (o < size) o += await c.write(payload.subarray(o, Math.min(size, o + 65536)));
        })();
        const parts: Uint8Array[] = [];
        let got = 0;
        const buf = new Uint8Array(65536);
        let headEnd = -1;
        let total = Infinity;
        while (got < total) {
          const n = await c.read(buf);
          if (n === null) break;
          parts.push(buf.slice(0, n));
          got += n;
          if (headEnd < 0) {
            const s = text(parts.length === 1 ? parts[0] : buf.subarray(0, n));
            const i = s.indexOf("\r\n\r\n");
            if (i >= 0) {
              headEnd = i + 4;
              total = headEnd + size;
            }
          }
        }
        await writing;
        assert.equal(got, total);
        const all = new Uint8Array(got);
        let o = 0;
        for (const p of parts) {
          all.set(p, o);
          o += p.length;
        }
        assert.deepEqual(all.subarray(headEnd), payload);
      } finally {
        c.close();
      }
    } finally {
      await server.close(200);
    }
  },
});
