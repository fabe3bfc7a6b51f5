import assert from "node:assert/strict";
import {
  formatSetCookie,
  hashKey,
  type HashRequestView,
  hashString,
  readCookie,
} from "../../mesh/pipeline/balance/mod.ts";

function request(
  headers: Record<string, string> = {},
  query: Record<string, string> = {},
  sourceIp = "10.1.2.3",
): HashRequestView {
  return {
    header: (name) => headers[name],
    query: (name) => query[name],
    sourceIp,
    sourcePort: 40000,
    localAddress: "127.0.0.1:15001",
  };
}

Deno.test("hash key: header, source IP, query parameter", () => {
  assert.equal(
    hashKey({ httpHeaderName: "X-User" }, request({ "x-user": "jason" })).hash,
    hashString("jason"),
  );
  assert.equal(hashKey({ httpHeaderName: "x-user" }, request()).hash, undefined);
  assert.equal(hashKey({ useSourceIp: true }, request()).hash, hashString("10.1.2.3"));
  assert.equal(
    hashKey({ httpQueryParameterName: "u" }, request({}, { u: "7" })).hash,
    hashString("7"),
  );
  assert.equal(hashKey({}, request()).hash, undefined);
});

Deno.test("hash key: cookie present, absent without ttl, generated with ttl", () => {
  const policy = { httpCookie: { name: "session", path: "/", ttl: 60_000 } };
  const present = hashKey(policy, request({ cookie: 'a=1; session="abc"' }));
  assert.equal(present.hash, hashString("abc"));
  assert.equal(present.setCookie, undefined);
  assert.equal(hashKey({ httpCookie: { name: "session" } }, request()).hash, undefined);
  const generated = hashKey(policy, request());
  assert.ok(generated.setCookie);
  assert.equal(generated.setCookie.name, "session");
  assert.equal(generated.setCookie.ttl, 60_000);
  assert.equal(generated.hash, hashString(generated.setCookie.value));
  // The next request carrying the cookie hashes to the same place.
  const next = hashKey(policy, request({ cookie: `session=${generated.setCookie.value}` }));
  assert.equal(next.hash, generated.hash);
  assert.equal(
    formatSetCookie(generated.setCookie),
    `session="${generated.setCookie.value}"; Max-Age=60; Path=/; HttpOnly`,
  );
  assert.equal(
    formatSetCookie({ name: "s", value: "v", ttl: 0 }),
    's="v"; HttpOnly',
    "ttl 0 is a session cookie",
  );
});

Deno.test("readCookie parses names exactly", () => {
  assert.equal(readCookie("sessionx=1; session=2", "session"), "2");
  assert.equal(readCookie("", "session"), undefined);
  assert.equal(readCookie(null, "session"), undefined);
});
