import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const BOOKINFO = "/work/shared/conformance/istio-bookinfo";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function mesh(args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
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

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-validate-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("validate: circuitBreaker exits 1 with position, path and suggestion", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/rules.yaml`, CIRCUIT_BREAKER);
    const r = await mesh(["validate", "-f", `${dir}/rules.yaml`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${dir}/rules.yaml:8:5: DestinationRule default/reviews: spec.trafficPolicy.circuitBreaker: ` +
        "unknown field; did you mean outlierDetection or connectionPool?\n",
    );
    assert.equal(r.stdout, "1 error in 1 file (0 resources valid)\n");
    assert.doesNotMatch(r.stderr, /\s+at /); // no stack trace
  });
});

Deno.test("validate: a multi-document file reports every error of every bad document", async () => {
  await withDir(async (dir) => {
    const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: -1
    retries: {attempts: 2, perTryTimeout: soon}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: good}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: second, namespace: prod}
spec:
  host: b
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: LEAST_CONNECTIONS}
`;
    await Deno.writeTextFile(`${dir}/multi.yaml`, text);
    const r = await mesh(["validate", "-f", `${dir}/multi.yaml`]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 3, r.stderr);
    assert.match(
      lines[0],
      /multi\.yaml:9:15: VirtualService default\/first: spec\.http\[0\]\.route\[0\]\.weight: /,
    );
    assert.match(
      lines[1],
      /multi\.yaml:10:43: VirtualService default\/first: spec\.http\[0\]\.retries\.perTryTimeout: /,
    );
    assert.match(
      lines[2],
      /multi\.yaml:29:\d+: DestinationRule prod\/second: spec\.subsets\[0\]\.trafficPolicy\.loadBalancer\.simple: /,
    );
    assert.equal(r.stdout, "3 errors in 1 file (1 resource valid)\n");
  });
});

Deno.test("validate -f - reads standard input", async () => {
  const r = await mesh(["validate", "-f", "-"], CIRCUIT_BREAKER);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^<stdin>:8:5: DestinationRule default\/reviews: /);
  const ok = await mesh(
    ["validate", "-f", "-"],
    CIRCUIT_BREAKER.replace(/ {2}trafficPolicy:[\s\S]*/, ""),
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "1 resource in 1 file: valid\n");
});

Deno.test("validate: a directory of bookinfo samples passes with the summary counts", async () => {
  const r = await mesh(["validate", "-f", BOOKINFO]);
  assert.equal(r.code, 0, r.stderr);
  const files = [...Deno.readDirSync(BOOKINFO)].filter((e) => e.name.endsWith(".yaml")).length;
  assert.match(r.stdout, new RegExp(`^\\d+ resources in ${files} files: valid`));
});

Deno.test("validate: warnings print with exit 0 and are counted", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/fault.yaml`,
      `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      abort: {httpStatus: 500, percent: 50}
    route:
    - destination: {host: ratings}
`,
    );
    await Deno.writeTextFile(
      `${dir}/dr.json`,
      JSON.stringify({
        apiVersion: "networking.istio.io/v1beta1",
        kind: "DestinationRule",
        metadata: { name: "ratings" },
        spec: { host: "ratings", trafficPolicy: { loadBalancer: { simple: "LEAST_CONN" } } },
      }),
    );
    const r = await mesh(["validate", "-f", dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    assert.ok(lines.every((l) => l.startsWith("warning: ")), r.stderr);
    assert.match(r.stderr, /LEAST_CONN is deprecated/);
    assert.match(
      r.stderr,
      /fault\.yaml:8:32: VirtualService default\/ratings: spec\.http\[0\]\.fault\.abort\.percent: /,
    );
    assert.equal(r.stdout, "2 resources in 2 files: valid (2 warnings)\n");
  });
});

Deno.test("validate: a missing file is an error, not a crash; other files still count", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/ok.yaml`,
      CIRCUIT_BREAKER.replace(/ {2}trafficPolicy:[\s\S]*/, ""),
    );
    const r = await mesh(["validate", "-f", `${dir}/nope.yaml`, "-f", `${dir}/ok.yaml`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${dir}/nope.yaml: no such file or directory; check the path given to -f\n`,
    );
    assert.equal(r.stdout, "1 error in 1 file (1 resource valid)\n");
  });
});

Deno.test("validate without -f is a usage error", async () => {
  const r = await mesh(["validate"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no input; name files or directories with -f PATH/);
  assert.match(r.stderr, /usage: mesh validate -f PATH/);
});
