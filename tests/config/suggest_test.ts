import assert from "node:assert/strict";
import { closest, editDistance, suggestField, suggestValue } from "../../mesh/config/suggest.ts";

const POLICY = [
  "loadBalancer",
  "connectionPool",
  "outlierDetection",
  "tls",
  "portLevelSettings",
  "tunnel",
  "proxyProtocol",
  "retryBudget",
];

Deno.test("circuitBreaker is a known confusion: connectionPool or outlierDetection", () => {
  assert.equal(
    suggestField("circuitBreaker", POLICY, { kind: "DestinationRule" }),
    "did you mean outlierDetection or connectionPool?",
  );
});

Deno.test("retryPolicy in a DestinationRule points at VirtualService retries", () => {
  assert.equal(
    suggestField("retryPolicy", POLICY, {
      kind: "DestinationRule",
      parentPath: "spec.trafficPolicy",
    }),
    "a DestinationRule has no retries; set retries on the VirtualService route (http[].retries)",
  );
  // The same name in a VirtualService route is a plain misspelling of retries.
  assert.equal(
    suggestField("retryPolicy", ["route", "retries", "timeout"], { kind: "VirtualService" }),
    "did you mean retries?",
  );
});

Deno.test("edit distance finds near misses", () => {
  assert.equal(suggestField("loadbalancer", POLICY), "did you mean loadBalancer?");
  assert.equal(suggestField("outlierDetecton", POLICY), "did you mean outlierDetection?");
  assert.equal(suggestField("hots", ["hosts", "gateways", "http"]), "did you mean hosts?");
  assert.equal(suggestField("subset", ["subsets", "host"]), "did you mean subsets?");
});

Deno.test("with no close match, a short list of valid fields is given", () => {
  assert.equal(suggestField("zzzzzz", ["name", "labels"]), "valid fields: name, labels");
  const many = Array.from({ length: 13 }, (_, i) => `field${i}abc`);
  assert.equal(suggestField("qqqqqqqqqq", many), "");
});

Deno.test("enum values get a suggestion", () => {
  assert.equal(
    suggestValue("ROUND_ROBBIN", ["ROUND_ROBIN", "RANDOM"]),
    "did you mean ROUND_ROBIN?",
  );
  assert.equal(
    suggestValue("istio_mutual", ["ISTIO_MUTUAL", "SIMPLE"]),
    "did you mean ISTIO_MUTUAL?",
  );
  assert.equal(suggestValue("banana", ["ROUND_ROBIN", "RANDOM"]), "");
});

Deno.test("editDistance counts transpositions as one edit", () => {
  assert.equal(editDistance("hosts", "hsots"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.deepEqual(closest("x", ["y"]), ["y"]);
});
