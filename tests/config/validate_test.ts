import assert from "node:assert/strict";
import {
  type Diagnostic,
  formatDiagnostic,
  validatePaths,
  validateSource,
} from "../../mesh/config/mod.ts";

function errors(diagnostics: Diagnostic[]): string[] {
  return diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
}

const CIRCUIT_BREAKER = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    circuitBreaker:
      simpleCb:
        maxConnections: 100
`;

Deno.test("an unknown field names file:line:col of the key, document, path and suggestion", () => {
  const result = validateSource(CIRCUIT_BREAKER, "rules.yaml");
  assert.deepEqual(errors(result.diagnostics), [
    "rules.yaml:8:5: DestinationRule default/reviews: spec.trafficPolicy.circuitBreaker: " +
    "unknown field; did you mean outlierDetection or connectionPool?",
  ]);
  assert.deepEqual(result.resources, []);
});

Deno.test("retryPolicy in a DestinationRule points to VirtualService retries", () => {
  const text = CIRCUIT_BREAKER.replace(
    "    circuitBreaker:\n      simpleCb:\n        maxConnections: 100\n",
    "    retryPolicy:\n      attempts: 3\n",
  );
  const [line] = errors(validateSource(text, "r.yaml").diagnostics);
  assert.equal(
    line,
    "r.yaml:8:5: DestinationRule default/reviews: spec.trafficPolicy.retryPolicy: unknown field; " +
      "a DestinationRule has no retries; set retries on the VirtualService route (http[].retries)",
  );
});

Deno.test("a valid document yields a resource with namespace defaulted and no diagnostics", () => {
  const text = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: reviews
  labels: {app: reviews}
  resourceVersion: "12"
  uid: 0b4c
  generation: 3
  creationTimestamp: "2024-01-01T00:00:00Z"
  managedFields: [{manager: kubectl}]
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
status:
  anything: goes
`;
  const result = validateSource(text, "vs.yaml");
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.resources.length, 1);
  const r = result.resources[0];
  assert.equal(r.kind, "VirtualService");
  assert.equal(r.apiVersion, "networking.istio.io/v1beta1");
  assert.equal(r.metadata.namespace, "default");
  assert.deepEqual(r.metadata.labels, { app: "reviews" });
  assert.equal("status" in r, false);
});

Deno.test("every error of every document is reported, each naming its document", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: one, namespace: prod}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: "80"
    timeout: 10 seconds
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: two}
spec:
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBBIN}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: fine}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;
  const result = validateSource(text, "multi.yaml");
  const lines = errors(result.diagnostics);
  assert.ok(lines.length >= 4, lines.join("\n"));
  assert.ok(
    lines.some((l) =>
      l.startsWith("multi.yaml:9:15: VirtualService prod/one: spec.http[0].route[0].weight: ")
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) =>
      l.startsWith("multi.yaml:10:14: VirtualService prod/one: spec.http[0].timeout: ")
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => /DestinationRule default\/two: spec\.host: /.test(l)),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) =>
      /^multi\.yaml:17:28: DestinationRule default\/two: spec\.trafficPolicy\.loadBalancer\.simple: .*did you mean ROUND_ROBIN\?/
        .test(l)
    ),
    lines.join("\n"),
  );
  assert.deepEqual(result.resources.map((r) => r.metadata.name), ["fine"]);
});

Deno.test("an unknown kind lists the supported kinds and apiVersions", () => {
  const text =
    "apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: a}\nspec: {}\n";
  const [line] = errors(validateSource(text, "k.yaml").diagnostics);
  assert.match(
    line,
    /^k\.yaml:2:7: VirtualServce default\/a: kind: unsupported kind "VirtualServce"; did you mean VirtualService\?/,
  );
  assert.match(
    line,
    /supported kinds: VirtualService, DestinationRule, ServiceEntry, Gateway, Sidecar, WorkloadEntry \(networking\.istio\.io\/v1alpha3, v1beta1, v1\); PeerAuthentication, AuthorizationPolicy \(security\.istio\.io\/v1beta1, v1\)$/,
  );
  const k8s = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {}\n";
  const [service] = errors(validateSource(k8s, "s.yaml").diagnostics);
  assert.match(
    service,
    /unsupported kind "Service" \(v1 is not an Istio API; mesh reads Istio resources only\); did you mean ServiceEntry\?/,
  );
});

Deno.test("a kind in the wrong apiVersion names the valid ones", () => {
  const text = "apiVersion: security.istio.io/v1\nkind: Gateway\nmetadata: {name: a}\nspec: {}\n";
  const [line] = errors(validateSource(text, "v.yaml").diagnostics);
  assert.match(
    line,
    /^v\.yaml:1:13: Gateway default\/a: apiVersion: Gateway does not exist in apiVersion "security\.istio\.io\/v1"; use one of networking\.istio\.io\/v1alpha3/,
  );
});

Deno.test("metadata: DNS-1123 name, namespace label, string label values, unknown fields", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: Bad_Name
  namespace: Prod
  labels:
    version: 1
  nmae: x
spec:
  address: 10.0.0.1
`;
  const lines = errors(validateSource(text, "m.yaml").diagnostics);
  assert.equal(lines.length, 4, lines.join("\n"));
  assert.match(
    lines[0],
    /^m\.yaml:4:9: WorkloadEntry Prod\/Bad_Name: metadata\.name: "Bad_Name" is not a valid DNS-1123 name/,
  );
  assert.match(lines[1], /^m\.yaml:5:14: .*metadata\.namespace: "Prod" is not a valid namespace/);
  assert.match(
    lines[2],
    /^m\.yaml:7:14: .*metadata\.labels\.version: expected a string, got a number \(1\); quote the value/,
  );
  assert.match(lines[3], /^m\.yaml:8:3: .*metadata\.nmae: unknown field; did you mean name\?/);
});

Deno.test("missing envelope fields and an unknown top-level field are errors", () => {
  const lines = errors(validateSource("kind: Gateway\nspecs: {}\n", "e.yaml").diagnostics);
  assert.ok(
    lines.some((l) => /document 1: specs: unknown field; did you mean spec\?/.test(l)),
    lines.join("\n"),
  );
  assert.ok(lines.some((l) => /apiVersion: missing field apiVersion/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /metadata: missing field metadata/.test(l)), lines.join("\n"));
  const scalar = errors(validateSource("just a string\n", "s.yaml").diagnostics);
  assert.match(scalar[0], /^s\.yaml:1:1: document 1: expected a resource/);
});

Deno.test("a YAML syntax error is reported and later documents are still checked", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b}
spec:
  hots: b
`;
  const lines = errors(validateSource(text, "y.yaml").diagnostics);
  assert.match(lines[0], /^y\.yaml:\d+:\d+: document 1: YAML syntax error: /);
  assert.ok(
    lines.some((l) =>
      /^y\.yaml:9:3: DestinationRule default\/b: spec\.hots: unknown field; did you mean host\?/
        .test(l)
    ),
    lines.join("\n"),
  );
});

Deno.test("List items are validated with positions and item labels", () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: ok}
  spec: {host: ok}
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: bad}
  spec:
    host: bad
    subsets:
    - labels: {version: v1}
`;
  const result = validateSource(text, "list.yaml");
  const lines = errors(result.diagnostics);
  assert.equal(result.resources.length, 1);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0],
    /^list\.yaml:14:7: DestinationRule default\/bad: spec\.subsets\[0\]\.name: /,
  );
});

Deno.test("warnings carry positions and do not make the resource invalid", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route:
    - destination: {host: r}
  - fault:
      delay:
        fixedDelay: 5s
    route:
    - destination: {host: r}
`;
  const result = validateSource(text, "w.yaml");
  assert.equal(result.resources.length, 1);
  const warnings = result.diagnostics.filter((d) => d.severity === "warning").map(formatDiagnostic);
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(
    warnings[0],
    /^warning: w\.yaml:9:5: VirtualService default\/r: spec\.http\[1\]: unreachable/,
  );
  assert.match(
    warnings[1],
    /^warning: w\.yaml:10:7: VirtualService default\/r: spec\.http\[1\]\.fault\.delay: fault delay has no percentage/,
  );
});

Deno.test("JSON documents validate with positions", () => {
  const text = JSON.stringify(
    {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: "ext" },
      spec: {
        hosts: ["api.example.com"],
        ports: [{ number: 99999, name: "http", protocol: "HTTP" }],
      },
    },
    null,
    2,
  );
  const lines = errors(validateSource(text, "se.json").diagnostics);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0],
    /^se\.json:\d+:\d+: ServiceEntry default\/ext: spec\.ports\[0\]\.number: /,
  );
});

Deno.test("validatePaths: directories recurse, missing paths are diagnostics", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/a.yaml`, CIRCUIT_BREAKER);
    await Deno.writeTextFile(
      `${dir}/sub/b.yml`,
      CIRCUIT_BREAKER.replace(/circuitBreaker:[\s\S]*/, "tls: {mode: SIMPLE}\n"),
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not config");
    const result = await validatePaths([dir, `${dir}/missing.yaml`]);
    assert.equal(result.files, 2);
    assert.equal(result.resources.length, 1);
    const lines = errors(result.diagnostics);
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0], /a\.yaml:8:5: /);
    assert.match(lines[1], /missing\.yaml: no such file or directory/);
    const stdin = await validatePaths(["-"], { readStdin: () => Promise.resolve(CIRCUIT_BREAKER) });
    assert.match(errors(stdin.diagnostics)[0], /^<stdin>:8:5: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
