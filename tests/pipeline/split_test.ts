import assert from "node:assert/strict";
import { seededRandom } from "../../mesh/pipeline/balance/mod.ts";
import { cumulativeWeights, pickWeighted } from "../../mesh/pipeline/split.ts";

Deno.test("pickWeighted follows relative weights with an injected random number", () => {
  const choice = { destinations: ["a", "b", "c"], cumulative: cumulativeWeights([1, 2, 1]) };
  assert.equal(pickWeighted(choice, { random: () => 0 }), "a");
  assert.equal(pickWeighted(choice, { random: () => 0.2499 }), "a");
  assert.equal(pickWeighted(choice, { random: () => 0.25 }), "b");
  assert.equal(pickWeighted(choice, { random: () => 0.7499 }), "b");
  assert.equal(pickWeighted(choice, { random: () => 0.75 }), "c");
  assert.equal(pickWeighted(choice, { random: () => 0.9999 }), "c");
});

Deno.test("weights need not sum to 100; zero weights never win; a lone destination always does", () => {
  const random = seededRandom(3);
  const choice = { destinations: ["x", "zero", "y"], cumulative: cumulativeWeights([3, 0, 1]) };
  const counts: Record<string, number> = { x: 0, zero: 0, y: 0 };
  for (let i = 0; i < 4000; i++) counts[pickWeighted(choice, { random })]++;
  assert.equal(counts.zero, 0);
  assert.ok(Math.abs(counts.x / 4000 - 0.75) < 0.04, JSON.stringify(counts));
  const lone = { destinations: ["only"], cumulative: cumulativeWeights([0]) };
  assert.equal(pickWeighted(lone, { random }), "only");
});
