import assert from "node:assert/strict";
import { type Endpoint, EndpointSet } from "../../mesh/pipeline/endpoints.ts";
import {
  hashString,
  isPrime,
  type LoadBalancer,
  MaglevBalancer,
  RingHashBalancer,
  seededRandom,
} from "../../mesh/pipeline/balance/mod.ts";

function hosts(count: number, weight = (_: number) => 1): Endpoint[] {
  return [
    ...new EndpointSet(
      Array.from(
        { length: count },
        (_, i) => ({ address: `10.0.0.${i}`, port: 15006, weight: weight(i) }),
      ),
    ).endpoints,
  ];
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => hashString(`user-${i}`));

function assign(lb: LoadBalancer, list: Endpoint[]): string[] {
  return KEYS.map((hash) => lb.pick(list, { hash })!.key);
}

const makers: [string, () => LoadBalancer][] = [
  ["ring hash", () => new RingHashBalancer()],
  ["maglev", () => new MaglevBalancer()],
];

for (const [name, make] of makers) {
  Deno.test(`${name}: same key, same host; independent of instance`, () => {
    const list = hosts(5);
    const a = make();
    const b = make();
    for (const hash of KEYS.slice(0, 200)) {
      const first = a.pick(list, { hash });
      assert.equal(a.pick(list, { hash }), first);
      assert.equal(b.pick(list, { hash })?.key, first?.key);
    }
  });

  Deno.test(`${name}: adding a host remaps about 1/N of the keys`, () => {
    const before = assign(make(), hosts(10));
    const after = assign(make(), hosts(11));
    let moved = 0;
    let toNew = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] !== after[i]) moved++;
      if (after[i] === "10.0.0.10:15006") toNew++;
    }
    const expected = KEYS.length / 11;
    assert.ok(
      moved > expected * 0.7 && moved < expected * 1.5,
      `${moved} keys moved, expected about ${expected.toFixed(0)}`,
    );
    // Nearly all of the movement is onto the new host (a little churn between old hosts is
    // inherent to both algorithms).
    assert.ok(toNew > moved * 0.6, `${toNew} of ${moved} moved keys went to the new host`);
  });

  Deno.test(`${name}: distribution roughly proportional to weight`, () => {
    const list = hosts(4, (i) => (i === 0 ? 3 : 1));
    const count = new Map<string, number>();
    for (const key of assign(make(), list)) count.set(key, (count.get(key) ?? 0) + 1);
    const heavy = count.get("10.0.0.0:15006")! / KEYS.length;
    assert.ok(Math.abs(heavy - 0.5) < 0.08, `heavy host share ${heavy}`);
    for (let i = 1; i < 4; i++) {
      const share = count.get(`10.0.0.${i}:15006`)! / KEYS.length;
      assert.ok(Math.abs(share - 1 / 6) < 0.06, `host ${i} share ${share}`);
    }
  });

  Deno.test(`${name}: no hash key picks a random host; ignores avoid`, () => {
    const list = hosts(3);
    const lb = name === "maglev"
      ? new MaglevBalancer({ random: seededRandom(1) })
      : new RingHashBalancer({ random: seededRandom(1) });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(lb.pick(list)!.key);
    assert.equal(seen.size, 3);
    const target = lb.pick(list, { hash: KEYS[0] });
    assert.equal(lb.pick(list, { hash: KEYS[0], avoid: new Set([target!]) }), target);
    assert.equal(lb.pick([], { hash: KEYS[0] }), undefined);
  });
}

Deno.test("ring hash: ring size honours minimumRingSize and weights", () => {
  const lb = new RingHashBalancer();
  lb.pick(hosts(3), { hash: 1 });
  assert.ok(lb.ringSize >= 1024 && lb.ringSize < 2048, `ring ${lb.ringSize}`);
  const big = new RingHashBalancer({ minimumRingSize: 4096 });
  big.pick(hosts(100), { hash: 1 });
  assert.ok(big.ringSize >= 4096, `ring ${big.ringSize}`);
  const capped = new RingHashBalancer({ minimumRingSize: 4096, maximumRingSize: 5000 });
  capped.pick(hosts(3), { hash: 1 });
  assert.ok(capped.ringSize <= 5000, `ring ${capped.ringSize}`);
  const weighted = new RingHashBalancer();
  weighted.pick(hosts(2, (i) => (i === 0 ? 3 : 1)), { hash: 1 });
  assert.ok(weighted.ringSize >= 1024, `ring ${weighted.ringSize}`);
});

Deno.test("maglev: table size must be prime", () => {
  assert.ok(isPrime(65537) && isPrime(2) && !isPrime(65536) && !isPrime(1));
  assert.throws(() => new MaglevBalancer({ tableSize: 65536 }), /not a prime/);
  assert.throws(() => new MaglevBalancer({ tableSize: 5000011 }), /below 5000011/);
  assert.ok(new MaglevBalancer({ tableSize: 251 }).pick(hosts(3), { hash: 12345 }));
});

Deno.test("hashString: stable values and 53-bit range", () => {
  assert.equal(hashString("abc"), hashString("abc"));
  assert.notEqual(hashString("abc"), hashString("abd"));
  assert.notEqual(hashString("abc", 1), hashString("abc", 2));
  for (const h of KEYS.slice(0, 100)) assert.ok(Number.isSafeInteger(h) && h >= 0);
});
