import assert from "node:assert/strict";
import {
  BodyReader,
  BufferedReader,
  type ByteConn,
  ByteWriter,
  CHUNKED_END,
  encodeChunk,
  Framing,
  parseResponse,
  PrematureEndError,
  ProtocolError,
} from "../../mesh/http/mod.ts";
import { bytes, concat, text } from "./helpers.ts";

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

function reader(s: string, byteByByte = false): BufferedReader {
  const b = bytes(s);
  const pieces = byteByByte ? Array.from(b, (x) => new Uint8Array([x])) : [b];
  return new BufferedReader(new PieceConn(pieces), 64);
}

async function decode(s: string, framing: number, length = 0, byteByByte = false) {
  const r = reader(s, byteByByte);
  const body = new BodyReader(framing, r, length);
  const out = await body.readAll();
  return { body: text(out), rest: text(r.buf.subarray(r.start, r.end)), done: body.done };
}

Deno.test("chunked decoding, whole and byte by byte, stops exactly at the end", async () => {
  const msg = '5\r\nhello\r\n6;ext=1;q="x"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT';
  for (const bbb of [false, true]) {
    const r = await decode(msg, Framing.CHUNKED, 0, bbb);
    assert.equal(r.body, "hello world");
    assert.equal(r.done, true);
    if (!bbb) assert.equal(r.rest, "NEXT");
  }
  const upper = await decode("A\r\n0123456789\r\n0\r\n\r\n", Framing.CHUNKED);
  assert.equal(upper.body, "0123456789");
});

Deno.test("chunked decoding rejects malformed framing", async () => {
  const bad = [
    "5 \r\nhello\r\n0\r\n\r\n", // space after size
    " 5\r\nhello\r\n0\r\n\r\n",
    "0x5\r\nhello\r\n0\r\n\r\n",
    "-5\r\nhello\r\n0\r\n\r\n",
    "\r\nhello\r\n0\r\n\r\n", // empty size
    "5\nhello\r\n0\r\n\r\n", // bare LF
    "5\r\nhelloXX0\r\n\r\n", // missing CRLF after data
    "5;a\x00b\r\nhello\r\n0\r\n\r\n", // CTL in extension
    "5;" + "e".repeat(5000) + "\r\nhello\r\n0\r\n\r\n", // extension abuse
    "fffffffffffffff\r\n", // absurd size
    "5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
    "5\r\nhello\r\n0\r\nno-colon\r\n\r\n",
  ];
  for (const s of bad) {
    await assert.rejects(
      () => decode(s, Framing.CHUNKED),
      (e) => e instanceof ProtocolError,
      JSON.stringify(s.slice(0, 40)),
    );
  }
  await assert.rejects(() => decode("5\r\nhel", Framing.CHUNKED), PrematureEndError);
});

Deno.test("fixed-length and until-close bodies", async () => {
  const a = await decode("hello worldEXTRA", Framing.LENGTH, 11);
  assert.equal(a.body, "hello world");
  assert.equal(a.rest, "EXTRA");
  await assert.rejects(() => decode("short", Framing.LENGTH, 10), PrematureEndError);
  const c = await decode("all of it", Framing.CLOSE);
  assert.equal(c.body, "all of it");
});

Deno.test("chunk encoder output decodes to the same bytes", async () => {
  const w = new ByteWriter(16);
  encodeChunk(w, bytes("abc"));
  encodeChunk(w, new Uint8Array(0));
  encodeChunk(w, bytes("x".repeat(300)));
  w.bytes(CHUNKED_END);
  const enc = text(w.view());
  assert.ok(enc.startsWith("3\r\nabc\r\n12c\r\n"));
  const r = await decode(enc, Framing.CHUNKED);
  assert.equal(r.body, "abc" + "x".repeat(300));
});

Deno.test("response framing: HEAD/204/304 without body, TE/CL, close-delimited", () => {
  const p = (s: string, m = "GET") => parseResponse(bytes(s), m)!.head;
  assert.equal(p("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD").framing, Framing.NONE);
  assert.equal(p("HTTP/1.1 204 No Content\r\n\r\n").framing, Framing.NONE);
  assert.equal(p("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing, Framing.NONE);
  const a = p("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  assert.equal(a.framing, Framing.LENGTH);
  assert.equal(a.contentLength, 5);
  assert.equal(
    p("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").framing,
    Framing.CHUNKED,
  );
  const c = p("HTTP/1.1 200 OK\r\n\r\n");
  assert.equal(c.framing, Framing.CLOSE);
  assert.equal(c.keepAlive, false);
  assert.equal(p("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keepAlive, false);
  assert.equal(p("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n").status, 200);
  const bad = [
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "HTTP/1.1 2x0 OK\r\n\r\n",
    "HTTP/2 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
  ];
  for (const s of bad) {
    assert.throws(() => p(s), (e) => e instanceof ProtocolError, JSON.stringify(s));
  }
});

Deno.test("readAll concatenates pieces", async () => {
  const r = reader("0123456789".repeat(20));
  const b = new BodyReader(Framing.LENGTH, r, 200);
  const all = await b.readAll();
  assert.equal(all.length, 200);
  assert.equal(text(concat([all.subarray(0, 10)])), "0123456789");
});
