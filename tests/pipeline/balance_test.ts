import assert from "node:assert/strict";
import fc from "fast-check";
import { type Endpoint, EndpointSet } from "../../mesh/pipeline/endpoints.ts";
import {
  algorithmOf,
  balancerFactory,
  isConsistentHash,
  LeastRequestBalancer,
  RandomBalancer,
  RoundRobinBalancer,
  seededRandom,
} from "../../mesh/pipeline/balance/mod.ts";

function hosts(...weights: number[]): Endpoint[] {
  return [
    ...new EndpointSet(weights.map((weight, i) => ({
      address: i < 26 ? String.fromCharCode(97 + i) : `h${i}`,
      port: 80,
      weight,
    }))).endpoints,
  ];
}

function names(list: (Endpoint | undefined)[]): string {
  return list.map((e) => e?.address ?? "-").join(" ");
}

Deno.test("round robin: equal weights rotate", () => {
  const lb = new RoundRobinBalancer();
  const h = hosts(1, 1, 1);
  assert.equal(names(Array.from({ length: 6 }, () => lb.pick(h))), "a b c a b c");
});

Deno.test("round robin: smooth weighted sequence for 5,1,1 is a a b a c a a", () => {
  const lb = new RoundRobinBalancer();
  const h = hosts(5, 1, 1);
  assert.equal(names(Array.from({ length: 7 }, () => lb.pick(h))), "a a b a c a a");
  assert.equal(names(Array.from({ length: 7 }, () => lb.pick(h))), "a a b a c a a");
});

Deno.test("round robin over the available view skips unavailable hosts", () => {
  const set = new EndpointSet([{ address: "a", port: 1 }, { address: "b", port: 1 }, {
    address: "c",
    port: 1,
  }]);
  set.setHealth(set.endpoints[1], "unhealthy");
  const lb = new RoundRobinBalancer();
  const picks = Array.from({ length: 4 }, () => lb.pick(set.available()));
  assert.equal(names(picks), "a c a c");
  assert.equal(lb.pick([]), undefined);
});

Deno.test("retry avoidance: every algorithm prefers untried hosts", () => {
  const h = hosts(1, 1, 1, 1);
  const avoid = new Set([h[0], h[1], h[2]]);
  for (
    const lb of [
      new RoundRobinBalancer(),
      new RandomBalancer(seededRandom(1)),
      new LeastRequestBalancer(seededRandom(2)),
    ]
  ) {
    for (let i = 0; i < 50; i++) assert.equal(lb.pick(h, { avoid })?.address, "d");
  }
  // Weighted round robin too.
  const w = hosts(5, 1, 1);
  const wrr = new RoundRobinBalancer();
  for (let i = 0; i < 20; i++) {
    assert.notEqual(wrr.pick(w, { avoid: new Set([w[0]]) })?.address, "a");
  }
  // All tried: still returns a host rather than nothing.
  assert.ok(new RandomBalancer(seededRandom(3)).pick(h, { avoid: new Set(h) }));
});

Deno.test("least request: P2C prefers the less loaded host", () => {
  const h = hosts(1, 1);
  h[0].active = 10;
  const lb = new LeastRequestBalancer(seededRandom(7));
  let b = 0;
  for (let i = 0; i < 1000; i++) if (lb.pick(h)?.address === "b") b++;
  // b wins whenever it is one of the two draws: 3/4 of the time.
  assert.ok(b > 700 && b < 800, `b picked ${b} times`);
  h[0].active = 0;
  h[1].active = 0;
  const lb2 = new LeastRequestBalancer(seededRandom(8));
  const hot = hosts(1, 1, 1, 1, 1);
  hot[2].active = 5;
  let c = 0;
  for (let i = 0; i < 1000; i++) if (lb2.pick(hot)?.address === "c") c++;
  // c is picked only when both draws are c: 1/25.
  assert.ok(c < 80, `loaded host picked ${c} times`);
});

Deno.test("least request: unequal weights share by weight / (active + 1)", () => {
  const h = hosts(2, 1);
  const lb = new LeastRequestBalancer(seededRandom(1));
  const count = { a: 0, b: 0 } as Record<string, number>;
  for (let i = 0; i < 300; i++) count[lb.pick(h)!.address]++;
  assert.equal(count.a, 200);
  h[0].active = 3; // effective 2/4 = 0.5 vs 1
  count.a = count.b = 0;
  for (let i = 0; i < 300; i++) count[lb.pick(h)!.address]++;
  assert.equal(count.b, 200);
});

Deno.test("random: roughly uniform", () => {
  const h = hosts(1, 1, 1, 1);
  const lb = new RandomBalancer(seededRandom(42));
  const count = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    const a = lb.pick(h)!.address;
    count.set(a, (count.get(a) ?? 0) + 1);
  }
  for (const n of count.values()) assert.ok(Math.abs(n - 2500) < 200, `count ${n}`);
});

Deno.test("algorithm resolution: defaults and aliases", () => {
  assert.equal(algorithmOf(undefined), "ROUND_ROBIN");
  assert.equal(algorithmOf({ simple: "UNSPECIFIED" }), "ROUND_ROBIN");
  assert.equal(algorithmOf({ simple: "LEAST_CONN" }), "LEAST_REQUEST");
  assert.equal(algorithmOf({ consistentHash: { httpHeaderName: "x" } }), "RING_HASH");
  assert.equal(algorithmOf({ consistentHash: { useSourceIp: true, maglev: {} } }), "MAGLEV");
  assert.equal(isConsistentHash({ consistentHash: { useSourceIp: true } }), true);
  assert.equal(isConsistentHash({ simple: "RANDOM" }), false);
  assert.ok(balancerFactory({ simple: "LEAST_CONN" })() instanceof LeastRequestBalancer);
  assert.throws(() => balancerFactory({ simple: "PASSTHROUGH" }), /original destination/);
  assert.throws(
    () => balancerFactory({ consistentHash: { useSourceIp: true, maglev: { tableSize: 1000 } } }),
    /tableSize: 1000 is not a prime/,
  );
});

Deno.test("property: non-hash balancers only return hosts from the list, untried when possible", () => {
  const algorithms = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"] as const;
  fc.assert(
    fc.property(
      fc.constantFrom(...algorithms),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.boolean(), { maxLength: 12 }),
      fc.integer(),
      (algorithm, weights, tried, seed) => {
        const list = hosts(...weights);
        const avoid = new Set(list.filter((_, i) => tried[i]));
        const lb = balancerFactory({ simple: algorithm }, { random: seededRandom(seed) })();
        for (let i = 0; i < 10; i++) {
          const e = lb.pick(list, { avoid });
          assert.ok(e && list.includes(e));
          if (avoid.size < list.length) assert.ok(!avoid.has(e));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("round robin: large weighted pools (no precomputed cycle) keep exact shares", () => {
  // 2,000 hosts × Σweight 3,000 is above the schedule budget: the O(n) path runs.
  const h = hosts(...Array.from({ length: 2000 }, (_, i) => (i < 1000 ? 2 : 1)));
  const lb = new RoundRobinBalancer();
  let heavy = 0;
  for (let i = 0; i < 3000; i++) if (h.indexOf(lb.pick(h)!) < 1000) heavy++;
  assert.equal(heavy, 2000);
});
