import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkFqdn,
  checkWildcardHost,
  expandShortName,
  hostMatches,
  isIP,
  isIPOrCidr,
  isMoreSpecific,
  isShortName,
} from "../../mesh/config/host.ts";

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join("."));
const anyHost = fc.oneof(domain, domain.map((d) => `*.${d}`), fc.constant("*"));

function flipCase(text: string, mask: number): string {
  return [...text].map((c, i) => ((mask >> (i % 30)) & 1 ? c.toUpperCase() : c)).join("");
}

Deno.test("hostMatches: examples", () => {
  assert.ok(hostMatches("*.foo.com", "a.foo.com"));
  assert.ok(hostMatches("*.foo.com", "a.b.foo.com"));
  assert.ok(!hostMatches("*.foo.com", "foo.com"));
  assert.ok(!hostMatches("*.foo.com", "afoo.com"));
  assert.ok(hostMatches("*", "anything.example"));
  assert.ok(hostMatches("Reviews.Default", "reviews.default"));
  assert.ok(!hostMatches("reviews", "reviews.default"));
});

Deno.test("property: *.x never matches x, matches any label.x", () => {
  fc.assert(
    fc.property(domain, label, (x, l) => {
      assert.equal(hostMatches(`*.${x}`, x), false);
      assert.equal(hostMatches(`*.${x}`, `${l}.${x}`), true);
      assert.equal(hostMatches(`*.${x}`, `${l}.${l}.${x}`), true);
    }),
  );
});

Deno.test("property: exact match is case-insensitive", () => {
  fc.assert(
    fc.property(domain, fc.integer({ min: 0, max: 2 ** 30 }), (d, mask) => {
      assert.ok(hostMatches(d, flipCase(d, mask)));
      assert.ok(hostMatches(flipCase(d, mask), d));
    }),
  );
});

Deno.test("property: * matches every host", () => {
  fc.assert(fc.property(anyHost, (h) => assert.ok(hostMatches("*", h))));
});

Deno.test("property: isMoreSpecific is a strict total order", () => {
  fc.assert(
    fc.property(anyHost, anyHost, anyHost, (a, b, c) => {
      assert.equal(isMoreSpecific(a, a), false);
      if (a !== b) assert.notEqual(isMoreSpecific(a, b), isMoreSpecific(b, a));
      if (isMoreSpecific(a, b) && isMoreSpecific(b, c)) assert.ok(isMoreSpecific(a, c));
    }),
  );
});

Deno.test("property: exact beats wildcard; longer wildcard wins", () => {
  fc.assert(
    fc.property(domain, label, (d, l) => {
      assert.ok(isMoreSpecific(d, `*.${d}`));
      assert.ok(isMoreSpecific(`*.${l}.${d}`, `*.${d}`));
      assert.ok(isMoreSpecific(`*.${d}`, "*"));
    }),
  );
  assert.ok(isMoreSpecific("*.a.com", "*.b.com"));
});

Deno.test("property: sorting with isMoreSpecific puts a matching exact host first", () => {
  fc.assert(
    fc.property(domain, label, (d, l) => {
      const host = `${l}.${d}`;
      const candidates = ["*", `*.${d}`, host];
      const sorted = [...candidates].sort((a, b) => (isMoreSpecific(a, b) ? -1 : 1));
      assert.deepEqual(sorted, [host, `*.${d}`, "*"]);
    }),
  );
});

Deno.test("short names expand in the rule's namespace only when dot-free", () => {
  assert.equal(expandShortName("reviews", "default"), "reviews.default.svc.cluster.local");
  assert.equal(expandShortName("reviews", "prod", "example.org"), "reviews.prod.svc.example.org");
  assert.equal(expandShortName("reviews.prod", "default"), "reviews.prod");
  assert.equal(expandShortName("*", "default"), "*");
  assert.equal(expandShortName("10.0.0.1", "default"), "10.0.0.1");
  assert.equal(expandShortName("::1", "default"), "::1");
  assert.ok(isShortName("reviews"));
  assert.ok(!isShortName("*.foo.com"));
  assert.ok(!isShortName(""));
  fc.assert(
    fc.property(label, label, (name, ns) => {
      assert.equal(expandShortName(name, ns), `${name}.${ns}.svc.cluster.local`);
      const fqdn = expandShortName(name, ns);
      assert.equal(expandShortName(fqdn, "other"), fqdn);
    }),
  );
});

Deno.test("host validation: wildcards only as a whole leading label", () => {
  for (const good of ["*", "*.foo.com", "foo.com", "reviews", "a-b.c", "foo.com."]) {
    assert.equal(checkWildcardHost(good), undefined, good);
  }
  for (const bad of ["*foo.com", "foo.*.com", "foo*", "a..b", "-a.com", "a.123", "", "a_b.com"]) {
    assert.notEqual(checkWildcardHost(bad), undefined, bad);
  }
  assert.notEqual(checkFqdn("*.foo.com"), undefined);
  assert.notEqual(checkFqdn("x".repeat(64) + ".com"), undefined);
});

Deno.test("IP and CIDR recognition", () => {
  for (
    const ip of [
      "10.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "2001:db8::1",
      "fe80::1%eth0",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:7:8",
    ]
  ) {
    assert.ok(isIP(ip), ip);
  }
  for (
    const bad of [
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3",
      "1:2:3:4:5:6:7:8:9",
      ":::",
      "1::2::3",
      "abc",
      "g::1",
    ]
  ) {
    assert.ok(!isIP(bad), bad);
  }
  assert.ok(isIPOrCidr("10.0.0.0/8"));
  assert.ok(isIPOrCidr("2001:db8::/32"));
  assert.ok(!isIPOrCidr("10.0.0.0/33"));
  assert.ok(!isIPOrCidr("10.0.0.0/"));
});
