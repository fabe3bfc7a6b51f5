import assert from "node:assert/strict";
import { Flag, formatFlags, LocalReplies, parseFlags } from "../../mesh/pipeline/flags.ts";

Deno.test("flags render in Envoy's order, '-' when none, and parse back", () => {
  assert.equal(formatFlags(0), "-");
  assert.equal(formatFlags(Flag.URX | Flag.UF), "UF,URX");
  assert.equal(formatFlags(Flag.NR), "NR");
  assert.equal(parseFlags("UF,URX"), Flag.UF | Flag.URX);
  assert.equal(parseFlags("-"), 0);
});

Deno.test("local replies carry Envoy's statuses and bodies", () => {
  assert.deepEqual([LocalReplies.noRoute.status, LocalReplies.noRoute.body], [404, ""]);
  assert.equal(LocalReplies.clusterNotFound.status, 503);
  assert.equal(LocalReplies.clusterNotFound.flag, Flag.NC);
  assert.equal(LocalReplies.noHealthyUpstream.body, "no healthy upstream");
  assert.equal(LocalReplies.upstreamTimeout.status, 504);
  assert.equal(LocalReplies.upstreamTimeout.body, "upstream request timeout");
  assert.deepEqual(LocalReplies.overflow.headers, [["x-envoy-overloaded", "true"]]);
  assert.equal(LocalReplies.registryOnly.status, 502);
  assert.equal(LocalReplies.registryOnly.flag, 0);
});
