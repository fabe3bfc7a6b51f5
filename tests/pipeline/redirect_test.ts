import assert from "node:assert/strict";
import type { CompiledRedirect } from "../../mesh/pipeline/redirect.ts";
import { redirectLocation } from "../../mesh/pipeline/redirect.ts";
import { requestView } from "../../mesh/pipeline/request_view.ts";

const redirect = (extra: Partial<CompiledRedirect>): CompiledRedirect => ({
  redirectCode: 301,
  uriMatch: { kind: "prefix", value: "/" },
  ...extra,
});

Deno.test("uri and authority replace path and host; query kept; default 301", () => {
  const r = redirectLocation(
    redirect({ uri: "/v1/bookRatings", authority: "newratings.default.svc.cluster.local" }),
    requestView({ authority: "ratings:8080", path: "/v1/getProductRatings?x=1" }),
  );
  assert.equal(r.status, 301);
  assert.equal(r.location, "http://newratings.default.svc.cluster.local/v1/bookRatings?x=1");
});

Deno.test("scheme change drops default ports; explicit and derived ports", () => {
  const view = requestView({ authority: "shop.example.com", path: "/cart", port: 8080 });
  assert.equal(
    redirectLocation(redirect({ scheme: "https" }), view).location,
    "https://shop.example.com/cart",
  );
  assert.equal(
    redirectLocation(redirect({ scheme: "https", port: 443, redirectCode: 308 }), view).location,
    "https://shop.example.com/cart",
  );
  assert.equal(
    redirectLocation(redirect({ port: 9000 }), view).location,
    "http://shop.example.com:9000/cart",
  );
  assert.equal(
    redirectLocation(redirect({ derivePort: "FROM_REQUEST_PORT" }), view).location,
    "http://shop.example.com:8080/cart",
  );
  assert.equal(
    redirectLocation(redirect({ scheme: "https", derivePort: "FROM_PROTOCOL_DEFAULT" }), view)
      .location,
    "https://shop.example.com/cart",
  );
  // The request's own port is kept when nothing says otherwise.
  const withPort = requestView({ authority: "shop.example.com:8443", path: "/" });
  assert.equal(
    redirectLocation(redirect({ uri: "/x" }), withPort).location,
    "http://shop.example.com:8443/x",
  );
});

Deno.test("prefixRewrite replaces the matched prefix", () => {
  const r = redirectLocation(
    redirect({
      prefixRewrite: "/new",
      uriMatch: { kind: "prefix", value: "/old" },
      redirectCode: 302,
    }),
    requestView({ authority: "a", path: "/old/page" }),
  );
  assert.deepEqual(r, { status: 302, location: "http://a/new/page" });
});
