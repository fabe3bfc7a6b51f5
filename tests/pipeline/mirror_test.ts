import assert from "node:assert/strict";
import { type CompiledMirror, selectMirrors } from "../../mesh/pipeline/mirror.ts";

const target = (name: string) => ({ clusterFor: (port: number) => `${name}:${port}` });

Deno.test("each mirror fires by its own percentage; 100 always, 0 never", () => {
  const mirrors: CompiledMirror<string>[] = [
    { destination: target("always"), percentage: 100 },
    { destination: target("never"), percentage: 0 },
    { destination: target("half"), percentage: 50 },
  ];
  assert.deepEqual(selectMirrors(mirrors, 9080, { random: () => 0.2 }), [
    "always:9080",
    "half:9080",
  ]);
  assert.deepEqual(selectMirrors(mirrors, 80, { random: () => 0.7 }), ["always:80"]);
  assert.equal(selectMirrors([], 80).length, 0);
  const out: string[] = [];
  assert.equal(selectMirrors(mirrors, 80, { random: () => 0.1, out }), out);
});
