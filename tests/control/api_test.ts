import assert from "node:assert/strict";
import { type ApiOptions, ControlPlane, createApi } from "../../control/mod.ts";
import { vsYaml, withTempDir } from "./helpers.ts";

interface Api {
  url: string;
  plane: ControlPlane;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<
    { status: number; json: Record<string, unknown> }
  >;
}

/** Runs `fn` against the API of a fresh control plane on a real loopback socket. */
async function withApi(
  fn: (api: Api) => Promise<void>,
  options: ApiOptions & { configDir?: string; registryTtlMs?: number } = {},
): Promise<void> {
  await withTempDir(async (dir) => {
    const plane = await ControlPlane.open({
      stateDir: dir,
      configDir: options.configDir,
      registryTtlMs: options.registryTtlMs,
      configDirDebounceMs: 50,
      log: () => {},
    });
    plane.start();
    const listening = Promise.withResolvers<number>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: (a) => listening.resolve(a.port) },
      createApi(plane, options).fetch,
    );
    const url = `http://127.0.0.1:${await listening.promise}`;
    const call: Api["call"] = async (method, path, body, headers = {}) => {
      const init: RequestInit = { method, headers: { ...headers } };
      if (typeof body === "string" || body instanceof ReadableStream) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)["content-type"] = "application/json";
      }
      const response = await fetch(url + path, init);
      return { status: response.status, json: await response.json() };
    };
    try {
      await fn({ url, plane, call });
    } finally {
      await server.shutdown();
      await plane.close();
    }
  });
}

Deno.test("api: apply, get, delete over HTTP", async () => {
  await withApi(async ({ call }) => {
    const applied = await call(
      "POST",
      "/v1/apply",
      vsYaml("reviews") + "---\n" + vsYaml("ratings"),
    );
    assert.equal(applied.status, 200);
    assert.deepEqual((applied.json.results as { message: string }[]).map((r) => r.message), [
      "virtualservice.networking.istio.io/reviews created",
      "virtualservice.networking.istio.io/ratings created",
    ]);
    assert.equal(applied.json.revision, "1");

    const again = await call("POST", "/v1/apply", { yaml: vsYaml("reviews", { dest: "v2" }) });
    assert.equal((again.json.results as { action: string }[])[0].action, "configured");

    for (const kind of ["vs", "VirtualService", "virtualservices", "VIRTUALSERVICE"]) {
      const listed = await call("GET", `/v1/resources/${kind}`);
      assert.equal(listed.status, 200);
      assert.equal((listed.json.items as unknown[]).length, 2);
    }
    const one = await call("GET", "/v1/resources/vs/default/reviews");
    assert.equal((one.json.metadata as { generation: number }).generation, 2);
    const missing = await call("GET", "/v1/resources/vs/default/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'virtualservice "nope" not found in namespace default');
    const unknownKind = await call("GET", "/v1/resources/pods");
    assert.equal(unknownKind.status, 404);
    assert.match(String(unknownKind.json.error), /unknown resource kind "pods"; use one of/);

    const deleted = await call("POST", "/v1/delete", {
      kind: "vs",
      name: "ratings",
      namespace: "default",
    });
    assert.equal(deleted.status, 200);
    assert.deepEqual((deleted.json.results as { message: string }[]).map((r) => r.message), [
      'virtualservice.networking.istio.io "ratings" deleted',
    ]);
    const byYaml = await call("POST", "/v1/delete", vsYaml("reviews") + "---\n" + vsYaml("gone"));
    assert.equal(byYaml.status, 404);
    assert.deepEqual(byYaml.json.notFound, [
      'virtualservice "gone" not found in namespace default',
    ]);
    assert.equal((byYaml.json.results as unknown[]).length, 1, "the existing one was deleted");
    assert.equal(((await call("GET", "/v1/resources")).json.items as unknown[]).length, 0);

    const health = await call("GET", "/healthz");
    assert.deepEqual(health.json.status, "ok");
    const nowhere = await call("GET", "/v2/things");
    assert.equal(nowhere.status, 404);
    assert.match(String(nowhere.json.error), /no such endpoint: GET \/v2\/things/);
  });
});

Deno.test("api: an invalid apply is 400 with every diagnostic and stores nothing", async () => {
  await withApi(async ({ call, plane }) => {
    const bad = vsYaml("ratings").replace("- route:", "- timeoutt: 1s\n    route:");
    const response = await call("POST", "/v1/apply", {
      files: [
        { name: "good.yaml", yaml: vsYaml("reviews") },
        { name: "bad.yaml", yaml: bad + "---\nkind: Nope\n" },
      ],
    });
    assert.equal(response.status, 400);
    assert.match(String(response.json.error), /^\d+ errors in 2 files; nothing was applied$/);
    const texts = (response.json.details as { text: string }[]).map((d) => d.text);
    assert.ok(texts.length >= 2);
    assert.match(
      texts[0],
      /^bad\.yaml:\d+:\d+: VirtualService default\/ratings: spec\.http\[0\]\.timeoutt:/,
    );
    assert.ok(texts.some((t) => /unsupported kind "Nope"/.test(t)));
    assert.equal(plane.store.revision, 0);
    assert.equal(plane.store.list().length, 0);
  });
});

Deno.test("api: --token-file rejects unauthorized calls and changes nothing", async () => {
  await withApi(async ({ call, plane }) => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "s3cret" },
    ];
    for (const headers of attempts) {
      const applied = await call("POST", "/v1/apply", vsYaml("reviews"), headers);
      assert.equal(applied.status, 401);
      assert.match(String(applied.json.error), /^unauthorized: .*--token-file/);
      const registered = await call(
        "POST",
        "/v1/registry/register",
        { service: "reviews", address: "127.0.0.1", port: 15006 },
        headers,
      );
      assert.equal(registered.status, 401);
      assert.equal((await call("GET", "/v1/resources/vs", undefined, headers)).status, 401);
    }
    assert.equal(plane.store.list().length, 0);
    assert.equal(plane.registry.instances().length, 0);

    const ok = await call("POST", "/v1/apply", vsYaml("reviews"), {
      authorization: "Bearer s3cret",
    });
    assert.equal(ok.status, 200);
    assert.equal(plane.store.list().length, 1);
  }, { token: "s3cret" });
});

Deno.test("api: bodies over the limit are refused with 413, with or without a length", async () => {
  await withApi(async ({ call, plane }) => {
    const padding = "# " + "x".repeat(4 * 1024 * 1024) + "\n";
    const declared = await call("POST", "/v1/apply", padding + vsYaml("reviews"));
    assert.equal(declared.status, 413);
    assert.match(String(declared.json.error), /request body larger than 4194304 bytes/);

    const chunk = new TextEncoder().encode("#" + "y".repeat(64 * 1024 - 2) + "\n");
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 80) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await call("POST", "/v1/apply", stream);
    assert.equal(chunked.status, 413);
    assert.equal(plane.store.list().length, 0);
  });
});

Deno.test("api: registry register, heartbeat, list, deregister", async () => {
  await withApi(async ({ call, plane }) => {
    const registered = await call("POST", "/v1/registry/register", {
      service: "reviews",
      address: "127.0.0.1",
      port: 15006,
      labels: { version: "v2" },
      locality: "eu/west/a",
    });
    assert.equal(registered.status, 200);
    assert.equal(registered.json.ttlMs, 30_000);
    assert.equal(registered.json.heartbeatIntervalMs, 10_000);
    const id = (registered.json.instance as { id: string }).id;
    // Durable before the answer: a control plane killed now restarts with it.
    const saved = await Deno.readTextFile(`${plane.registry.file}`);
    assert.ok(saved.includes(id), "the registration is on disk");

    assert.equal((await call("POST", "/v1/registry/heartbeat", { id })).status, 200);
    const listed = await call("GET", "/v1/registry?service=reviews");
    assert.equal((listed.json.instances as unknown[]).length, 1);
    assert.equal((await call("POST", "/v1/registry/deregister", { id })).status, 200);
    assert.doesNotMatch(await Deno.readTextFile(`${plane.registry.file}`), /15006/);
    const unknown = await call("POST", "/v1/registry/heartbeat", { id });
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.json.error), /not registered .*register it again/);

    const invalid = await call("POST", "/v1/registry/register", { service: "x" });
    assert.equal(invalid.status, 400);
    assert.ok((invalid.json.details as unknown[]).length >= 2);
  });
});

Deno.test("api: --config-dir resources are listed, read-only, and reloaded on change", async () => {
  await withTempDir(async (configDir) => {
    await Deno.writeTextFile(`${configDir}/reviews.yaml`, vsYaml("reviews"));
    await withApi(async ({ call, plane }) => {
      const listed = await call("GET", "/v1/resources/vs/default/reviews");
      assert.equal(listed.status, 200);

      const overwrite = await call("POST", "/v1/apply", vsYaml("reviews", { dest: "x" }));
      assert.equal(overwrite.status, 409);
      assert.match(
        String(overwrite.json.error),
        /VirtualService default\/reviews comes from --config-dir and cannot be changed or deleted/,
      );
      const removal = await call("POST", "/v1/delete", { kind: "vs", name: "reviews" });
      assert.equal(removal.status, 409);

      // Edit the directory: the change is picked up by the watcher.
      const reloaded = Promise.withResolvers<void>();
      plane.store.subscribe(() => {
        if (plane.store.get("VirtualService", "default", "ratings")) reloaded.resolve();
      });
      await Deno.writeTextFile(`${configDir}/ratings.yaml`, vsYaml("ratings"));
      const timer = setTimeout(() => reloaded.reject(new Error("no reload within 10 s")), 10_000);
      await reloaded.promise;
      clearTimeout(timer);
      // An invalid edit keeps the previous contents.
      await Deno.writeTextFile(`${configDir}/ratings.yaml`, "kind: Nope\n");
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(plane.store.get("VirtualService", "default", "ratings"));
    }, { configDir });
  });
});
