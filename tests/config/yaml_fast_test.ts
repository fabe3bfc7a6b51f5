import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAllDocuments, stringify } from "yaml";
import { fastParseDocument, resolvePlain } from "../../mesh/config/yaml_fast.ts";
import { parseSource } from "../../mesh/config/source.ts";

/** The fast reader must agree with the yaml package whenever it answers. */
function agrees(text: string): boolean {
  const fast = fastParseDocument(text);
  if (fast === undefined) return false;
  let expected: unknown;
  try {
    const docs = parseAllDocuments(text, { uniqueKeys: true });
    if (docs.length > 1 || (docs.length === 1 && docs[0].errors.length > 0)) {
      assert.fail(`fast reader accepted text yaml rejects:\n${text}`);
    }
    expected = docs.length === 0 ? null : docs[0].toJS();
  } catch (error) {
    assert.fail(`yaml threw on text the fast reader accepted: ${error}\n${text}`);
  }
  assert.deepEqual(fast.value, expected ?? null, `for:\n${text}`);
  return true;
}

const CORPUS = [
  "a: 1\nb: -2\nc: 0x1F\nd: 0o17\ne: 1.5\nf: .5\ng: 1e3\nh: .inf\ni: -.Inf\nj: ~\nk: null\nl: NULL\nm: True\nn: FALSE\no: yes\np: 08\nq: 1_000\n",
  "s: 'it''s'\nt: \"tab\\tnew\\nline \\u00e9 \\x41\"\nu: \"\"\nv: ''\nw: a#b\nx: a # comment\ny: 'a # b'\n",
  "list:\n- a\n- 'b'\n- 3\n-\n- c: 1\n  d: 2\n- - nested\n",
  "m:\n  - a\n  - b\nn:\n- x\n",
  "flow: [a, 'b', \"c\", 1, true, null, {k: v, n: 2}, []]\nmap: {a: 1, 'b': [x, y], c: {}}\n",
  "key:\n  value\n",
  "key:\n  multi\n  line\n",
  "k: |\n  line one\n  # not a comment\n\n  line three\nz: 1\n",
  "k: |-\n  x\n  y\n\n",
  "k: >\n  folded\n  text\n",
  "k: |+\n  kept\n\n",
  "a: &x 1\nb: *x\n",
  "a: !!str 1\n",
  "dup: 1\ndup: 2\n",
  "a: b: c\n",
  'hosts:\n- "*"\n- "*.example.com"\n',
  "hosts: [*]\n",
  "url: http://a:80/b\nq: a:b\n",
  "'quoted key': 1\n\"dq\": 2\n8080: port\n",
  "? complex\n: value\n",
  "- just\n- a\n- list\n",
  "just a scalar\n",
  '"quoted root"\n',
  "{a: 1}\n",
  "a:\n  b:\n    c:\n      d: deep\n  e: shallow\n",
  "a: 1\n  b: 2\n",
  "a:\n- 1\n - 2\n",
  "empty:\nnext: 1\n",
  "trailing: spaces   \n",
  "- a: 1\n  b:\n  - x\n  c: 3\n- b\n",
  "a: [1, 2,]\n",
  "a: {x}\n",
  "a: [x: 1]\n",
  "a: 'multi\n  line'\n",
  'a: "multi\n  line"\n',
  "a: [1,\n  2]\n",
  "a: -\n",
  "a: - b\n",
  "a: ---x\n",
  "a: b\n# trailing comment\n",
  "# only comments\n\n",
  "",
  'a: "\\\\\\""\n',
  'a: "\\e"\n',
  "a: 12345678901234567890\n",
  "a: -0\nb: +1\nc: 1.\n",
  "@at: 1\n",
  "a: `b`\n",
  "a: %x\n",
  "<<: {a: 1}\n",
  "__proto__: 1\n",
  "a: {__proto__: 1}\n",
  "k: |\n\n  after blank\n",
  "k: |\n    \n  x\n",
  "k: |\n",
  "- |\n  in seq\n- x\n",
  "- k: |\n    in map in seq\n  j: 2\n",
  "a:\n  # comment between\n  b: 1\n",
  "a: 'x' # c\nb: [1] # c\n",
  "a: 'x'y\n",
  "a: {b: c}d\n",
  "a:    spaced\n",
  "-    a\n-  b: 1\n   c: 2\n",
];

Deno.test("the fast reader agrees with the yaml package on a corpus of tricky snippets", () => {
  let answered = 0;
  for (const text of CORPUS) if (agrees(text)) answered++;
  // Most of the corpus is inside the subset; the rest must fall back.
  assert.ok(answered >= 30, `answered ${answered}`);
});

Deno.test("the fast reader answers the ordinary Kubernetes shapes (no fallback)", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  labels: {app: reviews, version: "v1"}
spec:
  hosts:
    - reviews # the service
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    fault:
      abort:
        percentage:
          value: 100.0
        httpStatus: 500
    route:
    - destination:
        host: reviews
        subset: v2
      weight: 50
`;
  assert.ok(fastParseDocument(text) !== undefined);
  assert.ok(agrees(text));
});

// Keys and strings that stress quoting and typing.
const keyArb = fc.oneof(
  fc.constantFrom("a", "host", "name", "8080", "0", "true", "null", "x y", "a:b", "-k", "#h", "k#"),
  fc.string({ unit: fc.constantFrom("a", "b", "-", "_", ".", "1", " ", ":", "#", "'", '"', "é") }),
);
const scalarArb = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({
    unit: fc.constantFrom(
      "a",
      "Z",
      "0",
      "9",
      " ",
      ":",
      "#",
      "-",
      "'",
      '"',
      "\\",
      "\n",
      "*",
      "&",
      "[",
      "{",
      ",",
      "~",
      ".",
      "|",
      ">",
      "%",
      "@",
      "é",
    ),
  }),
  fc.constantFrom(
    "true",
    "False",
    "null",
    "~",
    "0x1A",
    "0o7",
    "1e3",
    ".inf",
    "-.5",
    "+1",
    "08",
    "1.0",
    "yes",
    "on",
  ),
);
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    scalarArb,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(keyArb, tie("value"), { maxKeys: 4 }),
  ),
})).value;

Deno.test("property: for any value and any yaml formatting, the fast reader agrees or falls back", () => {
  let answered = 0;
  let total = 0;
  fc.assert(
    fc.property(
      valueArb,
      fc.record({
        indent: fc.constantFrom(2, 4),
        indentSeq: fc.boolean(),
        collectionStyle: fc.constantFrom("any", "block", "flow"),
        defaultStringType: fc.constantFrom(
          "PLAIN",
          "QUOTE_DOUBLE",
          "QUOTE_SINGLE",
          "BLOCK_LITERAL",
        ),
      }),
      (value, options) => {
        const { defaultStringType, collectionStyle, ...rest } = options;
        const text = stringify(value, {
          ...rest,
          defaultStringType: defaultStringType as "PLAIN",
          collectionStyle: collectionStyle as "any",
          lineWidth: 0,
        });
        if (agrees(text)) answered++;
        total++;
      },
    ),
    { numRuns: 300 },
  );
  // The comparison is only meaningful if the fast reader answers most inputs.
  assert.ok(answered > total / 3, `answered ${answered} of ${total}`);
});

Deno.test("resolvePlain follows the YAML 1.2 core schema", () => {
  assert.equal(resolvePlain("0x10"), 16);
  assert.equal(resolvePlain("0o10"), 8);
  assert.equal(resolvePlain("010"), 10);
  assert.equal(resolvePlain("yes"), "yes");
  assert.equal(resolvePlain("1_000"), "1_000");
  assert.equal(resolvePlain("-.inf"), -Infinity);
  assert.ok(Number.isNaN(resolvePlain(".NaN")));
  assert.equal(resolvePlain("v1"), "v1");
});

Deno.test("split streams index documents like the yaml package and keep positions", () => {
  const text = "# prelude\n---\na: 1\n---\n# empty\n---\nkind: X\nspec:\n  bad: [1\n---\nlast: 2\n";
  const parsed = parseSource(text, "s.yaml");
  assert.deepEqual(parsed.documents.map((d) => [d.index, d.value]), [[1, { a: 1 }], [4, {
    last: 2,
  }]]);
  assert.equal(parsed.diagnostics.length >= 1, true);
  assert.equal(parsed.diagnostics[0].document, "document 3");
  assert.ok(parsed.diagnostics[0].line >= 9 && parsed.diagnostics[0].line <= 10);
  assert.deepEqual(parsed.documents[1].locate(["last"]), { line: 11, column: 7 });
  assert.deepEqual(parsed.documents[1].locate(["last"], true), { line: 11, column: 1 });
});

Deno.test("property: after random edits, the fast reader still agrees or falls back", () => {
  const edit = fc.record({
    at: fc.nat(),
    remove: fc.nat({ max: 2 }),
    insert: fc.constantFrom(
      "",
      " ",
      "  ",
      "\n",
      "#",
      " #x",
      ":",
      ": ",
      "- ",
      "'",
      '"',
      "[",
      "]",
      "{",
      "}",
      ",",
      "|",
      "\n  ",
      "\n- ",
      "a",
    ),
  });
  fc.assert(
    fc.property(valueArb, fc.array(edit, { minLength: 1, maxLength: 3 }), (value, edits) => {
      let text = stringify(value, { lineWidth: 0 });
      for (const e of edits) {
        const at = e.at % (text.length + 1);
        text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
      }
      agrees(text);
    }),
    { numRuns: 300 },
  );
});
