import assert from "node:assert/strict";
import { formatAge, formatTable } from "../../mesh/cli/mod.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mesh ARGS` as a real process. */
async function mesh(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

interface Control {
  url: string;
  child: Deno.ChildProcess;
  stderr: Promise<string>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number>;
}

/** Starts `mesh control --port 0` and reads the port it prints. */
async function startControl(args: string[]): Promise<Control> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "control", "--port", "0", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) {
      throw new Error(`mesh control exited before listening: ${first} ${await stderr}`);
    }
    first += value;
  }
  const match = /^mesh control listening on (http:\/\/127\.0\.0\.1:(\d+))\n$/.exec(first);
  assert.ok(match, `unexpected first line: ${JSON.stringify(first)}`);
  assert.notEqual(match[2], "0");
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    url: match[1],
    child,
    stderr,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      await drained;
      return status.code;
    },
  };
}

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  gateways: [mesh]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
`;

const REVIEWS_DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: prod
spec:
  host: reviews.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}]
`;

const BAD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts: [ratings]
  http:
  - timeoutt: 1s
    route:
    - destination: {host: ratings}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  trafficPolicy:
    circuitBreaker: {}
`;

Deno.test("mesh control + apply/get/delete as real processes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-cli-control-" });
  const state = `${dir}/state`;
  await Deno.mkdir(`${dir}/conf`);
  await Deno.writeTextFile(`${dir}/conf/1-reviews.yaml`, REVIEWS);
  await Deno.writeTextFile(`${dir}/conf/2-reviews-dr.yaml`, REVIEWS_DR);
  await Deno.writeTextFile(`${dir}/bad.yaml`, BAD);
  await Deno.writeTextFile(`${dir}/token`, "t0ken\n");

  let control = await startControl(["--state-dir", state, "--token-file", `${dir}/token`]);
  const env = { MESH_CONTROL: control.url, MESH_TOKEN_FILE: `${dir}/token` };
  try {
    // Without the token: refused, nothing stored.
    const refused = await mesh(["apply", "-f", `${dir}/conf`], {
      env: { MESH_CONTROL: control.url },
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^mesh apply: unauthorized: .*--token-file/);

    const applied = await mesh(["apply", "-f", `${dir}/conf`], { env });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(
      applied.stdout,
      "virtualservice.networking.istio.io/reviews created\n" +
        "destinationrule.networking.istio.io/reviews created\n",
    );

    const again = await mesh(["apply", "-f", "-", "--wait"], { env, stdin: REVIEWS });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, "virtualservice.networking.istio.io/reviews unchanged\n");
    assert.match(again.stderr, /no proxies are connected/);

    // One bad file among good ones: every error, exactly as `mesh validate` prints them.
    const [rejected, validated] = await Promise.all([
      mesh(["apply", "-f", `${dir}/conf`, "-f", `${dir}/bad.yaml`], { env }),
      mesh(["validate", "-f", `${dir}/conf`, "-f", `${dir}/bad.yaml`]),
    ]);
    assert.equal(rejected.code, 1);
    assert.equal(validated.code, 1);
    assert.equal(
      rejected.stderr,
      validated.stderr + "mesh apply: 2 errors in 3 files; nothing was applied\n",
    );
    assert.match(validated.stderr, /timeoutt: unknown field/);
    assert.match(validated.stderr, /circuitBreaker: unknown field/);

    const table = await mesh(["get", "vs"], { env });
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.trimEnd().split("\n");
    assert.equal(rows.length, 2, "ratings was not stored");
    assert.match(rows[0], /^NAMESPACE {3}NAME {6}GATEWAYS {3}HOSTS {7}AGE$/);
    assert.match(rows[1], /^default {5}reviews {3}\[mesh\] {5}\[reviews\] {3}\d+s$/);

    const drTable = await mesh(["get", "DestinationRules", "-n", "prod"], { env });
    assert.match(
      drTable.stdout,
      /^NAMESPACE {3}NAME {6}HOST {32}AGE\nprod {8}reviews {3}reviews\.default\.svc\.cluster\.local {3}\d+s\n$/,
    );

    const json = await mesh(["get", "dr", "reviews", "-n", "prod", "-o", "json"], { env });
    const dr = JSON.parse(json.stdout);
    assert.equal(dr.metadata.resourceVersion, "1");
    assert.equal(dr.metadata.generation, 1);
    const yaml = await mesh(["get", "virtualservice", "reviews", "-o", "yaml"], { env });
    assert.match(yaml.stdout, /^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\n/);

    const missing = await mesh(["get", "vs", "x"], { env });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'mesh get: virtualservice "x" not found in namespace default\n');

    const deleted = await mesh(["delete", "vs", "reviews"], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, 'virtualservice.networking.istio.io "reviews" deleted\n');
    const deletedAgain = await mesh(["delete", "-f", `${dir}/conf/1-reviews.yaml`], { env });
    assert.equal(deletedAgain.code, 1);
    assert.equal(
      deletedAgain.stderr,
      'mesh delete: virtualservice "reviews" not found in namespace default\n',
    );

    // A registration survives a restart with its remaining TTL.
    const register = await fetch(`${control.url}/v1/registry/register`, {
      method: "POST",
      headers: { authorization: "Bearer t0ken", "content-type": "application/json" },
      body: JSON.stringify({ service: "reviews", address: "127.0.0.1", port: 15006 }),
    });
    const { instance } = await register.json();

    assert.equal(await control.stop(), 0, await control.stderr);
    control = await startControl(["--state-dir", state, "--token-file", `${dir}/token`]);
    const afterRestart = await mesh(["get", "dr", "-o", "json"], {
      env: { ...env, MESH_CONTROL: control.url },
    });
    assert.equal(JSON.parse(afterRestart.stdout).items[0].metadata.name, "reviews");
    const registry = await fetch(`${control.url}/v1/registry`, {
      headers: { authorization: "Bearer t0ken" },
    }).then((r) => r.json());
    assert.deepEqual(registry.instances.map((i: { id: string }) => i.id), [instance.id]);
    assert.equal(registry.instances[0].expiresAt, instance.expiresAt);
  } finally {
    await control.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mesh get: an unreachable control plane exits 1 with what to do", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const run = await mesh(["get", "vs", "--control", `http://127.0.0.1:${port}`]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(
      `^mesh get: cannot reach the control plane at http://127\\.0\\.0\\.1:${port}: .*; ` +
        "start it with 'mesh control' or set --control\\n$",
    ),
  );
});

Deno.test("mesh control --etcd is refused clearly", async () => {
  const run = await mesh(["control", "--port", "0", "--etcd", "http://127.0.0.1:2379"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^mesh control: etcd is not supported yet; /);
  assert.equal(run.stdout, "");
});

Deno.test("mesh control --registry-ttl: a registration without heartbeats expires", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-cli-ttl-" });
  const control = await startControl(["--state-dir", dir, "--registry-ttl", "300ms"]);
  try {
    const post = (path: string, body: unknown) =>
      fetch(`${control.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const registered = await (await post("/v1/registry/register", {
      service: "ratings",
      address: "127.0.0.1",
      port: 15006,
    })).json();
    assert.equal(registered.heartbeatIntervalMs, 100);
    const deadline = Date.now() + 10_000;
    let instances = 1;
    while (instances > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      instances = (await fetch(`${control.url}/v1/registry`).then((r) =>
        r.json()
      )).instances.length;
    }
    assert.equal(instances, 0);
    const late = await post("/v1/registry/heartbeat", { id: registered.instance.id });
    assert.equal(late.status, 404);
    await late.body?.cancel();
  } finally {
    assert.equal(await control.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mesh control: an invalid --config-dir stops the start with every error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-cli-configdir-" });
  try {
    await Deno.mkdir(`${dir}/conf`);
    await Deno.writeTextFile(`${dir}/conf/bad.yaml`, BAD);
    const run = await mesh([
      "control",
      "--port",
      "0",
      "--state-dir",
      `${dir}/state`,
      "--config-dir",
      `${dir}/conf`,
    ]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^mesh control: --config-dir .* has 2 error\(s\)/);
    assert.match(run.stderr, /bad\.yaml:8:5: VirtualService default\/ratings: .*timeoutt/);
    assert.match(
      run.stderr,
      /bad\.yaml:\d+:\d+: DestinationRule default\/ratings: .*circuitBreaker/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mesh get: ages and tables look like kubectl's", () => {
  const s = 1000;
  assert.deepEqual(
    [5 * s, 150 * s, 45 * 60 * s, 5.5 * 3600 * s, 20 * 3600 * s, 3 * 86400 * s + 5 * 3600 * s]
      .map(formatAge),
    ["5s", "2m30s", "45m", "5h30m", "20h", "3d5h"],
  );
  assert.equal(
    formatTable([["NAMESPACE", "NAME", "AGE"], ["default", "reviews", "5s"]]),
    "NAMESPACE   NAME      AGE\ndefault     reviews   5s\n",
  );
});
