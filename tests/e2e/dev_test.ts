/**
 * `deno task dev` (`tools/dev.ts`): the bookinfo mesh comes up behind an ingress gateway, routes
 * `end-user: jason` to reviews v2 once `routing/reviews-jason-v2.yaml` is applied, and Ctrl-C
 * stops every process cleanly.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  freePort,
  freePortRange,
  meshCli,
  REPO,
  request,
  spawn,
  stopAll,
  tempDir,
} from "./e2e_helpers.ts";

const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

function versionOf(html: string): string | undefined {
  return /data-version="(v\d)"/.exec(html)?.[1];
}

Deno.test({
  name: "deno task dev starts bookinfo behind a gateway and routes jason to reviews v2",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stateDir = await tempDir("mesh-e2e-dev-");
    try {
      const base = freePortRange(40);
      const gatewayPort = freePort();
      const dev = spawn([
        Deno.execPath(),
        "run",
        ...PERMISSIONS,
        `${REPO}/tools/dev.ts`,
        "--base-port",
        String(base),
        "--gateway-port",
        String(gatewayPort),
        "--state-dir",
        stateDir,
        "--quiet",
      ], { name: "dev" });
      await dev.waitForOutput(/dev: bookinfo is ready/, 150_000);
      assert.match(dev.output(), new RegExp(`curl http://localhost:${gatewayPort}/productpage`));

      const page = await request(gatewayPort, { path: "/productpage" });
      assert.equal(page.status, 200, page.body);
      assert.equal(versionOf(page.body), "v1");
      assert.match(page.body, /Reviewer1/);

      const control = `http://127.0.0.1:${base}`;
      const applied = await meshCli([
        "apply",
        "-f",
        "examples/bookinfo/routing/reviews-jason-v2.yaml",
        "--wait",
        "--control",
        control,
      ]);
      assert.equal(applied.code, 0, applied.stderr);
      for (let i = 0; i < 3; i++) {
        const jason = await request(gatewayPort, {
          path: "/productpage",
          headers: { "end-user": "jason" },
        });
        assert.equal(jason.status, 200);
        assert.equal(versionOf(jason.body), "v2");
        const other = await request(gatewayPort, { path: "/productpage" });
        assert.equal(versionOf(other.body), "v1");
      }

      dev.kill("SIGINT");
      const status = await dev.status;
      assert.equal(status.code, 0, dev.output());
      assert.match(dev.output(), /dev: stopped/);
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: base }));
      await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: gatewayPort }));
    } finally {
      await stopAll();
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    }
  },
});
