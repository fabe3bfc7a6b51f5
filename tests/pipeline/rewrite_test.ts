import assert from "node:assert/strict";
import type { UriMatchInfo } from "../../mesh/pipeline/match.ts";
import { requestView } from "../../mesh/pipeline/request_view.ts";
import { applyRewrite, compileRewrite } from "../../mesh/pipeline/rewrite.ts";

const prefix = (value: string): UriMatchInfo => ({ kind: "prefix", value });

Deno.test("uri rewrite replaces the matched prefix and keeps the query", () => {
  const rw = compileRewrite({ uri: "/v1/reviews" }, prefix("/reviews"))!;
  const r = applyRewrite(rw, requestView({ path: "/reviews/7?x=1" }));
  assert.equal(r.pathAndQuery, "/v1/reviews/7?x=1");
  assert.equal(r.originalPath, "/reviews/7?x=1");
  assert.equal(r.authority, undefined);
});

Deno.test("implicit '/' prefix concatenates (trap 12); exact and regex replace the whole path", () => {
  const implicit = compileRewrite({ uri: "/v2" }, prefix("/"))!;
  assert.equal(applyRewrite(implicit, requestView({ path: "/a" })).pathAndQuery, "/v2a");
  const exact = compileRewrite({ uri: "/new" }, { kind: "exact", value: "/old" })!;
  assert.equal(applyRewrite(exact, requestView({ path: "/old?q" })).pathAndQuery, "/new?q");
  const regex = compileRewrite({ uri: "/new" }, { kind: "regex", value: "/o.*" })!;
  assert.equal(applyRewrite(regex, requestView({ path: "/other" })).pathAndQuery, "/new");
});

Deno.test("uriRegexRewrite substitutes every match with back-references; authority alone", () => {
  const rw = compileRewrite(
    { uriRegexRewrite: { match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1" } },
    prefix("/"),
  )!;
  assert.equal(
    applyRewrite(rw, requestView({ path: "/service/foo/v1/api" })).pathAndQuery,
    "/v1/api/instance/foo",
  );
  const all = compileRewrite({ uriRegexRewrite: { match: "a", rewrite: "b" } }, prefix("/"))!;
  assert.equal(applyRewrite(all, requestView({ path: "/aXa" })).pathAndQuery, "/bXb");
  const auth = compileRewrite({ authority: "new.host" }, prefix("/"))!;
  const r = applyRewrite(auth, requestView({ path: "/p" }));
  assert.equal(r.authority, "new.host");
  assert.equal(r.pathAndQuery, undefined);
  assert.equal(compileRewrite({}, prefix("/")), undefined);
  assert.deepEqual(applyRewrite(undefined, requestView()), {});
});
