import assert from "node:assert/strict";
import { parseSource } from "../../mesh/config/source.ts";

const MULTI = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
---
# a comment-only document is ignored
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
      weight: 100
---
`;

Deno.test("a multi-document stream yields one document per resource, empty ones skipped", () => {
  const parsed = parseSource(MULTI, "multi.yaml");
  assert.deepEqual(parsed.diagnostics, []);
  assert.equal(parsed.documents.length, 2);
  assert.deepEqual(parsed.documents.map((d) => d.index), [1, 3]);
  assert.equal((parsed.documents[1].value as { kind: string }).kind, "VirtualService");
  assert.equal(parsed.documents[1].label, "document 3");
});

Deno.test("locate resolves values, keys and array items to 1-based line:column", () => {
  const doc = parseSource(MULTI, "multi.yaml").documents[1];
  // `weight: 100` is on line 20 ("      weight: 100").
  assert.deepEqual(doc.locate(["spec", "http", 0, "route", 0, "weight"]), { line: 20, column: 15 });
  assert.deepEqual(doc.locate(["spec", "http", 0, "route", 0, "weight"], true), {
    line: 20,
    column: 7,
  });
  assert.deepEqual(doc.locate(["spec", "http", 0]), { line: 17, column: 5 });
  assert.deepEqual(doc.locate(["spec", "hosts", 0]), { line: 15, column: 11 });
  assert.deepEqual(doc.locate([]), { line: 10, column: 1 });
});

Deno.test("locate falls back to the deepest existing node for a missing field", () => {
  const doc = parseSource(MULTI, "multi.yaml").documents[0];
  assert.deepEqual(doc.locate(["spec", "subsets", 0, "name"]), { line: 6, column: 3 });
});

Deno.test("kind: List expands its items with positions inside the list", () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: a}
  spec: {host: a}
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: b}
  spec:
    host: b
`;
  const parsed = parseSource(text, "list.yaml");
  assert.equal(parsed.documents.length, 2);
  assert.equal(parsed.documents[1].item, 1);
  assert.equal(parsed.documents[1].label, "document 1 items[1]");
  assert.deepEqual(parsed.documents[1].locate(["spec", "host"]), { line: 12, column: 11 });
  assert.deepEqual(parsed.documents[0].locate(["metadata", "name"], true), { line: 6, column: 14 });
});

Deno.test("a List without an items list is an error", () => {
  const parsed = parseSource("kind: List\napiVersion: v1\nitems: 3\n", "l.yaml");
  assert.equal(parsed.documents.length, 0);
  assert.equal(parsed.diagnostics.length, 1);
  assert.match(parsed.diagnostics[0].message, /needs `items`/);
  assert.equal(parsed.diagnostics[0].line, 3);
});

Deno.test("a YAML syntax error is reported with its position; other documents still load", () => {
  const text = `kind: A
metadata:
  name: x
---
kind: B
metadata:
  name: [unclosed
---
kind: C
`;
  const parsed = parseSource(text, "bad.yaml");
  assert.deepEqual(parsed.documents.map((d) => (d.value as { kind: string }).kind), ["A", "C"]);
  assert.ok(parsed.diagnostics.length >= 1);
  const d = parsed.diagnostics[0];
  assert.equal(d.severity, "error");
  assert.equal(d.document, "document 2");
  assert.match(d.message, /^YAML syntax error: /);
  assert.ok(d.line >= 7 && d.line <= 8, `line ${d.line}`);
});

Deno.test("duplicate keys are a syntax error at the duplicate", () => {
  const parsed = parseSource("kind: A\nmetadata:\n  name: x\n  name: y\n", "dup.yaml");
  assert.equal(parsed.documents.length, 0);
  assert.equal(parsed.diagnostics[0].line, 4);
  assert.match(parsed.diagnostics[0].message, /unique/);
});

Deno.test("JSON text loads with positions", () => {
  const text = '{\n  "kind": "Gateway",\n  "spec": {\n    "servers": []\n  }\n}\n';
  const parsed = parseSource(text, "g.json");
  assert.equal(parsed.documents.length, 1);
  assert.deepEqual(parsed.documents[0].locate(["spec", "servers"]), { line: 4, column: 16 });
});
