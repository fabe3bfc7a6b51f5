import assert from "node:assert/strict";
import { ConfigStore, writeFileAtomic } from "../../control/mod.ts";
import { bigState, RESOURCES } from "./crash_states.ts";
import { resources, withTempDir } from "./helpers.ts";

const WRITER = new URL("./crash_writer.ts", import.meta.url).pathname;

/**
 * Reads a child's stdout lines into `lines`; resolves once the writer has
 * committed at least once, so every kill lands while commits are under way
 * whatever the machine's load (a slow start must not make the test vacuous).
 */
function follow(child: Deno.ChildProcess, lines: string[]): Promise<void> {
  const ready = Promise.withResolvers<void>();
  (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line.startsWith("commit")) ready.resolve();
      }
    }
    ready.reject(new Error(`writer exited before it was ready: ${lines.join("|")}`));
  })();
  return ready.promise;
}

/** Asserts the store in `dir` holds exactly one of the two complete states. */
async function assertComplete(dir: string): Promise<{ state: string; revision: number }> {
  const store = await ConfigStore.open(dir);
  const items = store.list();
  assert.equal(items.length, RESOURCES, "a complete state has every resource");
  const state = items[0].metadata.labels?.state;
  assert.ok(state === "a" || state === "b");
  const routes = state === "a" ? 12 : 20;
  for (const item of items) {
    assert.equal(item.metadata.labels?.state, state, "no mix of two states");
    assert.equal((item.spec.http as unknown[]).length, routes);
  }
  for await (const entry of Deno.readDir(dir)) {
    assert.ok(!entry.name.includes(".tmp-"), `stale temporary file ${entry.name} was removed`);
  }
  return { state, revision: store.revision };
}

Deno.test("store: kill -9 while writing leaves the old or the new state, never a mix", async () => {
  await withTempDir(async (dir) => {
    const seed = await ConfigStore.open(dir);
    await seed.apply(resources(bigState("a")));
    let lastRevision = seed.revision;
    const seen = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", WRITER, dir],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines: string[] = [];
      await follow(child, lines);
      // Random moments across the following commits.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 400));
      child.kill("SIGKILL");
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      const { state, revision } = await assertComplete(dir);
      seen.add(state);
      assert.ok(revision >= lastRevision, "the revision never goes back");
      lastRevision = revision;
    }
    // Every kill landed after at least one commit; both states were observed.
    assert.equal(seen.size, 2);
  });
});

Deno.test("writeFileAtomic replaces a file whole and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/state.yaml`;
    await writeFileAtomic(path, "old\n");
    await writeFileAtomic(path, "new\n".repeat(10_000));
    assert.equal(await Deno.readTextFile(path), "new\n".repeat(10_000));
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["state.yaml"]);
  });
});
