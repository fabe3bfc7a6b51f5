/**
 * The systemd units verify and keep their hardening, checked by
 * `systemd-analyze` against copies that point at a stand-in binary.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const SYSTEMD = fileURLToPath(new URL("../../examples/systemd/", import.meta.url));
const UNITS = ["mesh-control.service", "mesh-gateway.service", "mesh-sidecar@.service"];

function hasSystemdAnalyze(): boolean {
  try {
    new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

async function run(args: string[]) {
  const output = await new Deno.Command("systemd-analyze", {
    args,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** Copies the units into a temporary directory with ExecStart pointing at a stub `mesh`. */
async function stagedUnits(): Promise<{ dir: string; paths: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-units-" });
  await Deno.writeTextFile(`${dir}/mesh`, "#!/bin/sh\n", { mode: 0o755 });
  const paths = [];
  for (const unit of UNITS) {
    const text = await Deno.readTextFile(`${SYSTEMD}${unit}`);
    assert.match(text, /^ExecStart=\/usr\/local\/bin\/mesh /m, unit);
    // A template verifies as an instance.
    const name = unit.replace("@.service", "@reviews-v1.service");
    await Deno.writeTextFile(
      `${dir}/${name}`,
      text.replaceAll("/usr/local/bin/mesh", `${dir}/mesh`),
    );
    paths.push(`${dir}/${name}`);
  }
  return { dir, paths };
}

Deno.test({
  name: "systemd units pass systemd-analyze verify and security",
  ignore: !hasSystemdAnalyze(),
  async fn() {
    const { dir, paths } = await stagedUnits();
    try {
      const verify = await run(["verify", "--man=no", ...paths]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.equal(verify.stderr, "", "no warnings");
      for (const path of paths) {
        const security = await run(["security", "--offline=yes", "--threshold=30", path]);
        assert.equal(security.code, 0, `${path}: exposure above 3.0\n${security.stdout}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("systemd units: restart, reload, stop and capability settings", async () => {
  for (const unit of UNITS) {
    const text = await Deno.readTextFile(`${SYSTEMD}${unit}`);
    for (
      const line of [
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillSignal=SIGTERM",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
      ]
    ) {
      assert.ok(text.split("\n").includes(line), `${unit}: ${line}`);
    }
    assert.match(text, /^StateDirectory=mesh-/m, unit);
    // TimeoutStopSec must exceed the 5 s default drain timeout.
    const stop = Number(text.match(/^TimeoutStopSec=(\d+)s$/m)?.[1]);
    assert.ok(stop > 5, `${unit}: TimeoutStopSec`);
    const gateway = unit === "mesh-gateway.service";
    assert.equal(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m.test(text), gateway, unit);
    assert.match(
      text,
      gateway ? /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m : /^CapabilityBoundingSet=$/m,
      unit,
    );
  }
  const template = await Deno.readTextFile(`${SYSTEMD}mesh-sidecar@.service`);
  assert.match(template, /^EnvironmentFile=\/etc\/mesh\/sidecar-%i\.env$/m);
  const env = await Deno.readTextFile(`${SYSTEMD}sidecar-reviews-v1.env`);
  for (const name of ["MESH_SERVICE=reviews", "MESH_VERSION=v1", "MESH_APP_PORT=9080"]) {
    assert.ok(env.split("\n").includes(name), name);
  }
});
