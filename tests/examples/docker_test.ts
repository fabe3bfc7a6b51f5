/**
 * No Docker engine runs here, so these checks stop short of building: the
 * compose file parses, everything it references exists, every sidecar and
 * app is wired to its partner, and the Dockerfile compiles with the shipped
 * permission set.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DOCKER = `${ROOT}examples/docker/`;

// deno-lint-ignore no-explicit-any
type Service = Record<string, any>;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function resolve(base: string, path: string): string {
  return fileURLToPath(new URL(path, `file://${base}`));
}

Deno.test("compose.yaml references what exists and wires every app to its sidecar", async () => {
  const compose = parse(await Deno.readTextFile(`${DOCKER}compose.yaml`), { merge: true });
  const services: Record<string, Service> = compose.services;
  for (const name of ["control", "setup", "gateway"]) assert.ok(services[name], name);

  for (const [name, service] of Object.entries(services)) {
    if (service.build) {
      const context = resolve(DOCKER, `${service.build.context}/`);
      assert.ok(await exists(`${context}${service.build.dockerfile}`), `${name}: dockerfile`);
      assert.equal(service.image, "mesh:dev", name);
    }
    for (const volume of service.volumes ?? []) {
      const source = volume.split(":")[0];
      if (source.startsWith(".")) assert.ok(await exists(resolve(DOCKER, source)), volume);
      else assert.ok(source in compose.volumes, volume);
    }
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      assert.ok(services[dependency], `${name} depends on ${dependency}`);
    }
    const command: string[] = service.command ?? [];
    const script = command.find((arg) => /^\/bookinfo\/.*\.ts$/.test(arg));
    if (script) {
      assert.ok(await exists(`${ROOT}examples${script}`), `${name}: ${script}`);
      assert.deepEqual(command.slice(0, 3), ["run", "--allow-net", "--allow-env"], name);
      const sidecar = service.network_mode?.replace(/^service:/, "");
      assert.equal(services[sidecar]?.command?.[0], "sidecar", `${name}: network_mode`);
      assert.equal(service.depends_on?.[sidecar]?.condition, "service_healthy", name);
      assert.equal(service.environment.MESH_OUTBOUND, "http://127.0.0.1:15001", name);
      assert.equal(service.environment.PORT, services[sidecar].environment.MESH_APP_PORT, name);
      const version = service.environment.VERSION ?? "v1";
      assert.equal(services[sidecar].environment.MESH_VERSION, version, name);
    }
    if (service.command?.[0] === "sidecar") {
      const address = service.environment.MESH_ADDRESS;
      assert.equal(service.networks.mesh.ipv4_address, address, name);
      assert.ok(service.environment.MESH_SERVICE, name);
    }
    if (["control", "gateway"].includes(name) || service.command?.[0] === "sidecar") {
      assert.equal(service.healthcheck?.test?.[1], "curl", `${name}: healthcheck`);
    }
  }
  assert.deepEqual(services.setup.command, ["apply", "-f", "/bookinfo/config"]);
  assert.ok(await exists(`${ROOT}examples/bookinfo/config/`));
  assert.ok(services.gateway.command.includes("istio=ingressgateway"));
  assert.deepEqual(services.gateway.ports, ["8080:8080"]);
});

Deno.test("Dockerfile compiles with deno task compile and ships curl for health checks", async () => {
  const dockerfile = await Deno.readTextFile(`${DOCKER}Dockerfile`);
  assert.match(dockerfile, /^FROM denoland\/deno:2\.9\.6 AS build$/m);
  assert.match(dockerfile, /^FROM debian:bookworm-slim$/m);
  assert.match(dockerfile, /^RUN deno task compile/m);
  assert.match(dockerfile, /install -y --no-install-recommends ca-certificates curl/);
  for (const line of dockerfile.split("\n").filter((l) => l.startsWith("COPY "))) {
    if (line.includes("--from=")) continue;
    for (const source of line.split(/\s+/).slice(1, -1)) {
      assert.ok(await exists(`${ROOT}${source}`), source);
    }
  }
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  assert.match(tasks.compile, /^deno compile .*--output dist\/mesh main\.ts$/);
  assert.doesNotMatch(tasks.compile, /\s-A\s|--allow-all/);
});
