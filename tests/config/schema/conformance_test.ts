import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { type KindName, KINDS, specSchemas } from "../../../mesh/config/schema/mod.ts";

const DIR = "/work/shared/conformance/istio-bookinfo";

Deno.test("every istio-bookinfo sample spec validates", async () => {
  let count = 0;
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const text = await Deno.readTextFile(`${DIR}/${entry.name}`);
    for (const doc of parseAllDocuments(text)) {
      const value = doc.toJS();
      if (value === null || value === undefined) continue;
      const kind = value.kind as KindName;
      assert.ok(kind in specSchemas, `${entry.name}: unexpected kind ${kind}`);
      const [group, version] = String(value.apiVersion).split("/");
      assert.equal(group, KINDS[kind].group, `${entry.name}: group`);
      assert.ok(KINDS[kind].versions.includes(version), `${entry.name}: version ${version}`);
      const result = specSchemas[kind].safeParse(value.spec);
      assert.ok(
        result.success,
        `${entry.name} ${kind} ${value.metadata?.name}: ${JSON.stringify(result.error?.issues)}`,
      );
      count++;
    }
  }
  assert.ok(count >= 30, `expected the bookinfo samples, parsed ${count} documents`);
});
