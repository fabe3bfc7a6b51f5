import assert from "node:assert/strict";
import { compileCors, corsPreflight, corsResponseHeaders } from "../../mesh/pipeline/cors.ts";
import { requestView } from "../../mesh/pipeline/request_view.ts";

const policy = compileCors({
  allowOrigins: [{ exact: "https://a.example" }, { prefix: "https://dev." }, {
    regex: "https://.*\\.corp",
  }],
  allowMethods: ["GET", "POST"],
  allowHeaders: ["x-token"],
  exposeHeaders: ["x-trace"],
  maxAge: 86_400_000,
  allowCredentials: true,
  unmatchedPreflights: "FORWARD",
});

const preflight = (origin: string) =>
  requestView({
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST" },
  });

Deno.test("an allowed preflight is answered by the proxy with the CORS headers", () => {
  for (const origin of ["https://a.example", "https://dev.x", "https://b.corp"]) {
    const d = corsPreflight(policy, preflight(origin));
    assert.equal(d.kind, "respond", origin);
    if (d.kind !== "respond") continue;
    assert.deepEqual(Object.fromEntries(d.headers), {
      "access-control-allow-origin": origin,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET,POST",
      "access-control-allow-headers": "x-token",
      "access-control-max-age": "86400",
    });
  }
});

Deno.test("unmatched preflights go upstream (FORWARD) or get an empty 200 (IGNORE)", () => {
  assert.equal(corsPreflight(policy, preflight("https://evil")).kind, "continue");
  const ignore = compileCors({
    allowOrigins: [{ exact: "https://a.example" }],
    allowMethods: [],
    allowHeaders: [],
    exposeHeaders: [],
    unmatchedPreflights: "IGNORE",
  });
  assert.deepEqual(corsPreflight(ignore, preflight("https://evil")), {
    kind: "respond",
    status: 200,
    headers: [],
  });
  // Not a preflight: OPTIONS without Access-Control-Request-Method.
  assert.equal(
    corsPreflight(ignore, requestView({ method: "OPTIONS", headers: { origin: "x" } })).kind,
    "continue",
  );
});

Deno.test("actual requests from allowed origins get allow-origin, credentials and expose headers", () => {
  const h = corsResponseHeaders(policy, requestView({ headers: { origin: "https://a.example" } }));
  assert.deepEqual(Object.fromEntries(h), {
    "access-control-allow-origin": "https://a.example",
    "access-control-allow-credentials": "true",
    "access-control-expose-headers": "x-trace",
  });
  assert.equal(
    corsResponseHeaders(policy, requestView({ headers: { origin: "https://no" } })).length,
    0,
  );
  assert.equal(corsResponseHeaders(policy, requestView()).length, 0);
  const star = compileCors({
    allowOrigins: [{ exact: "*" }],
    allowMethods: [],
    allowHeaders: [],
    exposeHeaders: [],
    unmatchedPreflights: "FORWARD",
  });
  assert.equal(
    corsResponseHeaders(star, requestView({ headers: { origin: "https://any" } }))[0][1],
    "https://any",
  );
});
