import assert from "node:assert/strict";
import type { HTTPMatchRequest } from "../../mesh/config/mod.ts";
import { RequestMatcher } from "../../mesh/pipeline/match.ts";
import { type PlainRequest, requestView } from "../../mesh/pipeline/request_view.ts";

function matches(block: Partial<HTTPMatchRequest>, req: PlainRequest): boolean {
  return new RequestMatcher({ ignoreUriCase: false, ...block }).matches(requestView(req));
}

Deno.test("authority sees the raw value with its port; method and values are case-sensitive", () => {
  assert.ok(matches({ authority: { exact: "reviews:9080" } }, { authority: "reviews:9080" }));
  assert.ok(!matches({ authority: { exact: "reviews" } }, { authority: "reviews:9080" }));
  assert.ok(matches({ authority: { regex: "reviews(:\\d+)?" } }, { authority: "reviews:9080" }));
  assert.ok(matches({ method: { exact: "GET" } }, { method: "GET" }));
  assert.ok(!matches({ method: { exact: "get" } }, { method: "GET" }));
  assert.ok(matches({ scheme: { exact: "https" } }, { scheme: "https" }));
});

Deno.test("headers: names case-insensitive, joined values, {} and regex '*' mean present", () => {
  assert.ok(
    matches({ headers: { "X-User": { exact: "a,b" } } }, {
      headers: [["x-user", "a"], ["X-User", "b"]],
    }),
  );
  assert.ok(matches({ headers: { "x-p": {} } }, { headers: { "x-p": "" } }));
  assert.ok(!matches({ headers: { "x-p": {} } }, {}));
  assert.ok(matches({ headers: { "x-p": { regex: "*" } } }, { headers: { "x-p": "v" } }));
  // Pseudo-header keys are ignored in `headers`.
  assert.ok(matches({ headers: { uri: { exact: "/nope" } } }, { path: "/x" }));
  assert.ok(!matches({ headers: { "x-v": { prefix: "ab" } } }, { headers: { "x-v": "Abc" } }));
});

Deno.test("queryParams: {} present, exact '' present-and-empty, regex full match", () => {
  assert.ok(matches({ queryParams: { a: {} } }, { path: "/?a" }));
  assert.ok(!matches({ queryParams: { a: {} } }, { path: "/?b=1" }));
  assert.ok(matches({ queryParams: { a: { exact: "" } } }, { path: "/?a=" }));
  assert.ok(!matches({ queryParams: { a: { exact: "" } } }, { path: "/?a=1" }));
  assert.ok(matches({ queryParams: { id: { regex: "\\d+$" } } }, { path: "/?id=123" }));
  assert.ok(!matches({ queryParams: { id: { regex: "\\d+$" } } }, { path: "/?id=a123" }));
});

Deno.test("port compares with the destination port; catch-all detection", () => {
  assert.ok(matches({ port: 9080 }, { authority: "r:9080" }));
  assert.ok(!matches({ port: 9080 }, { authority: "r" }));
  assert.ok(new RequestMatcher().catchAll);
  assert.ok(new RequestMatcher({ ignoreUriCase: false, uri: { prefix: "/" } }).catchAll);
  assert.ok(!new RequestMatcher({ ignoreUriCase: false, uri: { prefix: "/a" } }).catchAll);
  assert.equal(
    new RequestMatcher({ ignoreUriCase: false, uri: { exact: "/a" } }).uriInfo.kind,
    "exact",
  );
});
