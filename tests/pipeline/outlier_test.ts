import assert from "node:assert/strict";
import { EndpointSet } from "../../mesh/pipeline/endpoints.ts";
import {
  OutlierDetector,
  type OutlierSettings,
  withOutlierDefaults,
} from "../../mesh/pipeline/outlier.ts";

function setup(count: number, settings: Partial<OutlierSettings> = {}) {
  const set = new EndpointSet(
    Array.from({ length: count }, (_, i) => ({ address: `10.0.0.${i}`, port: 15006 })),
  );
  return { set, detector: new OutlierDetector(set, settings), hosts: set.endpoints };
}

Deno.test("defaults: Istio's, with maxEjectionPercent 0 meaning 10", () => {
  const d = withOutlierDefaults({ interval: 1000 });
  assert.equal(d.consecutive5xxErrors, 5);
  assert.equal(d.consecutiveGatewayErrors, 0);
  assert.equal(d.interval, 1000);
  assert.equal(d.baseEjectionTime, 30_000);
  assert.equal(d.maxEjectionPercent, 10);
  assert.equal(d.minHealthPercent, 0);
  assert.equal(d.consecutiveLocalOriginFailures, 5);
  assert.equal(withOutlierDefaults({ maxEjectionPercent: 0 }).maxEjectionPercent, 10);
  assert.equal(withOutlierDefaults({ consecutive5xxErrors: 0 }).consecutive5xxErrors, 0);
});

Deno.test("5 consecutive 5xx eject inline; a 200 resets the counter", () => {
  const { set, detector, hosts } = setup(10);
  const [h] = hosts;
  for (let i = 0; i < 4; i++) assert.equal(detector.report(h, 503, 0), false);
  detector.report(h, 200, 0);
  for (let i = 0; i < 4; i++) assert.equal(detector.report(h, 500, 0), false);
  assert.equal(h.outlier.ejected, false);
  assert.equal(detector.report(h, 500, 1000), true);
  assert.equal(h.outlier.ejected, true);
  assert.equal(h.outlier.ejectedUntil, 31_000);
  assert.ok(!set.available().includes(h), "ejected host leaves the pool");
  assert.equal(detector.report(h, 500, 1000), false, "already ejected");
});

Deno.test("4xx and local-origin failures: 4xx resets, connect failures count as 5xx", () => {
  const { detector, hosts } = setup(10);
  const [h] = hosts;
  for (let i = 0; i < 4; i++) detector.report(h, "connect-failure", 0);
  detector.report(h, 404, 0);
  assert.equal(h.outlier.consecutive5xx, 0);
  for (let i = 0; i < 4; i++) detector.report(h, "timeout", 0);
  detector.report(h, "connect-success", 0);
  assert.equal(detector.report(h, "reset", 0), true);
});

Deno.test("ejection time grows with the multiplier, capped at max(300 s, base)", () => {
  const { detector, hosts } = setup(1, { consecutive5xxErrors: 1, interval: 10_000 });
  const [h] = hosts;
  let now = 0;
  const durations: number[] = [];
  for (let round = 0; round < 14; round++) {
    assert.equal(detector.report(h, 500, now), true);
    durations.push(h.outlier.ejectedUntil - now);
    now = h.outlier.ejectedUntil;
    assert.deepEqual(detector.sweep(now), [h]);
  }
  assert.equal(durations[0], 30_000);
  assert.equal(durations[1], 60_000, "second ejection lasts 2× base");
  assert.equal(durations[2], 90_000);
  assert.equal(Math.max(...durations), 300_000);
  assert.equal(durations[13], 300_000);
  // A base above 300 s is its own cap.
  const big = setup(1, { consecutive5xxErrors: 1, baseEjectionTime: 400_000 });
  big.detector.report(big.hosts[0], 500, 0);
  big.detector.sweep(400_000);
  big.detector.report(big.hosts[0], 500, 400_000);
  assert.equal(big.hosts[0].outlier.ejectedUntil - 400_000, 400_000);
});

Deno.test("sweep returns expired hosts only at the sweep, and decays multipliers", () => {
  const { set, detector, hosts } = setup(1, { consecutive5xxErrors: 1 });
  const [h] = hosts;
  detector.report(h, 502, 0);
  assert.deepEqual(detector.sweep(29_999), []);
  assert.equal(h.outlier.ejected, true, "still ejected before its time");
  assert.deepEqual(detector.sweep(40_000), [h]);
  assert.deepEqual(set.available(), [h]);
  assert.equal(h.outlier.multiplier, 1, "not decayed in the sweep that returned it");
  detector.sweep(50_000);
  assert.equal(h.outlier.multiplier, 0, "decays by one per healthy sweep");
  detector.report(h, 502, 60_000);
  assert.equal(h.outlier.ejectedUntil, 90_000, "back to base after decay");
  detector.uneject(h);
  assert.equal(h.outlier.ejected, false, "active health success returns at once");
});

Deno.test("max ejection: the first ejection is always allowed (3 hosts, 10 %), the second not", () => {
  const { set, detector, hosts } = setup(3, { maxEjectionPercent: 10 });
  for (let i = 0; i < 5; i++) detector.report(hosts[0], 500, 0);
  assert.equal(hosts[0].outlier.ejected, true);
  for (let i = 0; i < 10; i++) detector.report(hosts[1], 500, 0);
  assert.equal(hosts[1].outlier.ejected, false);
  assert.equal(set.ejectedCount(), 1);
  // Once the first returns, another may go.
  detector.sweep(30_000);
  assert.equal(detector.report(hosts[1], 500, 30_000), true, "still failing: ejected now");
});

Deno.test("max ejection: percent caps further ejections on larger pools", () => {
  const { set, detector, hosts } = setup(10, { maxEjectionPercent: 20, consecutive5xxErrors: 1 });
  for (const h of hosts) detector.report(h, 500, 0);
  assert.equal(set.ejectedCount(), 2);
  const all = setup(4, { maxEjectionPercent: 100, consecutive5xxErrors: 1 });
  for (const h of all.hosts) all.detector.report(h, 500, 0);
  assert.equal(all.set.ejectedCount(), 4);
});

Deno.test("gateway errors: only 502/503/504, and a plain 500 breaks the run", () => {
  const { detector, hosts } = setup(10, { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 });
  const [h] = hosts;
  detector.report(h, 502, 0);
  detector.report(h, 504, 0);
  detector.report(h, 500, 0);
  assert.equal(h.outlier.consecutiveGateway, 0);
  detector.report(h, 503, 0);
  detector.report(h, 503, 0);
  assert.equal(detector.report(h, 503, 0), true);
  const off = setup(10, { consecutive5xxErrors: 0 });
  for (let i = 0; i < 20; i++) off.detector.report(off.hosts[0], 500, 0);
  assert.equal(off.hosts[0].outlier.ejected, false, "0 disables");
});

Deno.test("outlierDetectionHttpErrorCodes replaces the 5xx set", () => {
  const { detector, hosts } = setup(10, { outlierDetectionHttpErrorCodes: [429, 503] });
  const [h] = hosts;
  for (let i = 0; i < 10; i++) detector.report(h, 500, 0);
  assert.equal(h.outlier.ejected, false, "500 no longer counts");
  for (let i = 0; i < 4; i++) detector.report(h, 429, 0);
  assert.equal(detector.report(h, 429, 0), true);
});

Deno.test("split local-origin errors count separately", () => {
  const { detector, hosts } = setup(10, {
    splitExternalLocalOriginErrors: true,
    consecutiveLocalOriginFailures: 2,
  });
  const [a, b] = hosts;
  detector.report(a, 500, 0);
  detector.report(a, "connect-failure", 0);
  assert.equal(a.outlier.consecutive5xx, 1, "local failures no longer feed the 5xx counter");
  detector.report(a, "connect-success", 0);
  assert.equal(a.outlier.consecutiveLocalOrigin, 0);
  detector.report(b, "timeout", 0);
  assert.equal(detector.report(b, "reset", 0), true);
});
