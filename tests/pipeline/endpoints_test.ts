import assert from "node:assert/strict";
import { Endpoint, EndpointSet, parseLocality } from "../../mesh/pipeline/endpoints.ts";

Deno.test("endpoint: defaults, key, locality and weight normalization", () => {
  const e = new Endpoint({ address: "10.0.0.1", port: 15006, locality: { region: "us" } });
  assert.equal(e.key, "10.0.0.1:15006");
  assert.equal(e.weight, 1);
  assert.deepEqual(e.locality, { region: "us", zone: "", subzone: "" });
  assert.equal(e.localityKey, "us//");
  assert.equal(e.available, true);
  assert.equal(new Endpoint({ address: "a", port: 1, weight: 0 }).weight, 1);
  assert.equal(new Endpoint({ address: "a", port: 1, weight: 7 }).weight, 7);
  assert.deepEqual(parseLocality("r/z"), { region: "r", zone: "z", subzone: "" });
});

Deno.test("endpoint set: available view is cached per version and tracks state changes", () => {
  const set = new EndpointSet([
    { address: "a", port: 1 },
    { address: "b", port: 1 },
    { address: "c", port: 1 },
  ]);
  const first = set.available();
  assert.equal(first.length, 3);
  assert.equal(set.available(), first, "same array while the version is unchanged");
  const [a, b, c] = set.endpoints;
  const v = set.version;
  set.setHealth(a, "unhealthy");
  assert.equal(set.version, v + 1);
  set.setHealth(a, "unhealthy");
  assert.equal(set.version, v + 1, "no-op change does not bump the version");
  set.setEjected(b, true, 1000);
  set.setHealth(c, "degraded");
  assert.deepEqual(set.available(), []);
  assert.equal(set.ejectedCount(), 1);
  assert.equal(b.outlier.ejectedUntil, 1000);
  assert.equal(c.degraded, true);
  set.setEjected(b, false);
  assert.deepEqual(set.available().map((e) => e.key), ["b:1"]);
  assert.equal(set.get("c:1"), c);
});
