import assert from "node:assert/strict";
import { formatDiagnostic, normalize, validatePaths } from "../../mesh/config/mod.ts";

const BOOKINFO = "/work/shared/conformance/istio-bookinfo";

Deno.test("every istio-bookinfo sample validates with zero errors and normalizes", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(BOOKINFO)) {
    if (entry.isFile && /\.ya?ml$/.test(entry.name)) files.push(`${BOOKINFO}/${entry.name}`);
  }
  assert.ok(files.length >= 20, `expected the bookinfo samples, found ${files.length}`);
  const result = await validatePaths(files);
  const errors = result.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  assert.deepEqual(errors, []);
  assert.equal(result.files, files.length);
  // Each file holds at least one resource; multi-document ones hold more.
  assert.ok(result.resources.length >= files.length + 10, `${result.resources.length} resources`);
  for (const resource of result.resources) normalize(resource);
  const reviews = result.resources.find((r) =>
    r.kind === "DestinationRule" && r.metadata.name === "reviews"
  )!;
  const n = normalize(reviews);
  assert.equal(n.kind === "DestinationRule" && n.spec.host, "reviews.default.svc.cluster.local");
});

Deno.test("the bookinfo directory as a whole validates (directory input)", async () => {
  const result = await validatePaths([BOOKINFO]);
  assert.equal(result.diagnostics.filter((d) => d.severity === "error").length, 0);
  assert.ok(result.files >= 20);
});
