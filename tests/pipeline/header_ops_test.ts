import assert from "node:assert/strict";
import { applyHeaderOps, compileHeaders, HeaderList } from "../../mesh/pipeline/header_ops.ts";

Deno.test("removals first, then set, then add; route then destination (destination set wins)", () => {
  const route = compileHeaders({
    request: {
      set: { "X-A": "route", "x-b": "route" },
      add: { "x-c": "route" },
      remove: ["x-old"],
    },
  })!;
  const dest = compileHeaders({
    request: { set: { "x-a": "dest" }, add: { "x-c": "dest" }, remove: ["x-b"] },
  })!;
  const h = new HeaderList([["x-old", "1"], ["x-b", "orig"], ["x-c", "orig"]]);
  applyHeaderOps(h, route.request, { destination: dest.request });
  assert.equal(h.get("x-old"), undefined);
  assert.equal(h.get("x-a"), "dest");
  // remove x-b (dest) runs before route's set of x-b: the set survives.
  assert.equal(h.get("x-b"), "route");
  assert.equal(h.get("x-c"), "orig,route,dest");
});

Deno.test("pseudo-headers and host are dropped; :authority/host set becomes an authority rewrite", () => {
  const c = compileHeaders({
    request: { set: { ":authority": "a.example", ":path": "/x", "x-ok": "1" }, remove: ["host"] },
    response: { set: { host: "nope", "x-r": "1" } },
  })!;
  assert.equal(c.authority, "a.example");
  assert.deepEqual(c.request!.set, [["x-ok", "1"]]);
  assert.deepEqual(c.request!.remove, []);
  assert.deepEqual(c.response!.set, [["x-r", "1"]]);
  assert.equal(compileHeaders({ request: {} }), undefined);
});

Deno.test("substitution: %% is a literal percent, %VAR% expands through the resolver", () => {
  const c = compileHeaders({
    response: {
      set: { "x-pct": "100%%", "x-peer": "ip=%DOWNSTREAM_REMOTE_ADDRESS%", "x-unknown": "%NOPE%" },
    },
  })!;
  const h = new HeaderList();
  applyHeaderOps(h, c.response, {
    resolve: (name) => (name === "DOWNSTREAM_REMOTE_ADDRESS" ? "10.0.0.1:5000" : undefined),
  });
  assert.equal(h.get("x-pct"), "100%");
  assert.equal(h.get("x-peer"), "ip=10.0.0.1:5000");
  assert.equal(h.get("x-unknown"), "%NOPE%");
});
