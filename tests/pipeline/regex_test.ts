import assert from "node:assert/strict";
import {
  compileFullMatch,
  compileGlobal,
  RegexTranslationError,
  translateReplacement,
} from "../../mesh/pipeline/regex.ts";

function full(pattern: string, yes: string[], no: string[]): void {
  const re = compileFullMatch(pattern);
  for (const s of yes) assert.ok(re.test(s), `${pattern} should match ${JSON.stringify(s)}`);
  for (const s of no) assert.ok(!re.test(s), `${pattern} should not match ${JSON.stringify(s)}`);
}

Deno.test("full match: anchored as a whole, alternation included", () => {
  full("\\d+$", ["123"], ["a123", "123a", ""]);
  full("a|bc", ["a", "bc"], ["abc", "ab"]);
  full("/api/.*", ["/api/", "/api/x/y"], ["/apix", "x/api/"]);
});

Deno.test("flags: leading (?i) becomes the i flag; group and mid-group flags are scoped", () => {
  full("(?i)abc", ["ABC", "abc"], ["abd"]);
  full("a(?i:b)c", ["aBc"], ["ABc", "abC"]);
  full("a(?i)bc", ["aBC"], ["ABC"]);
  full("(x(?i)y)z", ["xYz"], ["xYZ", "XYz"]);
  full("(?s)a.b", ["a\nb"], []);
  full("a.b", [], ["a\nb"]);
});

Deno.test("RE2-only syntax is translated", () => {
  full("\\Qa.b\\E", ["a.b"], ["axb"]);
  full("[[:digit:]]+", ["0123"], ["12a"]);
  full("[[:alpha:]_-]+", ["ab_-"], ["a1"]);
  full("\\pL+", ["héllo"], ["h3"]);
  full("\\p{Greek}+", ["αβ"], ["ab"]);
  full("(?P<id>\\d+)-x", ["12-x"], ["-x"]);
  full("\\x{41}\\x42", ["AB"], ["ab"]);
  full("a{2}b{1,}c{,2}", ["aabc{,2}"], ["abc"]);
  full("\\Aab\\z", ["ab"], []);
  full("a\\-b\\.c", ["a-b.c"], ["a-bxc"]);
  full("[^a-c]x", ["dx"], ["ax"]);
  full("[a-]", ["a", "-"], ["b"]);
  full("\\s+", [" \t"], ["\u00a0"]);
});

Deno.test("untranslatable constructs are rejected with a reason", () => {
  for (
    const [pattern, reason] of [
      ["(?U)a+", /ungreedy/],
      ["[[:^alpha:]]", /negated POSIX/],
      ["a(?i)b|c", /flag change/],
      ["\\C", /\\C/],
      ["(?=a)", /look-around/],
      ["a)", /unmatched/],
      ["(a", /missing \)/],
    ] as const
  ) {
    assert.throws(() => compileFullMatch(pattern), (e: unknown) => {
      assert.ok(e instanceof RegexTranslationError, pattern);
      assert.match((e as Error).message, reason, pattern);
      return true;
    });
  }
});

Deno.test("substitution: \\1 back-references become $1, $ is literal", () => {
  const re = compileGlobal("/service/([^/]+)(/.*)");
  assert.equal(
    "/service/foo/bar".replace(re, translateReplacement("\\2/instance/\\1")),
    "/bar/instance/foo",
  );
  assert.equal(translateReplacement("$1\\0\\\\"), "$$1$&\\");
  assert.equal("/aaa".replace(compileGlobal("a"), translateReplacement("b")), "/bbb");
});
