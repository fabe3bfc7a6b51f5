/**
 * Zero-failure operations under steady load, every part a real process: a rolling restart of
 * one of two instances (deregistration + drain + retries), and a control-plane outage (proxies
 * keep serving, a sidecar restarted meanwhile serves from its last good snapshot, and everything
 * is SYNCED again once the control plane is back on the same state dir and port).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appCommand,
  applyYaml,
  freePort,
  proxies,
  request,
  type SidecarHandle,
  sleep,
  startApp,
  startControl,
  startLoad,
  startSidecar,
  stopAll,
  tempDir,
  waitFor,
} from "./e2e_helpers.ts";

const BACKEND_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend}
spec:
  hosts: [backend]
  http:
  - route: [{destination: {host: backend}}]
    retries: {attempts: 3, retryOn: "connect-failure,refused-stream,reset,5xx"}
`;

/** One request to `backend` through the client; undefined when it succeeded. */
function sender(client: () => SidecarHandle, seen?: Set<number>) {
  return async () => {
    const res = await request(client().outbound, { host: "backend", path: "/" });
    if (res.status !== 200) return `${res.status} ${res.headers["x-envoy-response-flags"] ?? ""}`;
    seen?.add(JSON.parse(res.body).port);
    return undefined;
  };
}

/** A backend instance in exec mode on a known app port. */
async function backend(control: string, version: string) {
  const port = freePort();
  const sc = await startSidecar({
    service: "backend",
    version,
    appPort: port,
    control,
    exec: appCommand(),
    env: { PORT: String(port), SERVICE_NAME: "backend", VERSION: version, TERM_DELAY_MS: "300" },
  });
  return { sc, port };
}

Deno.test({
  name: "a rolling restart of one of two instances under load fails no request",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    try {
      const control = await startControl();
      await applyYaml(control.url, BACKEND_VS, { wait: false });
      const clientApp = await startApp({ service: "client" });
      const [client, a, b] = await Promise.all([
        startSidecar({ service: "client", appPort: clientApp.port, control: control.url }),
        backend(control.url, "v1"),
        backend(control.url, "v2"),
      ]);
      const before = new Set<number>();
      await waitFor(async () => {
        await sender(() => client, before)();
        return before.has(a.port) && before.has(b.port);
      }, "both instances to serve");

      const after = new Set<number>();
      let restarted = false;
      const seen = new Set<number>();
      const load = startLoad(async () => {
        const problem = await sender(() => client, seen)();
        return problem;
      });
      await sleep(500);
      const stopped = await b.sc.proc.stop({ graceMs: 20_000 });
      assert.equal(stopped.code, 0, b.sc.proc.output());
      const b2 = await backend(control.url, "v2");
      await waitFor(async () => {
        await sender(() => client, after)();
        restarted = after.has(b2.port);
        return restarted;
      }, "the restarted instance to serve");
      await sleep(500);
      const result = await load.stop();
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.sent} failed`);
      assert.ok(result.sent > 20, `only ${result.sent} requests`);
      assert.ok(seen.has(a.port) && seen.has(b2.port));
      assert.match(b.sc.proc.output(), /SIGTERM: deregistering and draining/);
    } finally {
      await stopAll();
    }
  },
});

Deno.test({
  name: "a control-plane outage under load fails no request and proxies resynchronize",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stateDir = await tempDir("mesh-e2e-control-");
    const clientState = await tempDir("mesh-e2e-client-");
    try {
      const port = freePort();
      let control = await startControl({ port, stateDir });
      await applyYaml(control.url, BACKEND_VS, { wait: false });
      const clientApp = await startApp({ service: "client" });
      let client = await startSidecar({
        service: "client",
        appPort: clientApp.port,
        control: control.url,
        stateDir: clientState,
      });
      const [a, b] = await Promise.all([backend(control.url, "v1"), backend(control.url, "v2")]);
      const ports = new Set<number>();
      await waitFor(async () => {
        await sender(() => client, ports)();
        return ports.has(a.port) && ports.has(b.port);
      }, "both instances to serve");

      // The control plane dies; traffic goes on. (It persists registrations within 1 s: one
      // younger than that would be missing until its sidecar's next heartbeat.)
      const load = startLoad(sender(() => client));
      await sleep(1500);
      await control.proc.stop({ signal: "SIGKILL" });
      await sleep(2000);
      const during = await load.stop();
      assert.deepEqual(during.failures, [], `${during.failures.length} of ${during.sent} failed`);

      // A sidecar restarted during the outage serves from its last good snapshot.
      await client.proc.stop();
      client = await startSidecar({
        service: "client",
        appPort: clientApp.port,
        control: control.url,
        stateDir: clientState,
      });
      assert.match(client.proc.output(), /from cache/);
      for (let i = 0; i < 6; i++) assert.equal(await sender(() => client)(), undefined);

      // The control plane returns on the same port and state dir: everyone is SYNCED again.
      const load2 = startLoad(sender(() => client));
      control = await startControl({ port, stateDir });
      await waitFor(
        async () => {
          const list = await proxies(control.url);
          return list.length === 3 && list.every((p) => p.status === "SYNCED");
        },
        "all three proxies SYNCED",
        40_000,
      );
      await applyYaml(
        control.url,
        BACKEND_VS + '    headers: {response: {set: {x-resynced: "yes"}}}\n',
      );
      const res = await request(client.outbound, { host: "backend" });
      assert.equal(res.headers["x-resynced"], "yes");
      const after = await load2.stop();
      assert.deepEqual(after.failures, [], `${after.failures.length} of ${after.sent} failed`);
    } finally {
      await stopAll();
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
      await Deno.remove(clientState, { recursive: true }).catch(() => {});
    }
  },
});
