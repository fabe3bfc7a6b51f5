import assert from "node:assert/strict";
import {
  authorityHost,
  authorityPort,
  queryParam,
  requestView,
  splitPathQuery,
} from "../../mesh/pipeline/request_view.ts";

Deno.test("requestView: defaults, path/query split, joined repeated headers, port from authority", () => {
  const v = requestView({
    path: "/a/b?x=1&y",
    authority: "Reviews:9080",
    headers: [["X-Multi", "a"], ["x-multi", "b"]],
  });
  assert.equal(v.method, "GET");
  assert.equal(v.path, "/a/b");
  assert.equal(v.query, "x=1&y");
  assert.equal(v.port, 9080);
  assert.equal(v.scheme, "http");
  assert.equal(v.header("x-multi"), "a,b");
  assert.equal(v.header("missing"), undefined);
  assert.equal(requestView({ authority: "reviews" }).port, 80);
  assert.equal(requestView({ authority: "reviews", port: 15001 }).port, 15001);
  assert.equal(requestView({ headers: { host: "h:81" } }).authority, "h:81");
});

Deno.test("authority parsing handles ports and IPv6", () => {
  assert.equal(authorityHost("a.b:80"), "a.b");
  assert.equal(authorityHost("a.b"), "a.b");
  assert.equal(authorityHost("[::1]:8080"), "[::1]");
  assert.equal(authorityPort("[::1]:8080"), 8080);
  assert.equal(authorityPort("[::1]"), undefined);
  assert.equal(authorityPort("a:x"), undefined);
  assert.equal(authorityPort("a:70000"), undefined);
  assert.deepEqual(splitPathQuery("/p"), { path: "/p", query: "" });
});

Deno.test("queryParam: first value, bare name is empty, no decoding, no prefix confusion", () => {
  const q = "a=1&ab=2&a=3&flag&empty=&enc=%20";
  assert.equal(queryParam(q, "a"), "1");
  assert.equal(queryParam(q, "ab"), "2");
  assert.equal(queryParam(q, "flag"), "");
  assert.equal(queryParam(q, "empty"), "");
  assert.equal(queryParam(q, "enc"), "%20");
  assert.equal(queryParam(q, "b"), undefined);
  assert.equal(queryParam("", "a"), undefined);
});
