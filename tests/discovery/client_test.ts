import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DiscoveryClient,
  LAST_SNAPSHOT_FILE,
  SseParser,
  StaticConfigError,
  StaticConfigSource,
} from "../../mesh/discovery/mod.ts";
import type { ProxiesResponse, RegistryResponse } from "../../mesh/model/mod.ts";
import {
  recorder,
  sidecarIdentity,
  startControlProcess,
  startPlane,
  vs,
  waitFor,
} from "./helpers.ts";

async function connected(url: string): Promise<ProxiesResponse["proxies"]> {
  const response = await fetch(`${url}/v1/proxies`);
  return ((await response.json()) as ProxiesResponse).proxies;
}

Deno.test("discovery: resyncs after the control plane is killed and restarted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-restart-" });
  let control = await startControlProcess(join(dir, "control"));
  const r = recorder();
  const client = new DiscoveryClient({
    control: control.url,
    identity: sidecarIdentity("reviews"),
    apply: r.apply,
    stateDir: join(dir, "proxy"),
    initialBackoffMs: 50,
    maxBackoffMs: 400,
    log: () => {},
  });
  try {
    await client.start();
    await waitFor(() => r.seen.length === 1, "first snapshot");
    await control.stop("SIGKILL");
    await waitFor(() => !client.status().connected, "the client to notice the outage");
    assert.equal(client.status().version, r.seen[0].version, "still serving the last snapshot");

    control = await startControlProcess(join(dir, "control"), { port: control.port });
    await waitFor(async () => {
      const list = await connected(control.url);
      return list.length === 1 && list[0].status === "SYNCED";
    }, "the client to reconnect");
    // Nothing changed: the reconnect announced the served version, nothing was resent.
    assert.equal(r.seen.length, 1);
    const applied = await fetch(`${control.url}/v1/apply`, { method: "POST", body: vs("ratings") });
    assert.equal(applied.status, 200);
    await applied.body?.cancel();
    await waitFor(() => r.names().includes("VirtualService/default/ratings"), "the new config");
    // SIGTERM ends the open streams instead of waiting for them forever.
    assert.equal(await control.stop(), 0);
    await waitFor(() => !client.status().connected, "the client to see the stream end");
  } finally {
    await client.stop();
    await control.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("discovery: starts from the persisted snapshot while the control plane is down", async () => {
  const plane = await startPlane();
  const stateDir = await Deno.makeTempDir({ prefix: "mesh-lkg-" });
  const first = recorder();
  const identity = sidecarIdentity("productpage");
  const options = { identity, stateDir, initialBackoffMs: 50, maxBackoffMs: 200, log: () => {} };
  let client = new DiscoveryClient({ ...options, control: plane.url, apply: first.apply });
  try {
    await plane.apply(vs("reviews"));
    await client.start();
    await waitFor(() => first.seen.length === 1, "first snapshot");
    await client.stop();
    await waitFor(async () => {
      try {
        return JSON.parse(await Deno.readTextFile(join(stateDir, LAST_SNAPSHOT_FILE))).version ===
          first.seen[0].version;
      } catch {
        return false;
      }
    }, "the snapshot on disk");
    const url = plane.url;
    await plane.stop();

    const second = recorder();
    client = new DiscoveryClient({ ...options, control: url, apply: second.apply });
    await client.start();
    // Applied by start() itself, before any connection succeeded.
    assert.equal(second.seen.length, 1);
    assert.equal(second.seen[0].version, first.seen[0].version);
    assert.deepEqual(second.names(), ["VirtualService/default/reviews"]);
    assert.equal(client.status().origin, "cache");
    await waitFor(() => client.status().lastError, "a connection error");
    assert.equal(client.status().connected, false);
  } finally {
    await client.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("discovery: registers, heartbeats, re-registers on 404 and deregisters", async () => {
  const plane = await startPlane({ registryTtlMs: 900 });
  const r = recorder();
  const client = new DiscoveryClient({
    control: plane.url,
    identity: sidecarIdentity("ratings"),
    apply: r.apply,
    registration: { service: "ratings", address: "127.0.0.1", port: 15006 },
    log: () => {},
  });
  const instances = async () =>
    ((await plane.call("GET", "/v1/registry?service=ratings")).json as unknown as RegistryResponse)
      .instances;
  try {
    await client.start();
    await waitFor(async () => (await instances()).length === 1, "the registration");
    // The instance outlives several TTLs only because of heartbeats.
    const start = Date.now();
    await waitFor(
      async () => Date.now() - start > 2000 && (await instances()).length === 1,
      "TTLs",
    );
    const id = (await instances())[0].id;
    await plane.call("POST", "/v1/registry/deregister", { id });
    await waitFor(async () => (await instances()).length === 1, "registering again after a 404");
    // Registered instances make the sidecar's snapshot carry them.
    await waitFor(() => r.seen.at(-1)?.instances.some((i) => i.host.startsWith("ratings.")), "it");
    await client.deregister();
    assert.deepEqual(await instances(), []);
  } finally {
    await client.stop();
    await plane.stop();
  }
});

Deno.test("discovery: the SSE parser handles split chunks, comments and CRLF", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('event: hello\ndata: {"a"'), []);
  assert.deepEqual(parser.push(":1}\n"), []);
  assert.deepEqual(parser.push("\n: keepalive\n\nevent: snapshot\r\nid: v1\r\ndata: x\r\n\r\n"), [
    { event: "hello", data: '{"a":1}' },
    { event: "snapshot", id: "v1", data: "x" },
  ]);
});

const STATIC = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: 9080}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;

Deno.test("static source: applies the file, reloads on change, rejects a bad file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-static-" });
  const file = join(dir, "mesh.yaml");
  await Deno.writeTextFile(file, STATIC);
  const r = recorder();
  const logs: string[] = [];
  const source = new StaticConfigSource({
    file,
    identity: sidecarIdentity("productpage"),
    apply: r.apply,
    debounceMs: 50,
    log: (line) => logs.push(line),
  });
  try {
    await source.start();
    assert.equal(r.seen.length, 1);
    assert.deepEqual(r.seen[0].instances.map((i) => `${i.host} ${i.address}:${i.port}`), [
      "reviews.default.svc.cluster.local 127.0.0.1:9080",
    ]);
    assert.deepEqual(r.seen[0].instances[0].ports, { "80": 9080 });
    assert.deepEqual(r.names(), ["ServiceEntry/default/reviews", "VirtualService/default/reviews"]);

    // Editors replace files: write a temporary one and rename it over.
    await Deno.writeTextFile(join(dir, "tmp"), STATIC.replace("127.0.0.1", "127.0.0.2"));
    await Deno.rename(join(dir, "tmp"), file);
    await waitFor(() => r.seen.length === 2, "the reload after a change");
    assert.equal(r.seen[1].instances[0].address, "127.0.0.2");

    await Deno.writeTextFile(file, STATIC.replace("location: MESH_INTERNAL", "location: INSIDE"));
    await waitFor(() => source.status().lastError, "the rejection of the bad file");
    assert.equal(r.seen.length, 2);
    assert.equal(source.status().version, r.seen[1].version);
    assert.match(source.status().lastError!, /mesh\.yaml:6:\d+/);
    await waitFor(() => logs.some((l) => /keeping the previous configuration/.test(l)), "a log");
    assert.equal(await source.reload(), false);

    await Deno.writeTextFile(file, STATIC);
    assert.equal(await source.reload(), true);
    assert.equal(r.seen.at(-1)!.version, r.seen[0].version);
    assert.equal(source.status().lastError, undefined);
  } finally {
    await source.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("static source: a bad file at start fails with located errors", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, STATIC + "---\nkind: VirtualService\nspec: {}\n");
  const source = new StaticConfigSource({
    file,
    identity: sidecarIdentity("x"),
    apply: () => {},
    watch: false,
  });
  try {
    await assert.rejects(source.start(), (error: Error) => {
      assert.ok(error instanceof StaticConfigError);
      assert.match(error.message, /\.yaml:\d+:\d+/);
      return true;
    });
  } finally {
    await source.stop();
    await Deno.remove(file);
  }
});
