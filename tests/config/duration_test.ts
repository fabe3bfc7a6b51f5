import assert from "node:assert/strict";
import fc from "fast-check";
import { DURATION_FORM, formatDuration, parseDuration } from "../../mesh/config/duration.ts";

Deno.test("parseDuration reads Istio's duration forms", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["0s", 0],
    ["10s", 10_000],
    ["500ms", 500],
    ["1.5s", 1500],
    [".5s", 500],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1h2m3.5s", 3_723_500],
    ["100us", 0.1],
    ["100µs", 0.1],
    ["1ns", 0.000001],
    ["2m30s", 150_000],
    ["1.25ms", 1.25],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration rejects malformed and negative durations", () => {
  for (
    const text of [
      "",
      "10",
      "s",
      "1.s.",
      "-1s",
      "+1s",
      "1 s",
      " 1s",
      "1sec",
      "1d",
      "1e3s",
      "..5s",
      "1m-5s",
      "NaN",
      "1.2.3s",
    ]
  ) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
  assert.match(DURATION_FORM, /500ms/);
});

Deno.test("formatDuration writes Go-style durations", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [500, "500ms"],
    [1500, "1.5s"],
    [10_000, "10s"],
    [60_000, "1m0s"],
    [3_723_500, "1h2m3.5s"],
    [0.1, "100us"],
    [0.000001, "1ns"],
    [1.25, "1.25ms"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

Deno.test("property: format then parse round-trips whole nanoseconds", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000_000_000_000 }), (ns) => {
      const ms = ns / 1_000_000;
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: format then parse round-trips whole milliseconds", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: random text never throws", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      const ms = parseDuration(text);
      assert.ok(ms === undefined || (Number.isFinite(ms) && ms >= 0));
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.hmsunµ]{0,12}$/), (text) => {
      const ms = parseDuration(text);
      assert.ok(ms === undefined || (Number.isFinite(ms) && ms >= 0));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("property: units are monotonic (ns < us < ms < s < m < h)", () => {
  const units = ["ns", "us", "ms", "s", "m", "h"];
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => {
      const values = units.map((u) => parseDuration(`${n}${u}`)!);
      for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1]);
      assert.equal(parseDuration(`${n}s`), n * 1000);
    }),
  );
});

Deno.test("property: sums of terms add up", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 999 }),
      (h, m, s, ms) => {
        const expected = ((h * 60 + m) * 60 + s) * 1000 + ms;
        assert.equal(parseDuration(`${h}h${m}m${s}s${ms}ms`), expected);
      },
    ),
  );
});
