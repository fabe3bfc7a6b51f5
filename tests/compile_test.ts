/**
 * The compiled single binary: built with the same command as `deno task
 * compile` and run as `mesh version` / `mesh validate`. `deno compile` needs
 * Deno's runtime (`denort`); where Deno's servers are out of reach it must
 * come from `DENORT_BIN`, so without that variable the test skips (and never
 * tries the download).
 */
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");
const reason = "DENORT_BIN is not set: deno compile would download denort from Deno's servers";
if (!denort) console.log(`compile_test: skipped: ${reason}`);

Deno.test({
  name: "deno task compile builds one binary that runs mesh",
  ignore: !denort,
  async fn() {
    const root = new URL("..", import.meta.url).pathname;
    const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
    const task: string = config.tasks.compile;
    const dir = await Deno.makeTempDir({ prefix: "mesh-compile-" });
    try {
      const args = task.split(/\s+/).slice(1).map((a) => a === "dist/mesh" ? `${dir}/mesh` : a);
      const built = await new Deno.Command(Deno.execPath(), { args, cwd: root }).output();
      assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
      const version = await new Deno.Command(`${dir}/mesh`, { args: ["version"] }).output();
      assert.match(new TextDecoder().decode(version.stdout), /^mesh \d/);
      const validate = await new Deno.Command(`${dir}/mesh`, {
        args: ["validate", "-f", `${root}examples/bookinfo/config/`],
      }).output();
      assert.equal(validate.code, 0, new TextDecoder().decode(validate.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
