import assert from "node:assert/strict";
import fc from "fast-check";
import { backoffDelay } from "../../mesh/pipeline/backoff.ts";

Deno.test("backoff: bounds per retry with the 25 ms default", () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(1, { random: top }), 24);
  assert.equal(backoffDelay(2, { random: top }), 74);
  assert.equal(backoffDelay(3, { random: top }), 174);
  assert.equal(backoffDelay(4, { random: top }), 250, "capped at 10 × base");
  assert.equal(backoffDelay(60, { random: top }), 250);
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
  assert.equal(backoffDelay(2, { base: 100, random: top }), 299);
  assert.equal(backoffDelay(5, { base: 100, max: 500, random: top }), 500);
});

Deno.test("property: backoff always within [0, min((2^N − 1)·base, max)]", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.double({ min: 0, max: 0.9999999, noNaN: true }),
      (retry, base, r) => {
        const delay = backoffDelay(retry, { base, random: () => r });
        assert.ok(Number.isInteger(delay) && delay >= 0);
        assert.ok(delay < (2 ** retry - 1) * base || retry > 30);
        assert.ok(delay <= 10 * base);
      },
    ),
  );
});
