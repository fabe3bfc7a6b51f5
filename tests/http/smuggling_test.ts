/**
 * Request smuggling: every ambiguous or malformed request sent over a raw
 * socket to the pass-through proxy gets 400 (or 4xx/5xx for limits) and a
 * closed connection, and the upstream receives no byte of it.
 */
import assert from "node:assert/strict";
import {
  bytes,
  dial,
  IO,
  readAll,
  recordingUpstream,
  startProxy,
  statuses,
  text,
  writeFully,
} from "./helpers.ts";

const H = "Host: svc\r\n";
const GET_AFTER = "GET /smuggled HTTP/1.1\r\nHost: svc\r\n\r\n";

const CASES: [string, string, number?][] = [
  [
    "CL and TE together",
    `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${GET_AFTER}`,
  ],
  [
    "TE and CL together",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${GET_AFTER}`,
  ],
  [
    "two different CLs",
    `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 40\r\n\r\n${GET_AFTER}`,
  ],
  ["CL list", `POST / HTTP/1.1\r\n${H}Content-Length: 0, 40\r\n\r\n${GET_AFTER}`],
  ["negative CL", `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`],
  ["CL with sign", `POST / HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\nabcd`],
  ["TE gzip,chunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
  [
    "TE chunked,identity",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  ],
  ["TE xchunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
  ["TE with vertical tab", `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`],
  [
    "TE twice",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ],
  ["TE in HTTP/1.0", `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ["space before colon", `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`],
  ["obs-fold", `GET / HTTP/1.1\r\n${H}X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`],
  ["leading-space header", `GET / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n${H}\r\n`],
  ["bare LF line ending", `GET / HTTP/1.1\n${H}\n`],
  ["bare LF inside head", `GET / HTTP/1.1\r\n${H}X-A: 1\nTransfer-Encoding: chunked\r\n\r\n`],
  ["bare CR in value", `GET / HTTP/1.1\r\n${H}X-A: 1\rTransfer-Encoding: chunked\r\n\r\n`],
  ["NUL in value", `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`],
  ["CTL in value", `GET / HTTP/1.1\r\n${H}X-A: a\x1bb\r\n\r\n`],
  ["NUL in name", `GET / HTTP/1.1\r\n${H}X\x00A: 1\r\n\r\n`],
  ["invalid method", `G(T / HTTP/1.1\r\n${H}\r\n`],
  ["lowercase method", `get / HTTP/1.1\r\n${H}\r\n`],
  ["invalid version", `GET / HTTP/1.x\r\n${H}\r\n`],
  ["unsupported version", `GET / HTTP/3.0\r\n${H}\r\n`, 505],
  ["missing Host", `GET / HTTP/1.1\r\n\r\n`],
  ["two Hosts", `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`],
  ["space in target", `GET /a b HTTP/1.1\r\n${H}\r\n`],
  [
    "invalid chunk size",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "chunk size with 0x",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "chunk size overflow",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${
      "f".repeat(20)
    }\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "chunk size bare LF",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`,
  ],
  [
    "chunk extension abuse",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;${
      "x".repeat(5000)
    }\r\nhello\r\n0\r\n\r\n`,
  ],
  [
    "CTL in chunk extension",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n`,
  ],
  ["request line too long", `GET /${"a".repeat(20_000)} HTTP/1.1\r\n${H}\r\n`, 414],
  ["too many headers", `GET / HTTP/1.1\r\n${H}${"x-a: 1\r\n".repeat(120)}\r\n`, 431],
];

Deno.test({
  name:
    "smuggling: each ambiguous request → 400/limit status, connection closed, upstream sees nothing",
  ...IO,
  async fn(t) {
    const up = recordingUpstream();
    const proxy = startProxy(up.port);
    try {
      for (const [name, req, status = 400] of CASES) {
        await t.step(name, async () => {
          const c = await dial(proxy.port);
          const started = Date.now();
          try {
            await writeFully(c, bytes(req));
            const out = text(await readAll(c, 4000));
            assert.deepEqual(
              statuses(out),
              [status],
              `${name}: got ${JSON.stringify(out.slice(0, 200))}`,
            );
            assert.match(out, /connection: close/i);
            // readAll ended by EOF (the proxy closed), not by its 4 s silence timeout
            assert.ok(Date.now() - started < 3500, `${name}: connection was not closed`);
          } finally {
            c.close();
          }
        });
      }
      assert.equal(up.received.join(""), "", "upstream must not receive any byte");
      // the proxy still forwards a valid request (the suite would pass vacuously otherwise)
      const c = await dial(proxy.port);
      await writeFully(c, bytes("GET /fine HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n"));
      const out = text(await readAll(c));
      c.close();
      assert.deepEqual(statuses(out), [200]);
      assert.match(up.received.join(""), /^GET \/fine HTTP\/1\.1\r\n/);
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

Deno.test({
  name: "smuggling: a bad chunk after good ones never reaches the upstream as a complete request",
  ...IO,
  async fn() {
    // never answers: the proxy must give up on the request by itself
    const up = recordingUpstream(() => "");
    const proxy = startProxy(up.port);
    try {
      const out = text(
        await readAll(
          await dialAndSend(
            proxy.port,
            `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n${GET_AFTER}`,
          ),
        ),
      );
      assert.deepEqual(statuses(out), [400]);
      // the upstream got at most a truncated chunked body: no terminating 0-chunk, no second request
      const got = up.received.join("");
      assert.ok(!got.includes("0\r\n\r\n"), JSON.stringify(got));
      assert.ok(!got.includes("/smuggled"), JSON.stringify(got));
    } finally {
      await proxy.close();
      up.close();
    }
  },
});

async function dialAndSend(port: number, req: string) {
  const c = await dial(port);
  await writeFully(c, bytes(req));
  return c;
}
