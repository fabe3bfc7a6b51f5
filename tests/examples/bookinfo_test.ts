/**
 * The bookinfo apps as real processes with no mesh in between: a small router
 * stands in for the sidecars and forwards by `Host` header to the app ports.
 * Most apps reach it as `MESH_OUTBOUND` (the Host-header form); reviews v2
 * reaches it as `HTTP_PROXY` (the explicit-proxy form).
 */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { validateFiles } from "../../control/mod.ts";

const BOOKINFO = fromFileUrl(new URL("../../examples/bookinfo/", import.meta.url));

interface Seen {
  host: string;
  path: string;
  headers: Headers;
}

/** The stand-in sidecar: routes by Host, records every request, can delay a host until closed. */
function startRouter() {
  const routes = new Map<string, number>();
  const delays = new Map<string, number>();
  const seen: Seen[] = [];
  const stop = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const host = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
    const url = new URL(req.url);
    seen.push({ host, path: url.pathname, headers: new Headers(req.headers) });
    const port = routes.get(host);
    if (port === undefined) return new Response("no healthy upstream", { status: 503 });
    const delay = delays.get(host);
    if (delay !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        stop.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (stop.signal.aborted) return new Response("router closed", { status: 503 });
    const headers = new Headers(req.headers);
    headers.delete("host");
    try {
      const response = await fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, {
        headers,
      });
      return new Response(await response.arrayBuffer(), {
        status: response.status,
        headers: response.headers,
      });
    } catch {
      return new Response("upstream connect error", { status: 503 });
    }
  });
  async function close() {
    stop.abort();
    await server.shutdown();
  }
  return { routes, delays, seen, close, url: `http://127.0.0.1:${server.addr.port}` };
}

interface App {
  child: Deno.ChildProcess;
  port: number;
}

/** Starts one app on a free port and waits for its "listening on" line. */
async function startApp(script: string, env: Record<string, string>): Promise<App> {
  const passThrough: Record<string, string> = {};
  for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "PATH"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) passThrough[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", `${BOOKINFO}${script}`],
    env: { ...passThrough, PORT: "0", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (true) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`${script} exited before listening; output: ${text}`);
    text += value;
    const port = text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//)?.[1];
    if (port !== undefined) {
      // Keep draining stdout so the app never blocks on a full pipe.
      (async () => {
        while (!(await lines.read()).done);
      })().catch(() => {});
      return { child, port: Number(port) };
    }
  }
}

async function get(app: App, path: string, headers: HeadersInit = {}) {
  const response = await fetch(`http://127.0.0.1:${app.port}${path}`, {
    headers,
    redirect: "manual",
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

Deno.test("bookinfo apps: call graph, versions, header propagation, failures", async (t) => {
  const router = startRouter();
  const viaOutbound = { MESH_OUTBOUND: router.url };
  const apps: App[] = [];
  try {
    const [productpage, details, v1, v2, v3, ratings] = await Promise.all([
      startApp("productpage.ts", viaOutbound),
      startApp("details.ts", viaOutbound),
      startApp("reviews.ts", { ...viaOutbound, VERSION: "v1" }),
      startApp("reviews.ts", { HTTP_PROXY: router.url, VERSION: "v2" }),
      startApp("reviews.ts", { ...viaOutbound, VERSION: "v3" }),
      startApp("ratings.ts", viaOutbound),
    ]);
    apps.push(productpage, details, v1, v2, v3, ratings);
    router.routes.set("productpage", productpage.port);
    router.routes.set("details", details.port);
    router.routes.set("ratings", ratings.port);

    await t.step("each app answers /health", async () => {
      for (const app of apps) {
        const { status, body } = await get(app, "/health");
        assert.equal(status, 200);
        assert.match(body, /is healthy/);
      }
    });

    await t.step("reviews v1 shows no stars and never calls ratings", async () => {
      router.routes.set("reviews", v1.port);
      router.seen.length = 0;
      const { status, body } = await get(productpage, "/productpage");
      assert.equal(status, 200);
      assert.match(body, /The Comedy of Errors/);
      assert.match(body, /ISBN-10:<\/dt><dd>1234567890/);
      assert.match(body, /Reviews served by: <b>reviews-v1<\/b>/);
      assert.match(body, /An extremely entertaining play/);
      assert.doesNotMatch(body, /class="stars"/);
      assert.deepEqual(router.seen.map((s) => `${s.host} ${s.path}`).sort(), [
        "details /details/0",
        "reviews /reviews/0",
      ]);
    });

    await t.step("reviews v2 calls ratings (via HTTP_PROXY) and shows black stars", async () => {
      router.routes.set("reviews", v2.port);
      const { body } = await get(productpage, "/productpage");
      assert.match(body, /Reviews served by: <b>reviews-v2<\/b>/);
      assert.match(body, /data-color="black"[^>]*>★★★★★<\/p>/);
      assert.match(body, /data-color="black"[^>]*>★★★★☆<\/p>/);
      assert.ok(router.seen.some((s) => s.host === "ratings" && s.path === "/ratings/0"));
    });

    await t.step("reviews v3 shows red stars; the API returns its JSON", async () => {
      router.routes.set("reviews", v3.port);
      const { body } = await get(productpage, "/productpage");
      assert.match(body, /Reviews served by: <b>reviews-v3<\/b>/);
      assert.equal(body.match(/class="stars" data-color="red"/g)?.length, 2);
      const api = await get(productpage, "/api/v1/products/0/reviews");
      assert.equal(api.status, 200);
      const reviews = JSON.parse(api.body);
      assert.equal(reviews.version, "v3");
      assert.equal(reviews.podname, "reviews-v3");
      assert.deepEqual(reviews.reviews[0].rating, { stars: 5, color: "red" });
      const products = JSON.parse((await get(productpage, "/api/v1/products")).body);
      assert.equal(products[0].title, "The Comedy of Errors");
    });

    await t.step("user and trace headers reach details, reviews and ratings", async () => {
      router.routes.set("reviews", v2.port);
      router.seen.length = 0;
      await get(productpage, "/productpage", {
        "end-user": "jason",
        "x-request-id": "req-42",
        "user-agent": "bookinfo-test/1",
        "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
      });
      assert.equal(router.seen.length, 3);
      for (const seen of router.seen) {
        assert.equal(seen.headers.get("end-user"), "jason", seen.host);
        assert.equal(seen.headers.get("x-request-id"), "req-42", seen.host);
        assert.equal(seen.headers.get("user-agent"), "bookinfo-test/1", seen.host);
        assert.equal(seen.headers.get("x-b3-traceid"), "80f198ee56343ba864fe8b2a57d3eff7");
      }
    });

    await t.step("?u= and the sign-in cookie set end-user", async () => {
      router.seen.length = 0;
      const page = await get(productpage, "/productpage?u=jason");
      assert.match(page.body, /Signed in as <b class="user">jason<\/b>/);
      assert.equal(router.seen[0].headers.get("end-user"), "jason");

      const login = await fetch(`http://127.0.0.1:${productpage.port}/login`, {
        method: "POST",
        body: new URLSearchParams({ username: "jason" }),
        redirect: "manual",
      });
      await login.body?.cancel();
      assert.equal(login.status, 302);
      const cookie = login.headers.get("set-cookie")!.split(";")[0];
      assert.equal(cookie, "end-user=jason");
      router.seen.length = 0;
      await get(productpage, "/productpage", { cookie });
      assert.ok(router.seen.every((s) => s.headers.get("end-user") === "jason"));
    });

    await t.step("a failing service shows bookinfo's graceful messages", async () => {
      router.routes.delete("reviews");
      router.routes.delete("details");
      router.seen.length = 0;
      const { status, body } = await get(productpage, "/productpage");
      assert.equal(status, 200);
      assert.match(body, /Sorry, product reviews are currently unavailable for this book\./);
      assert.match(body, /Sorry, product details are currently unavailable for this book\./);
      // productpage tries reviews twice, as bookinfo does.
      assert.equal(router.seen.filter((s) => s.host === "reviews").length, 2);
      const api = await get(productpage, "/api/v1/products/0/reviews");
      assert.equal(api.status, 503);
      router.routes.set("details", details.port);
    });

    await t.step("ratings down or slow: reviews says ratings are unavailable", async () => {
      router.routes.set("reviews", v3.port);
      router.routes.delete("ratings");
      const { body } = await get(productpage, "/productpage");
      assert.match(body, /Reviews served by: <b>reviews-v3<\/b>/);
      assert.equal(body.match(/Ratings service is currently unavailable/g)?.length, 2);

      // reviews v3 gives ratings 2.5 s, as bookinfo's; a 6 s ratings times out.
      router.routes.set("ratings", ratings.port);
      router.delays.set("ratings", 6_000);
      const started = Date.now();
      const direct = await get(v3, "/reviews/0");
      const elapsed = Date.now() - started;
      assert.equal(direct.status, 200);
      assert.deepEqual(JSON.parse(direct.body).reviews[0].rating, {
        error: "Ratings service is currently unavailable",
      });
      assert.ok(elapsed >= 2_400 && elapsed < 6_000, `took ${elapsed} ms`);
      router.delays.clear();
    });
  } finally {
    for (const app of apps) {
      try {
        app.child.kill("SIGTERM");
      } catch { /* already gone */ }
      await app.child.status;
    }
    await router.close();
  }
});

Deno.test("every bookinfo YAML passes mesh validate", async () => {
  const main = fromFileUrl(new URL("../../main.ts", import.meta.url));
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "validate", "-f", BOOKINFO],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.equal(stderr, "", "no warnings either");
  assert.match(new TextDecoder().decode(output.stdout), /resources in 8 files: valid/);
});

async function readYamlDir(dir: string): Promise<{ name: string; yaml: string }[]> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) {
      files.push({ name: entry.name, yaml: await Deno.readTextFile(`${dir}${entry.name}`) });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("config/ applies in one go and each routing example replaces one of its routes", async () => {
  const base = validateFiles(await readYamlDir(`${BOOKINFO}config/`));
  assert.equal(base.errors, 0, base.diagnostics.map((d) => d.message).join("\n"));
  const key = (r: { kind: string; metadata: { name: string } }) => `${r.kind}/${r.metadata.name}`;
  const names = new Set(base.resources.map(key));
  for (const name of ["Gateway/bookinfo-gateway", "VirtualService/bookinfo"]) {
    assert.ok(names.has(name), name);
  }
  for (const service of ["productpage", "details", "reviews", "ratings"]) {
    assert.ok(names.has(`DestinationRule/${service}`), service);
    assert.ok(names.has(`VirtualService/${service}`), service);
  }
  const routing = await readYamlDir(`${BOOKINFO}routing/`);
  assert.equal(routing.length, 5);
  for (const file of routing) {
    const result = validateFiles([file]);
    assert.equal(result.errors, 0, file.name);
    for (const resource of result.resources) assert.ok(names.has(key(resource)), file.name);
  }
});
