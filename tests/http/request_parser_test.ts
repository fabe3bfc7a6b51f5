import assert from "node:assert/strict";
import {
  BufferedReader,
  type ByteConn,
  Framing,
  parseRequest,
  ProtocolError,
  RequestHead,
  RequestParser,
  TargetForm,
} from "../../mesh/http/mod.ts";
import { bytes } from "./helpers.ts";

function parse(s: string) {
  const r = parseRequest(bytes(s));
  assert.ok(r !== null, "head should be complete");
  return r.head;
}

function rejects(s: string, status = 400, match?: RegExp) {
  try {
    parse(s);
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${err}`);
    assert.equal(err.status, status, `${JSON.stringify(s)}: ${err.message}`);
    if (match) assert.match(err.message, match);
    return;
  }
  assert.fail(`accepted ${JSON.stringify(s)}`);
}

Deno.test("parses an origin-form GET with headers", () => {
  const h = parse("GET /a/b?c=1 HTTP/1.1\r\nHost: svc.local:8080\r\nX-Thing:  v a l  \r\n\r\n");
  assert.equal(h.method, "GET");
  assert.equal(h.target, "/a/b?c=1");
  assert.equal(h.path, "/a/b?c=1");
  assert.equal(h.authority, "svc.local:8080");
  assert.equal(h.minor, 1);
  assert.equal(h.targetForm, TargetForm.ORIGIN);
  assert.equal(h.framing, Framing.NONE);
  assert.equal(h.keepAlive, true);
  assert.deepEqual(h.list(), ["host", "svc.local:8080", "x-thing", "v a l"]);
  assert.equal(h.get("X-THING"), "v a l");
  assert.equal(h.get("missing"), undefined);
});

Deno.test("parses absolute-form targets (explicit proxy)", () => {
  const h = parse("GET http://reviews.default:9080/r/1?x HTTP/1.1\r\nHost: other\r\n\r\n");
  assert.equal(h.targetForm, TargetForm.ABSOLUTE);
  assert.equal(h.authority, "reviews.default:9080");
  assert.equal(h.path, "/r/1?x");
  assert.equal(h.scheme, "http");
  const h2 = parse("GET https://a.b HTTP/1.1\r\nHost: a.b\r\n\r\n");
  assert.equal(h2.path, "/");
  assert.equal(h2.scheme, "https");
  const h3 = parse("GET http://a.b?q=1 HTTP/1.1\r\nHost: a.b\r\n\r\n");
  assert.equal(h3.path, "/?q=1");
  rejects("GET http://user@a.b/ HTTP/1.1\r\nHost: a.b\r\n\r\n");
  rejects("GET ftp://a.b/ HTTP/1.1\r\nHost: a.b\r\n\r\n");
  rejects("GET http:///x HTTP/1.1\r\nHost: a.b\r\n\r\n");
});

Deno.test("framing: Content-Length, chunked, and no body", () => {
  const a = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
  assert.equal(a.framing, Framing.LENGTH);
  assert.equal(a.contentLength, 12);
  const b = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n");
  assert.equal(b.framing, Framing.CHUNKED);
  assert.equal(b.hop[1], 1, "TE is hop-by-hop (re-encoded)");
  const c = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  assert.equal(c.framing, Framing.NONE);
  const d = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
  assert.equal(d.contentLength, 5, "repeated identical lengths are allowed");
});

Deno.test("keep-alive, Connection tokens and hop-by-hop marking", () => {
  const a = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  assert.equal(a.keepAlive, false);
  const b = parse("GET / HTTP/1.0\r\n\r\n");
  assert.equal(b.keepAlive, false);
  assert.equal(b.minor, 0);
  const c = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  assert.equal(c.keepAlive, true);
  const d = parse(
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-secret, keep-alive\r\nX-Secret: 1\r\n" +
      "Keep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: gzip\r\nTrailer: x\r\nX-Keep: 2\r\n\r\n",
  );
  const hop = [];
  for (let i = 0; i < d.count; i++) if (d.hop[i]) hop.push(d.name(i));
  assert.deepEqual(hop, [
    "connection",
    "x-secret",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
  ]);
  const e = parse("GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n");
  assert.equal(e.hop[1], 0, "te: trailers is kept (gRPC)");
  const f = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: host, content-length\r\n\r\n");
  assert.equal(f.hop[0], 0, "Host cannot be nominated away");
});

Deno.test("upgrade and expect", () => {
  const a = parse(
    "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  assert.equal(a.upgrade, true);
  const b = parse("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
  assert.equal(b.upgrade, false, "Upgrade without Connection: upgrade is ignored");
  const c = parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
  assert.equal(c.expectContinue, true);
  rejects("PUT / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n", 417);
});

Deno.test("tolerates leading empty lines before the request line", () => {
  const h = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(h.method, "GET");
});

Deno.test("rejects smuggling-prone and malformed heads", () => {
  const H = "Host: h\r\n";
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 0x10\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`);
  rejects(
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n`, 400, /before colon/);
  rejects(`POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}X-A: 1\r\n  folded\r\n\r\n`, 400, /folding/);
  rejects(`GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400, /CTL/);
  rejects(`GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}X\x00A: 1\r\n\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}: empty\r\n\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}X-A\r\n\r\n`);
  rejects(`GET / HTTP/1.1\n${H}\n`, 400, /bare LF/);
  rejects(`GET / HTTP/1.1\r\n${H}X-A: 1\n\r\n`, 400, /bare LF/);
  rejects(`G@T / HTTP/1.1\r\n${H}\r\n`);
  rejects(`get / HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET  / HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET / HTTP/1.1 \r\n${H}\r\n`);
  rejects(`GET / HTTP/1.2\r\n${H}\r\n`, 505);
  rejects(`GET / HTTP/2.0\r\n${H}\r\n`, 505);
  rejects(`GET / HTTP/x.1\r\n${H}\r\n`);
  rejects(`GET / http/1.1\r\n${H}\r\n`);
  rejects(`GET /a\x7fb HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET /a\tb HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET / HTTP/1.1\r\n\r\n`, 400, /Host/);
  rejects(`GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 400, /Host/);
  rejects(`GET x HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET * HTTP/1.1\r\n${H}\r\n`);
});

Deno.test("limits: request line → 414, head size and field count → 431", () => {
  const long = "/" + "a".repeat(20_000);
  assert.throws(
    () => parseRequest(bytes(`GET ${long} HTTP/1.1\r\nHost: h\r\n\r\n`)),
    (e) => e instanceof ProtocolError && e.status === 414,
  );
  // the 414 is known before the line ends
  assert.throws(
    () => parseRequest(bytes(`GET ${long}`)),
    (e) => e instanceof ProtocolError && e.status === 414,
  );
  const many = Array.from({ length: 101 }, (_, i) => `x-${i}: v\r\n`).join("");
  assert.throws(
    () => parseRequest(bytes(`GET / HTTP/1.1\r\nHost: h\r\n${many}\r\n`)),
    (e) => e instanceof ProtocolError && e.status === 431,
  );
  const big = `x-big: ${"v".repeat(70_000)}\r\n`;
  assert.throws(
    () => parseRequest(bytes(`GET / HTTP/1.1\r\nHost: h\r\n${big}\r\n`)),
    (e) => e instanceof ProtocolError && e.status === 431,
  );
  assert.throws(
    () => parseRequest(bytes(`GET / HTTP/1.1\r\nHost: h\r\nx: 1\r\n\r\n`), { maxHeaders: 1 }),
    (e) => e instanceof ProtocolError && e.status === 431,
  );
});

/** A ByteConn fed from an array of pieces. */
class PieceConn implements ByteConn {
  remoteHost = "127.0.0.1";
  remotePort = 1;
  localPort = 2;
  secure = false;
  #pieces: Uint8Array[];
  constructor(pieces: Uint8Array[]) {
    this.#pieces = pieces;
  }
  read(buf: Uint8Array): Promise<number | null> {
    const p = this.#pieces.shift();
    if (p === undefined) return Promise.resolve(null);
    const n = Math.min(p.length, buf.length);
    buf.set(p.subarray(0, n));
    if (n < p.length) this.#pieces.unshift(p.subarray(n));
    return Promise.resolve(n);
  }
  write(d: Uint8Array) {
    return Promise.resolve(d.length);
  }
  close() {}
  setNoDelay() {}
}

Deno.test("incremental arrival byte by byte gives the same head, pipelined heads in order", async () => {
  const msg = "GET /one HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n" +
    "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  const all = bytes(msg);
  const pieces = Array.from(all, (b) => new Uint8Array([b]));
  const reader = new BufferedReader(new PieceConn(pieces), 64);
  const parser = new RequestParser();
  const heads: string[] = [];
  const into = RequestHead.empty();
  let parseCalls = 0;
  for (;;) {
    const h = reader.end > reader.start ? parser.parse(reader, into) : null;
    parseCalls++;
    if (h !== null) {
      heads.push(`${h.method} ${h.target} ${JSON.stringify(h.list())}`);
      continue;
    }
    if (reader.end === reader.buf.length) {
      reader.compact();
      if (reader.end === reader.buf.length) reader.grow(4096);
    }
    if ((await reader.fill()) === 0) break;
  }
  assert.deepEqual(heads, [
    `GET /one ${JSON.stringify(["host", "h", "x-a", "1"])}`,
    `POST /two ${JSON.stringify(["host", "h", "content-length", "0"])}`,
  ]);
  assert.ok(parseCalls >= all.length);
});

Deno.test("incremental arrival: bare LF and oversize are detected before the head ends", () => {
  const parser = new RequestParser({ maxHeadBytes: 100 });
  const reader = new BufferedReader(new PieceConn([]), 4096);
  const feed = (s: string) => {
    const b = bytes(s);
    reader.buf.set(b, reader.end);
    reader.end += b.length;
  };
  feed("GET / HTTP/1.1\r\nHost: h\r\n");
  assert.equal(parser.parse(reader), null);
  feed("X-A: " + "a".repeat(90));
  assert.throws(() => parser.parse(reader), (e) => e instanceof ProtocolError && e.status === 431);
  const p2 = new RequestParser();
  const r2 = new BufferedReader(new PieceConn([]), 4096);
  const b = bytes("GET / HTTP/1.1\nHo");
  r2.buf.set(b);
  r2.end = b.length;
  assert.throws(() => p2.parse(r2), /bare LF/);
});

Deno.test("a reused head gives independent results; clone() outlives reuse", () => {
  const parser = new RequestParser();
  const reader = new BufferedReader(new PieceConn([]), 4096);
  const b = bytes(
    "GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST /second HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\n",
  );
  reader.buf.set(b);
  reader.end = b.length;
  const into = RequestHead.empty();
  const first = parser.parse(reader, into)!;
  const kept = first.clone();
  const second = parser.parse(reader, into)!;
  assert.equal(second.path, "/second");
  assert.equal(second.authority, "b");
  assert.equal(second.framing, Framing.LENGTH);
  assert.equal(kept.path, "/first");
  assert.equal(kept.authority, "a");
  assert.equal(kept.framing, Framing.NONE);
});
