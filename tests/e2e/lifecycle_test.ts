/**
 * Proxy lifecycle as a real process: SIGTERM deregisters and drains (an in-flight slow request
 * completes while `/ready` answers 503), exec mode starts the app once ready, passes it signals
 * and the outbound address, and exits with its code (also when the app ends by itself), and the
 * control plane reloads `--config-dir` on SIGHUP instead of dying.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appCommand,
  freePort,
  get,
  meshCli,
  request,
  startApp,
  startControl,
  startSidecar,
  stopAll,
  tempDir,
  waitFor,
} from "./e2e_helpers.ts";

async function registered(controlUrl: string, service: string): Promise<number> {
  const res = await fetch(`${controlUrl}/v1/registry`);
  const body = await res.json();
  return body.instances.filter((i: { service: string; source: string }) =>
    i.service === service && i.source === "registration"
  ).length;
}

function staticConfig(): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nothing}
spec:
  hosts: [nothing.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;
}

Deno.test({
  name: "SIGTERM deregisters, turns /ready to 503 and drains a slow request before exiting 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    try {
      const control = await startControl();
      const app = await startApp({ service: "slow" });
      const sc = await startSidecar({
        service: "slow",
        appPort: app.port,
        control: control.url,
        drainTimeout: "10s",
      });
      await waitFor(async () => await registered(control.url, "slow") === 1, "registration");

      const slow = request(sc.inbound, { path: "/delay/2500" });
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      sc.proc.kill("SIGTERM");
      await waitFor(async () => (await get(sc.admin, "/ready")).status === 503, "/ready 503");
      await waitFor(async () => await registered(control.url, "slow") === 0, "deregistration");
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).delayed, 2500);
      const status = await sc.proc.status;
      assert.equal(status.code, 0, sc.proc.output());
      assert.ok(Date.now() - started < 10_000);
      assert.match(sc.proc.output(), /SIGTERM: deregistering and draining/);
    } finally {
      await stopAll();
    }
  },
});

Deno.test({
  name: "exec mode passes the outbound address and signals to the app and exits with its code",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await tempDir();
    try {
      const file = `${dir}/mesh.yaml`;
      await Deno.writeTextFile(file, staticConfig());
      const port = freePort();
      const sc = await startSidecar({
        service: "job",
        appPort: port,
        config: file,
        exec: appCommand(),
        env: {
          PORT: String(port),
          SERVICE_NAME: "job",
          TERM_EXIT_CODE: "42",
          TERM_DELAY_MS: "1000",
        },
      });
      await sc.proc.waitForOutput(/job v1 listening on/);
      const env = JSON.parse((await request(sc.inbound, { path: "/env" })).body);
      assert.equal(env.MESH_OUTBOUND, `http://127.0.0.1:${sc.outbound}`);
      assert.equal(env.HTTP_PROXY, `http://127.0.0.1:${sc.outbound}`);

      sc.proc.kill("SIGTERM");
      await sc.proc.waitForOutput(/job v1 got SIGTERM/);
      // Still proxying while the app winds down.
      assert.equal((await request(sc.inbound, { path: "/x" })).status, 200);
      const status = await sc.proc.status;
      assert.equal(status.code, 42, sc.proc.output());
    } finally {
      await stopAll();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "exec mode: an app that ends by itself ends the sidecar with its exit code",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await tempDir();
    try {
      const file = `${dir}/mesh.yaml`;
      await Deno.writeTextFile(file, staticConfig());
      const sc = await startSidecar({
        service: "batch",
        appPort: 9, // never contacted
        config: file,
        exec: appCommand(),
        env: { PORT: "0", SERVICE_NAME: "batch", EXIT_AFTER_MS: "1500", EXIT_CODE: "3" },
      });
      const status = await sc.proc.status;
      assert.equal(status.code, 3, sc.proc.output());
      assert.match(sc.proc.output(), /batch v1 done/);
      assert.match(sc.proc.output(), /the application exited \(code 3\)/);

      // A command that does not exist: exit 1 with a message, no stack trace.
      const missing = await meshCli([
        "sidecar",
        "--service",
        "x",
        "--app-port",
        "9",
        "--inbound-port",
        "0",
        "--outbound-port",
        "0",
        "--admin-port",
        "0",
        "--address",
        "127.0.0.1",
        "--config",
        file,
        "--state-dir",
        dir,
        "--",
        `${dir}/no-such-command`,
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot start .*no-such-command: no such command/);
      assert.doesNotMatch(missing.stderr, /\n\s+at /);
    } finally {
      await stopAll();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "sidecar usage errors exit 1 with one paragraph",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const noSource = await meshCli(["sidecar", "--service", "a", "--app-port", "80"]);
    assert.equal(noSource.code, 1);
    assert.match(noSource.stderr, /give --control URL .* or --config FILE/);
    const badLabels = await meshCli([
      "sidecar",
      "--service",
      "a",
      "--app-port",
      "80",
      "--labels",
      "oops",
      "--config",
      "x.yaml",
    ]);
    assert.equal(badLabels.code, 1);
    assert.match(badLabels.stderr, /--labels "oops": give key=value pairs/);
    const env = await meshCli(["sidecar", "--app-port", "80"], { MESH_SERVICE: "Bad_Name" });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /--service "Bad_Name"/);
  },
});

Deno.test({
  name: "mesh control reloads --config-dir on SIGHUP and keeps running",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await tempDir();
    try {
      await Deno.mkdir(`${dir}/config`);
      const control = await startControl({ args: ["--config-dir", `${dir}/config`] });
      control.proc.kill("SIGHUP");
      await waitFor(
        () => /mesh control: SIGHUP: reloaded --config-dir/.test(control.proc.output()),
        "the reload",
      );
      const res = await fetch(`${control.url}/v1/proxies`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(control.proc.exited, false);
    } finally {
      await stopAll();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
