/**
 * Active health checks between sidecars, every part a real process: when an app dies behind a
 * sidecar that stays up and registered, callers' health checks (answered by that sidecar, which
 * finds the app gone) mark the endpoint unhealthy and traffic goes to the other instance.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  get,
  request,
  type SidecarHandle,
  startApp,
  startControl,
  startSidecar,
  stopAll,
  waitFor,
} from "./e2e_helpers.ts";

/** Checks every 300 ms so two failed probes come quickly even on a loaded machine. */
const FAST = { MESH_HEALTH_CHECK_INTERVAL: "300" };

const PROBE = { "x-mesh-health-check": "1", "user-agent": "mesh-health-check/1" };

function flags(clusters: string, sc: SidecarHandle): string | undefined {
  const m = clusters.match(
    new RegExp(
      String
        .raw`outbound\|80\|\|backend\.default\.svc\.cluster\.local::127\.0\.0\.1:${sc.inbound}::health_flags::(\S+)`,
    ),
  );
  return m?.[1];
}

Deno.test({
  name: "a sidecar whose app died is marked unhealthy by its callers; requests keep succeeding",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    try {
      const control = await startControl();
      const [clientApp, appA, appB] = await Promise.all([
        startApp({ service: "client" }),
        startApp({ service: "backend", version: "v1" }),
        startApp({ service: "backend", version: "v2" }),
      ]);
      const [client, a, b] = await Promise.all([
        startSidecar({
          service: "client",
          appPort: clientApp.port,
          control: control.url,
          env: FAST,
        }),
        startSidecar({
          service: "backend",
          version: "v1",
          appPort: appA.port,
          control: control.url,
        }),
        startSidecar({
          service: "backend",
          version: "v2",
          appPort: appB.port,
          control: control.url,
        }),
      ]);
      const seen = new Set<number>();
      await waitFor(async () => {
        const res = await request(client.outbound, { host: "backend", path: "/" });
        if (res.status === 200) seen.add(JSON.parse(res.body).port);
        return seen.has(appA.port) && seen.has(appB.port);
      }, "both instances to serve");
      // Probes answered by live sidecars with live apps keep both endpoints healthy.
      const before = (await get(client.admin, "/clusters")).body;
      assert.equal(flags(before, a), "healthy");
      assert.equal(flags(before, b), "healthy");

      // The sidecar answers a probe itself (the app would answer any path with 200 JSON).
      const probe = () =>
        request(a.inbound, { host: "backend", path: "/healthz/ready", headers: PROBE });
      const live = await probe();
      assert.equal(live.status, 200);
      assert.equal(live.body, "ok\n");

      await appA.proc.stop();
      const dead = await probe();
      assert.equal(dead.status, 503);
      assert.match(dead.body, /application not accepting/);
      await waitFor(
        async () => {
          const clusters = (await get(client.admin, "/clusters")).body;
          return flags(clusters, a) === "/failed_active_hc";
        },
        "the endpoint whose app died to fail active health checks",
        20_000,
      );
      assert.equal(flags((await get(client.admin, "/clusters")).body, b), "healthy");
      assert.equal(b.proc.exited, false);
      assert.equal(a.proc.exited, false, "the sidecar stays up and registered");

      for (let i = 0; i < 10; i++) {
        const res = await request(client.outbound, { host: "backend", path: "/" });
        assert.equal(res.status, 200, res.body);
        assert.equal(JSON.parse(res.body).port, appB.port);
      }
    } finally {
      await stopAll();
    }
  },
});
