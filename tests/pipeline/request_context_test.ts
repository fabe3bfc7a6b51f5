/** The request view adapted from the engine's head. */

import assert from "node:assert/strict";
import { ByteWriter, EMPTY_BODY, IncomingRequest, parseRequestHead } from "../../mesh/http/mod.ts";
import type { ByteConn } from "../../mesh/http/mod.ts";
import { portOf, RequestContext } from "../../mesh/pipeline/request_context.ts";

function context(raw: string, options: { port: number; gateway?: string }) {
  const bytes = new TextEncoder().encode(raw);
  const head = parseRequestHead(bytes, 32);
  const conn = { remoteHost: "10.1.2.3", secure: false } as unknown as ByteConn;
  const req = new IncomingRequest(head, EMPTY_BODY, conn, {
    startTime: 1,
    scratch: new ByteWriter(64),
  });
  return new RequestContext(req, options);
}

Deno.test("portOf reads a port only when the authority names one", () => {
  assert.equal(portOf("reviews:9080"), 9080);
  assert.equal(portOf("reviews"), 0);
  assert.equal(portOf("[::1]:8080"), 8080);
  assert.equal(portOf("::1"), 0);
  assert.equal(portOf("host:"), 0);
  assert.equal(portOf("host:99999"), 0);
  assert.equal(portOf(":80"), 0);
});

Deno.test("the view splits path and query and joins repeated headers", () => {
  const ctx = context(
    "GET /api/v1?x=1&y HTTP/1.1\r\nHost: reviews:9080\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
    { port: 80 },
  );
  assert.equal(ctx.method, "GET");
  assert.equal(ctx.path, "/api/v1");
  assert.equal(ctx.query, "x=1&y");
  assert.equal(ctx.pathAndQuery, "/api/v1?x=1&y");
  assert.equal(ctx.authority, "reviews:9080");
  assert.equal(ctx.port, 9080);
  assert.equal(ctx.scheme, "http");
  assert.equal(ctx.header("x-a"), "1,2");
  assert.equal(ctx.header("missing"), undefined);
});

Deno.test("sidecars default the port; gateways always use the listener's", () => {
  const raw = "GET / HTTP/1.1\r\nHost: shop:9999\r\n\r\n";
  assert.equal(context("GET / HTTP/1.1\r\nHost: shop\r\n\r\n", { port: 80 }).port, 80);
  assert.equal(context(raw, { port: 8080, gateway: "ns/gw" }).port, 8080);
  assert.equal(context("GET http://a.b:81/x HTTP/1.1\r\nHost: c\r\n\r\n", { port: 80 }).port, 81);
});

Deno.test("tried endpoints form the avoid set", () => {
  const ctx = context("GET / HTTP/1.1\r\nHost: a\r\n\r\n", { port: 80 });
  const e = {} as never;
  assert.equal(ctx.has(e), false);
  ctx.addTried(e);
  assert.equal(ctx.has(e), true);
});
