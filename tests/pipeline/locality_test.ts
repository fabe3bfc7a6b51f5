import assert from "node:assert/strict";
import fc from "fast-check";
import { type Endpoint, EndpointSet, parseLocality } from "../../mesh/pipeline/endpoints.ts";
import {
  createHostChooser,
  type HostChooserOptions,
  localityMatches,
  localityPriority,
  panicThresholdFor,
} from "../../mesh/pipeline/locality.ts";
import { balancerFactory, seededRandom } from "../../mesh/pipeline/balance/mod.ts";

const CLIENT = parseLocality("us-west/zone1/sub1");

/** Endpoints named after their locality: `us-west/zone1/sub1#0`. */
function endpointSet(spec: Record<string, number>): EndpointSet {
  const list = [];
  let ip = 0;
  for (const [locality, count] of Object.entries(spec)) {
    for (let i = 0; i < count; i++) {
      list.push({
        address: `10.0.0.${ip++}`,
        port: 15006,
        locality: parseLocality(locality),
        labels: { name: `${locality}#${i}` },
      });
    }
  }
  return new EndpointSet(list);
}

function options(extra: Partial<HostChooserOptions> = {}): HostChooserOptions {
  return {
    newBalancer: balancerFactory(undefined, { random: seededRandom(5) }),
    clientLocality: CLIENT,
    outlierDetection: { minHealthPercent: 0 },
    random: seededRandom(9),
    ...extra,
  };
}

function localityShares(
  set: EndpointSet,
  opts: HostChooserOptions,
  picks = 10_000,
): Map<string, number> {
  const chooser = createHostChooser(set, opts);
  const count = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const e = chooser.pick();
    const key = e ? e.localityKey : "none";
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  for (const [key, n] of count) count.set(key, n / picks);
  return count;
}

function eject(set: EndpointSet, predicate: (e: Endpoint) => boolean): void {
  for (const e of set.endpoints) if (predicate(e)) set.setEjected(e, true, 1e9);
}

Deno.test("locality helpers: matching patterns and default priorities", () => {
  assert.ok(localityMatches(CLIENT, "us-west"));
  assert.ok(localityMatches(CLIENT, "us-west/*"));
  assert.ok(localityMatches(CLIENT, "*/zone1/sub1"));
  assert.ok(!localityMatches(CLIENT, "us-west/zone2"));
  assert.equal(localityPriority(CLIENT, parseLocality("us-west/zone1/sub1")), 0);
  assert.equal(localityPriority(CLIENT, parseLocality("us-west/zone1/sub2")), 1);
  assert.equal(localityPriority(CLIENT, parseLocality("us-west/zone2/sub1")), 2);
  assert.equal(localityPriority(CLIENT, parseLocality("us-east/zone1/sub1")), 3);
  assert.equal(panicThresholdFor(undefined), 50);
  assert.equal(panicThresholdFor({}), 0);
  assert.equal(panicThresholdFor({ minHealthPercent: 30 }), 30);
});

Deno.test("failover: default priorities keep traffic local, then fail over in order", () => {
  const set = endpointSet({
    "us-west/zone1/sub1": 2,
    "us-west/zone1/sub2": 2,
    "us-west/zone2/sub1": 2,
    "us-east/zone1/sub1": 2,
  });
  const chooser = createHostChooser(set, options());
  assert.equal(chooser.describe().length, 4);
  assert.deepEqual(localityShares(set, options()), new Map([["us-west/zone1/sub1", 1]]));
  eject(set, (e) => e.localityKey === "us-west/zone1/sub1");
  assert.equal(chooser.pick()?.localityKey, "us-west/zone1/sub2");
  eject(set, (e) => e.localityKey === "us-west/zone1/sub2");
  assert.equal(chooser.pick()?.localityKey, "us-west/zone2/sub1");
  eject(set, (e) => e.localityKey.startsWith("us-west"));
  assert.equal(chooser.pick()?.localityKey, "us-east/zone1/sub1");
  eject(set, () => true);
  assert.equal(chooser.pick(), undefined, "minHealthPercent 0: no panic, 503 UH");
});

Deno.test("failover: partial health spills by the 1.4 overprovisioning factor", () => {
  const set = endpointSet({ "us-west/zone1/sub1": 10, "us-east/zone1/sub1": 10 });
  const chooser = createHostChooser(set, options());
  const local = set.endpoints.filter((e) => e.locality.region === "us-west");
  // 8 of 10 healthy: 1.4 × 80 % ≥ 100 %, everything stays local.
  eject(set, (e) => e === local[0] || e === local[1]);
  assert.equal(chooser.describe()[0].healthyLoad, 100);
  // 5 of 10 healthy: P0 gets 70 %, P1 the remaining 30 %.
  eject(set, (e) => local.indexOf(e) >= 0 && local.indexOf(e) < 5);
  const [p0, p1] = chooser.describe();
  assert.equal(p0.healthyLoad, 70);
  assert.equal(p1.healthyLoad, 30);
  const shares = localityShares(set, options());
  assert.ok(Math.abs(shares.get("us-west/zone1/sub1")! - 0.7) < 0.05);
  // The picks within P0 are only its available hosts.
  for (let i = 0; i < 100; i++) assert.ok(chooser.pick()?.available);
});

Deno.test("failover: `failover` rule sends other regions to the last priority", () => {
  const set = endpointSet({
    "us-west/zone1/sub1": 1,
    "eu-west/zone1/sub1": 1,
    "us-east/zone1/sub1": 1,
  });
  const opts = options({ locality: { failover: [{ from: "us-west", to: "us-east" }] } });
  const chooser = createHostChooser(set, opts);
  assert.deepEqual(
    chooser.describe().map((p) => p.hosts.map((e) => e.locality.region)),
    [["us-west"], ["us-east"], ["eu-west"]],
  );
  eject(set, (e) => e.locality.region === "us-west");
  assert.equal(chooser.pick()?.locality.region, "us-east");
});

Deno.test("failover: needs outlier detection; enabled false turns it off", () => {
  const set = endpointSet({ "us-west/zone1/sub1": 1, "us-east/zone1/sub1": 1 });
  assert.equal(
    createHostChooser(set, options({ outlierDetection: undefined })).describe().length,
    1,
  );
  assert.equal(
    createHostChooser(set, options({ locality: { enabled: false } })).describe().length,
    1,
  );
  assert.equal(createHostChooser(set, options()).describe().length, 2);
});

Deno.test("failoverPriority: labels order endpoints into priorities", () => {
  const set = new EndpointSet([
    { address: "a", port: 1, labels: { net: "n1", tier: "gold" } },
    { address: "b", port: 1, labels: { net: "n1", tier: "silver" } },
    { address: "c", port: 1, labels: { net: "n2", tier: "gold" } },
  ]);
  const chooser = createHostChooser(
    set,
    options({
      clientLabels: { net: "n1" },
      locality: { failoverPriority: ["net", "tier=gold"] },
    }),
  );
  assert.deepEqual(chooser.describe().map((p) => p.hosts.map((e) => e.address)), [
    ["a"],
    ["b"],
    ["c"],
  ]);
  assert.equal(chooser.pick()?.address, "a");
  set.setEjected(set.endpoints[0], true, 1e9);
  assert.equal(chooser.pick()?.address, "b");
});

Deno.test("distribute: locality weights within ±5 % over 10,000 picks", () => {
  const set = endpointSet({
    "us-west/zone1/sub1": 2,
    "us-west/zone2/sub1": 2,
    "us-east/zone1/sub1": 4,
    "eu-west/zone1/sub1": 2,
  });
  const opts = options({
    outlierDetection: undefined,
    locality: {
      distribute: [{
        from: "us-west/zone1/*",
        to: { "us-west/zone1/*": 60, "us-west/zone2/*": 10, "us-east/*": 30 },
      }],
    },
  });
  const shares = localityShares(set, opts);
  assert.ok(Math.abs(shares.get("us-west/zone1/sub1")! - 0.6) < 0.05);
  assert.ok(Math.abs(shares.get("us-west/zone2/sub1")! - 0.1) < 0.05);
  assert.ok(Math.abs(shares.get("us-east/zone1/sub1")! - 0.3) < 0.05);
  assert.equal(shares.get("eu-west/zone1/sub1"), undefined, "unlisted locality gets nothing");
  // A locality losing hosts loses weight: 1 of 2 healthy ⇒ 60 × 0.7 = 42 against 10 + 30.
  eject(set, (e) => e.labels.name === "us-west/zone1/sub1#0");
  const after = localityShares(set, opts);
  assert.ok(Math.abs(after.get("us-west/zone1/sub1")! - 42 / 82) < 0.05);
});

Deno.test("panic: below the threshold a priority balances over all its hosts", () => {
  const set = endpointSet({ "us-west/zone1/sub1": 4 });
  const opts = options({ outlierDetection: undefined }); // Envoy's 50 %
  const chooser = createHostChooser(set, opts);
  eject(set, (e) => e.labels.name !== "us-west/zone1/sub1#0");
  assert.equal(chooser.describe()[0].panic, true);
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add(chooser.pick()!.address);
  assert.equal(seen.size, 4, "all hosts, ejected ones included");
  // Total panic with panic enabled still routes; with minHealthPercent 0 it does not.
  eject(set, () => true);
  assert.ok(chooser.pick());
  assert.equal(createHostChooser(set, options()).pick(), undefined);
  // minHealthPercent is the threshold; panic needs total health below 100 % (3 of 4 healthy
  // is 105 % after overprovisioning: no panic whatever the threshold).
  const set2 = endpointSet({ "us-west/zone1/sub1": 4 });
  eject(set2, (e) => e.labels.name === "us-west/zone1/sub1#0");
  const high = createHostChooser(set2, options({ outlierDetection: { minHealthPercent: 90 } }));
  assert.equal(high.describe()[0].panic, false);
  eject(set2, (e) => e.labels.name === "us-west/zone1/sub1#1");
  assert.equal(high.describe()[0].panic, true, "50 % healthy < 90 %");
  const low = createHostChooser(set2, options({ outlierDetection: { minHealthPercent: 40 } }));
  assert.equal(low.describe()[0].panic, false, "50 % healthy ≥ 40 %");
});

Deno.test("degraded hosts take traffic only when healthy capacity is short", () => {
  const set = endpointSet({ "us-west/zone1/sub1": 4 });
  const chooser = createHostChooser(set, options({ outlierDetection: undefined }));
  set.setHealth(set.endpoints[0], "degraded");
  for (let i = 0; i < 20; i++) assert.notEqual(chooser.pick(), set.endpoints[0]);
  set.setHealth(set.endpoints[1], "degraded");
  set.setHealth(set.endpoints[2], "degraded");
  const [p0] = chooser.describe();
  assert.equal(p0.healthyLoad, 35);
  assert.equal(p0.degradedLoad, 65);
});

Deno.test("property: outside panic the chooser never returns an unavailable host", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ region: fc.constantFrom("us-west", "us-east"), up: fc.boolean() }), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.constantFrom("ROUND_ROBIN", "LEAST_REQUEST", "RANDOM") as fc.Arbitrary<
        "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM"
      >,
      fc.integer(),
      (specs, simple, seed) => {
        const set = new EndpointSet(specs.map((s, i) => ({
          address: `h${i}`,
          port: 1,
          locality: { region: s.region, zone: "z", subzone: "s" },
        })));
        specs.forEach((s, i) => s.up || set.setEjected(set.endpoints[i], true, 1e9));
        const chooser = createHostChooser(set, {
          newBalancer: balancerFactory({ simple }, { random: seededRandom(seed) }),
          clientLocality: CLIENT,
          outlierDetection: {},
          random: seededRandom(seed + 1),
        });
        const anyUp = specs.some((s) => s.up);
        for (let i = 0; i < 10; i++) {
          const e = chooser.pick();
          if (anyUp) assert.ok(e?.available);
          else assert.equal(e, undefined);
        }
      },
    ),
    { numRuns: 200 },
  );
});
