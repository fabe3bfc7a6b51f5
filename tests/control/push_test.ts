import assert from "node:assert/strict";
import { DiscoveryClient } from "../../mesh/discovery/mod.ts";
import type { ProxiesResponse, ProxyStatus, Snapshot, WaitResponse } from "../../mesh/model/mod.ts";
import { mesh, recorder, sidecarIdentity, startPlane, vs, waitFor } from "../discovery/helpers.ts";

function client(
  url: string,
  name: string,
  ns: string,
  apply: (snapshot: Snapshot) => void,
  token?: string,
) {
  return new DiscoveryClient({
    control: url,
    token,
    identity: sidecarIdentity(name, ns),
    apply,
    initialBackoffMs: 50,
    maxBackoffMs: 300,
    log: () => {},
  });
}

async function proxies(call: (m: string, p: string) => Promise<{ json: unknown }>) {
  return ((await call("GET", "/v1/proxies")).json as ProxiesResponse).proxies;
}

Deno.test("push: a burst of applies gives one push per proxy", async () => {
  // A long debounce keeps the burst in one push even when fsync stalls on a loaded machine.
  const plane = await startPlane({ pushDebounceMs: 700, pushMaxDelayMs: 10_000 });
  const records = [recorder(), recorder(), recorder()];
  const clients = records.map((r, i) => client(plane.url, `app${i}`, "default", r.apply));
  try {
    await Promise.all(clients.map((c) => c.start()));
    await waitFor(() => records.every((r) => r.seen.length === 1), "first snapshots");
    let revision = "";
    for (let i = 0; i < 8; i++) revision = await plane.apply(vs(`svc${i}`));
    await waitFor(async () => {
      const list = await proxies(plane.call);
      return list.length === 3 &&
        list.every((p) => p.status === "SYNCED" && p.syncedRevision >= Number(revision));
    }, "every proxy synced at the last revision");
    for (const r of records) {
      assert.equal(r.seen.length, 2, "one snapshot for the whole burst");
      assert.equal(r.names().length, 8);
    }
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await plane.stop();
  }
});

Deno.test("push: only proxies whose snapshot changed are sent one", async () => {
  const plane = await startPlane();
  const a = recorder();
  const b = recorder();
  const ca = client(plane.url, "a", "alpha", a.apply);
  const cb = client(plane.url, "b", "beta", b.apply);
  try {
    await ca.start();
    await cb.start();
    await waitFor(() => a.seen.length === 1 && b.seen.length === 1, "first snapshots");
    // Exported only to alpha: beta's snapshot does not change.
    const revision = await plane.apply(vs("private", { ns: "alpha", exportTo: "." }));
    const waited = await plane.call("GET", `/v1/wait?revision=${revision}&timeout=20s`);
    assert.equal((waited.json as unknown as WaitResponse).synced, true);
    assert.equal(a.seen.length, 2);
    assert.deepEqual(a.names(), ["VirtualService/alpha/private"]);
    assert.equal(b.seen.length, 1);
    const list = await proxies(plane.call);
    assert.deepEqual(list.map((p) => [p.name, p.status]), [["a", "SYNCED"], ["b", "SYNCED"]]);
    assert.ok(list.every((p) => p.syncedRevision >= Number(revision)));
  } finally {
    await ca.stop();
    await cb.stop();
    await plane.stop();
  }
});

Deno.test("push: a NACK keeps the old version and shows in /v1/proxies and proxy-status", async () => {
  const plane = await startPlane();
  const r = recorder((s) =>
    s.resources.some((x) => x.metadata.name === "bad")
      ? "VirtualService default/bad: spec.http[0]: cannot compile this route"
      : undefined
  );
  const c = client(plane.url, "reviews", "default", r.apply);
  try {
    await plane.apply(vs("good"));
    await c.start();
    await waitFor(() => r.seen.length === 1, "first snapshot");
    const good = r.seen[0].version;
    const revision = await plane.apply(vs("bad"));
    // The wait ends as soon as the only proxy rejected the revision, naming it.
    const waited = (await plane.call("GET", `/v1/wait?revision=${revision}&timeout=20s`))
      .json as unknown as WaitResponse;
    assert.equal(waited.synced, false);
    assert.equal(waited.pending.length, 1);
    const status: ProxyStatus = waited.pending[0];
    assert.equal(status.status, "NACKED");
    assert.match(status.error!, /cannot compile this route/);
    assert.equal(status.ackedVersion, good);
    assert.notEqual(status.version, good);
    assert.equal(c.status().version, good);
    assert.match(c.status().lastError!, /cannot compile/);

    const table = await mesh(["proxy-status", "--control", plane.url]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+NAMESPACE\s+MODE\s+STATUS\s+VERSION/);
    assert.match(table.stdout, /reviews-1\.default\s+default\s+sidecar\s+NACKED/);
    assert.match(table.stdout, /rejected [0-9a-f]{16}: VirtualService default\/bad/);
    const json = await mesh(["proxy-status", "-o", "json", "--control", plane.url]);
    assert.equal(JSON.parse(json.stdout).proxies[0].status, "NACKED");

    // Fixing the config clears the NACK.
    await plane.call("POST", "/v1/delete", { kind: "VirtualService", name: "bad" });
    await waitFor(async () => (await proxies(plane.call))[0].status === "SYNCED", "SYNCED again");
  } finally {
    await c.stop();
    await plane.stop();
  }
});

Deno.test("push: apply --wait returns after the ACK and names proxies that never ACK", async () => {
  const plane = await startPlane();
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  const r = recorder();
  const c = client(plane.url, "ratings", "default", r.apply);
  const silent = new AbortController();
  try {
    await c.start();
    await waitFor(() => r.seen.length === 1, "first snapshot");
    await Deno.writeTextFile(file, vs("reviews"));
    const ok = await mesh(["apply", "-f", file, "--wait", "--control", plane.url]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /virtualservice\.networking\.istio\.io\/reviews created/);
    assert.match(ok.stderr, /served by all connected proxies \(1 proxy\)/);
    assert.deepEqual(r.names(), ["VirtualService/default/reviews"]);

    // A stream that never ACKs: its proxy stays STALE.
    const response = await fetch(`${plane.url}/v1/discovery`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ proxy: sidecarIdentity("mute", "default") }),
      signal: silent.signal,
    });
    assert.equal(response.status, 200);
    await Deno.writeTextFile(file, vs("reviews", { dest: "reviews-v2" }));
    const failed = await mesh([
      "apply",
      "-f",
      file,
      "--wait",
      "--timeout",
      "1500ms",
      "--control",
      plane.url,
    ]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /1 of 2 connected proxies did not acknowledge it within 1\.5s/);
    assert.match(failed.stderr, /mute-1\.default \(sidecar default\/mute\) is STALE/);
    assert.doesNotMatch(failed.stderr, /ratings-1/);
    await response.body?.cancel();
  } finally {
    silent.abort();
    await c.stop();
    await plane.stop();
    await Deno.remove(file);
  }
});

Deno.test("push: the stream requires the token", async () => {
  const plane = await startPlane({ token: "s3cret" });
  const good = recorder();
  const bad = recorder();
  const ok = client(plane.url, "ok", "default", good.apply, "s3cret");
  const wrong = client(plane.url, "wrong", "default", bad.apply, "guess");
  try {
    const anonymous = await fetch(`${plane.url}/v1/discovery`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ proxy: sidecarIdentity("x") }),
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    await ok.start();
    await wrong.start();
    await waitFor(() => good.seen.length === 1, "snapshot with the right token");
    await waitFor(() => /401/.test(wrong.status().lastError ?? ""), "401 for the wrong token");
    assert.equal(bad.seen.length, 0);
    const list = await proxies(plane.call);
    assert.deepEqual(list.map((p) => p.name), ["ok"]);
  } finally {
    await ok.stop();
    await wrong.stop();
    await plane.stop();
  }
});

Deno.test("push: invalid identities are refused with the problems", async () => {
  const plane = await startPlane();
  try {
    const result = await plane.call("POST", "/v1/discovery", {
      proxy: { mode: "router", name: "", namespace: "default", id: "x" },
    });
    assert.equal(result.status, 400);
    assert.match(String(result.json.error), /proxy\.mode.*proxy\.name/);
    const ack = await plane.call("POST", "/v1/discovery/ack", { connection: "nope", version: "1" });
    assert.equal(ack.status, 404);
  } finally {
    await plane.stop();
  }
});
