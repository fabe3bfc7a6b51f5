import assert from "node:assert/strict";
import {
  ControlPlane,
  deriveInstances,
  RegistrationError,
  Registry,
  type RegistryEvent,
} from "../../control/mod.ts";
import { resources, withTempDir } from "./helpers.ts";

const REVIEWS = {
  service: "reviews",
  address: "127.0.0.1",
  port: 15006,
  labels: { version: "v1" },
};

Deno.test("registry: heartbeats keep an instance; without them it expires", async () => {
  let now = 1_000_000;
  const registry = await Registry.open(undefined, { ttlMs: 30_000, now: () => now });
  const events: RegistryEvent[] = [];
  registry.subscribe((e) => events.push(e));
  const instance = registry.register({
    ...REVIEWS,
    locality: "eu/west-1a",
    serviceAccount: "bookinfo",
  });
  assert.equal(instance.id, "default/reviews/127.0.0.1:15006");
  assert.equal(instance.hostname, "reviews.default.svc.cluster.local");
  assert.deepEqual(instance.labels, { app: "reviews", version: "v1" });
  assert.equal(instance.expiresAt, now + 30_000);

  for (let i = 0; i < 5; i++) {
    now += 20_000; // beyond one TTL in total, but each within the TTL of the last heartbeat
    assert.ok(registry.heartbeat(instance.id));
    assert.equal(registry.sweep(), 0);
  }
  assert.equal(registry.instances().length, 1);
  // Heartbeats alone do not announce a change.
  assert.equal(events.length, 1);

  now += 30_001;
  assert.equal(
    registry.instances().length,
    0,
    "an expired entry is not listed even before a sweep",
  );
  assert.equal(registry.sweep(), 1);
  assert.equal(
    registry.heartbeat(instance.id),
    undefined,
    "heartbeat after expiry: register again",
  );
  assert.deepEqual(events.map((e) => e.revision), [1, 2]);

  registry.register(REVIEWS);
  assert.equal(registry.deregister("default/reviews/127.0.0.1:15006"), true);
  assert.equal(registry.deregister("default/reviews/127.0.0.1:15006"), false);
  await registry.close();
});

Deno.test("registry: the sweep timer removes expired registrations", async () => {
  const registry = await Registry.open(undefined, { ttlMs: 200 });
  const gone = Promise.withResolvers<void>();
  registry.subscribe(() => {
    if (registry.instances().length === 0) gone.resolve();
  });
  registry.start();
  try {
    registry.register(REVIEWS);
    const timeout = setTimeout(() => gone.reject(new Error("not expired after 10 s")), 10_000);
    await gone.promise;
    clearTimeout(timeout);
  } finally {
    await registry.close();
  }
});

Deno.test("registry: a restart restores entries with their remaining TTL", async () => {
  await withTempDir(async (dir) => {
    let now = 5_000_000;
    const first = await Registry.open(dir, { ttlMs: 10_000, now: () => now });
    first.register(REVIEWS); // expires at +10 s
    now += 6_000;
    const ratings = first.register({ service: "ratings", address: "127.0.0.2", port: 15006 });
    const revision = first.revision;
    await first.close();

    now += 6_000; // reviews expired while the control plane was down; ratings has 4 s left
    const second = await Registry.open(dir, { ttlMs: 10_000, now: () => now });
    assert.deepEqual(second.instances().map((i) => i.service), ["ratings"]);
    assert.equal(second.instances()[0].expiresAt, ratings.expiresAt);
    assert.ok(second.revision >= revision, "the revision does not go back");
    now += 4_001;
    assert.equal(second.sweep(), 1);
    await second.close();
  });
});

Deno.test("registry: invalid registrations list every problem", async () => {
  const registry = await Registry.open(undefined);
  assert.throws(
    () => registry.register({ service: "Bad_Name", address: "nowhere", port: 70000, extra: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof RegistrationError);
      assert.equal(error.details.length, 4);
      assert.match(error.details.join("\n"), /extra: unknown field/);
      assert.match(error.details.join("\n"), /service: required, a DNS-1123 label/);
      assert.match(error.details.join("\n"), /address: required, the instance's IP address/);
      assert.match(error.details.join("\n"), /port: required, an integer 1-65535/);
      return true;
    },
  );
  await registry.close();
});

const SERVICE_ENTRIES = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: shop}
spec:
  hosts: [payments.example.com]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}, locality: eu/a}
  - {address: 10.0.0.2, ports: {http: 9090}, weight: 3}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: shop}
spec: {address: 10.0.1.1, labels: {app: vm, version: v2}, serviceAccount: vm-sa}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-ns, namespace: other}
spec: {address: 10.0.1.2, labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: passthrough, namespace: shop}
spec:
  hosts: [api.example.org]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: NONE
`;

Deno.test("registry: ServiceEntry endpoints and selected WorkloadEntries become instances", () => {
  const instances = deriveInstances(resources(SERVICE_ENTRIES));
  const summary = instances.map((i) => `${i.hostname} ${i.address}:${i.port} ${i.source}`);
  assert.deepEqual(summary, [
    "payments.example.com 10.0.0.1:8080 ServiceEntry",
    "payments.example.com 10.0.0.2:9090 ServiceEntry",
    "vm.shop.internal 10.0.1.1:80 WorkloadEntry",
  ]);
  assert.equal(instances[0].locality, "eu/a");
  assert.deepEqual(instances[0].labels, { version: "v1" });
  assert.equal(instances[1].weight, 3);
  assert.equal(instances[2].serviceAccount, "vm-sa");
  assert.equal(instances[2].origin, "WorkloadEntry shop/vm-1");
});

Deno.test("registry: resolution DNS entries are resolved (localhost) and follow the store", async () => {
  await withTempDir(async (dir) => {
    const plane = await ControlPlane.open({ stateDir: dir, log: () => {} });
    try {
      const changed = Promise.withResolvers<void>();
      plane.registry.subscribe(() => {
        if (plane.registry.instances({ service: "local.test" }).length > 0) changed.resolve();
      });
      await plane.store.apply(resources(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: local}
spec:
  hosts: [local.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: localhost, ports: {http: 8081}}]
`));
      await changed.promise;
      const [instance] = plane.registry.instances({ service: "local.test" });
      assert.equal(instance.address, "127.0.0.1");
      assert.equal(instance.port, 8081);

      await plane.store.delete([{ kind: "ServiceEntry", namespace: "default", name: "local" }]);
      assert.equal(plane.registry.instances().length, 0);
    } finally {
      await plane.close();
    }
  });
});
