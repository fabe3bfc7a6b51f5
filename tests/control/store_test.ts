import assert from "node:assert/strict";
import { ConfigStore, ReadOnlyError, type StoreEvent, validateFiles } from "../../control/mod.ts";
import { resources, vsYaml, withTempDir } from "./helpers.ts";

Deno.test("store: created, configured, unchanged; resourceVersion and generation", async () => {
  await withTempDir(async (dir) => {
    const store = await ConfigStore.open(dir);
    const events: StoreEvent[] = [];
    store.subscribe((e) => events.push(e));

    const first = await store.apply(resources(vsYaml("reviews") + "---\n" + vsYaml("ratings")));
    assert.deepEqual(first.results.map((r) => r.message), [
      "virtualservice.networking.istio.io/reviews created",
      "virtualservice.networking.istio.io/ratings created",
    ]);
    assert.equal(first.revision, 1);
    assert.equal(store.get("VirtualService", "default", "reviews")?.metadata.resourceVersion, "1");
    assert.equal(store.get("VirtualService", "default", "reviews")?.metadata.generation, 1);

    // Same content: unchanged, no new revision, no event.
    const again = await store.apply(resources(vsYaml("reviews")));
    assert.equal(again.results[0].action, "unchanged");
    assert.equal(again.revision, 1);
    assert.equal(events.length, 1);

    // Spec change: configured, generation 2, resourceVersion = new revision.
    const spec = await store.apply(resources(vsYaml("reviews", { dest: "reviews-v2" })));
    assert.equal(spec.results[0].message, "virtualservice.networking.istio.io/reviews configured");
    const reviews = store.get("VirtualService", "default", "reviews")!;
    assert.equal(reviews.metadata.resourceVersion, "2");
    assert.equal(reviews.metadata.generation, 2);
    // The other resource keeps its version.
    assert.equal(store.get("VirtualService", "default", "ratings")?.metadata.resourceVersion, "1");

    // Metadata-only change: configured, new resourceVersion, same generation.
    const meta = await store.apply(
      resources(vsYaml("reviews", { dest: "reviews-v2", labels: { team: "a" } })),
    );
    assert.equal(meta.results[0].action, "configured");
    const relabeled = store.get("VirtualService", "default", "reviews")!;
    assert.equal(relabeled.metadata.resourceVersion, "3");
    assert.equal(relabeled.metadata.generation, 2);
    assert.equal(relabeled.metadata.uid, reviews.metadata.uid);
    assert.equal(relabeled.metadata.creationTimestamp, reviews.metadata.creationTimestamp);

    // Another apiVersion of the same group is the same resource.
    const v1beta1 = vsYaml("reviews", { dest: "reviews-v2", labels: { team: "a" } })
      .replace("networking.istio.io/v1", "networking.istio.io/v1beta1");
    const other = await store.apply(resources(v1beta1));
    assert.equal(other.results[0].action, "configured");
    assert.equal(store.list({ kind: "VirtualService" }).length, 2);
    assert.equal(store.get("VirtualService", "default", "reviews")?.metadata.generation, 2);

    // User-supplied server fields are ignored.
    const forged = vsYaml("ratings").replace(
      "namespace: default",
      'namespace: default\n  resourceVersion: "999"\n  generation: 42',
    );
    assert.equal((await store.apply(resources(forged))).results[0].action, "unchanged");
    assert.equal(store.get("VirtualService", "default", "ratings")?.metadata.generation, 1);

    // Events carry monotonically increasing revisions.
    assert.deepEqual(events.map((e) => e.revision), [1, 2, 3, 4]);
    assert.deepEqual(events[0].changes.map((c) => c.action), ["created", "created"]);

    // Delete: one commit; missing names reported.
    const deleted = await store.delete([
      { kind: "VirtualService", namespace: "default", name: "ratings" },
      { kind: "VirtualService", namespace: "default", name: "nope" },
    ]);
    assert.deepEqual(deleted.results.map((r) => r.message), [
      'virtualservice.networking.istio.io "ratings" deleted',
    ]);
    assert.deepEqual(deleted.notFound, ['virtualservice "nope" not found in namespace default']);
    assert.equal(deleted.revision, 5);

    // A new store over the same directory sees the same state and revision.
    const reopened = await ConfigStore.open(dir);
    assert.equal(reopened.revision, 5);
    assert.deepEqual(reopened.list(), store.list());
  });
});

Deno.test("store: all-or-nothing apply lists every error and stores nothing", async () => {
  await withTempDir(async (dir) => {
    const store = await ConfigStore.open(dir);
    await store.apply(resources(vsYaml("reviews")));
    const before = await Deno.readTextFile(`${dir}/resources.yaml`);
    const bad = vsYaml("ratings") + "---\n" +
      vsYaml("details").replace("- route:", "- timeoutt: 1s\n    route:") + "---\n" +
      vsYaml("reviews", { dest: "changed" }) + "---\n" +
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\n" +
      "spec: {host: x, trafficPolicy: {circuitBreaker: {}}}\n";
    const input = validateFiles([{ name: "bad.yaml", yaml: bad }]);
    assert.equal(input.errors, 2);
    const messages = input.diagnostics.map((d) => `${d.line}: ${d.path}: ${d.message}`);
    assert.match(messages[0], /spec\.http\[0\]\.timeoutt: unknown field; did you mean timeout\?/);
    assert.match(messages[1], /circuitBreaker: unknown field/);
    // The API refuses to call the store in this case; the store itself is untouched.
    assert.equal(await Deno.readTextFile(`${dir}/resources.yaml`), before);
    assert.equal(store.revision, 1);
  });
});

Deno.test("store: a resource named twice in one request is an error", () => {
  const input = validateFiles([
    { name: "a.yaml", yaml: vsYaml("reviews") },
    { name: "b.yaml", yaml: vsYaml("reviews", { dest: "x" }) },
  ]);
  assert.equal(input.errors, 1);
  assert.equal(input.diagnostics[0].file, "b.yaml");
  assert.match(input.diagnostics[0].message, /defined again \(first in a\.yaml\)/);
});

Deno.test("store: --config-dir resources are read-only and win over applied ones", async () => {
  await withTempDir(async (dir) => {
    const store = await ConfigStore.open(dir);
    await store.apply(resources(vsYaml("reviews") + "---\n" + vsYaml("ratings")));
    const taken = await store.setConfigDir(resources(vsYaml("reviews", { dest: "git" })));
    assert.deepEqual(taken.takenOver, ["VirtualService default/reviews"]);
    assert.equal(store.isReadOnly("VirtualService", "default", "reviews"), true);
    const revision = store.revision;

    await assert.rejects(
      () => store.apply(resources(vsYaml("reviews") + "---\n" + vsYaml("details"))),
      (error: unknown) =>
        error instanceof ReadOnlyError &&
        /VirtualService default\/reviews comes from --config-dir/.test(error.message),
    );
    // All or nothing: details was not stored either.
    assert.equal(store.get("VirtualService", "default", "details"), undefined);
    await assert.rejects(
      () => store.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }]),
      ReadOnlyError,
    );
    assert.equal(store.revision, revision);

    // The persisted file holds only the applied layer, with the current revision.
    const reopened = await ConfigStore.open(dir);
    assert.deepEqual(reopened.list().map((r) => r.metadata.name), ["ratings"]);
    assert.equal(reopened.revision, revision);

    // Removing a file from the directory removes its resources.
    const cleared = await store.setConfigDir([]);
    assert.deepEqual(cleared.results.map((r) => r.action), ["deleted"]);
    assert.equal(store.get("VirtualService", "default", "reviews"), undefined);
  });
});

Deno.test("store: a hand-broken state file is reported with file and line", async () => {
  await withTempDir(async (dir) => {
    const store = await ConfigStore.open(dir);
    await store.apply(resources(vsYaml("reviews")));
    const text = await Deno.readTextFile(`${dir}/resources.yaml`);
    await Deno.writeTextFile(`${dir}/resources.yaml`, text.replace("hosts:", "hostz:"));
    await assert.rejects(
      () => ConfigStore.open(dir),
      /the state file .*resources\.yaml is invalid.*\n.*resources\.yaml:\d+:\d+: .*hostz: unknown field/,
    );
  });
});

Deno.test("store: concurrent applies are serialized into distinct revisions", async () => {
  await withTempDir(async (dir) => {
    const store = await ConfigStore.open(dir);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.apply(resources(vsYaml(`svc-${i}`)))),
    );
    assert.deepEqual(outcomes.map((o) => o.revision).sort((a, b) => a - b), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
    ]);
    assert.equal((await ConfigStore.open(dir)).list().length, 8);
  });
});
