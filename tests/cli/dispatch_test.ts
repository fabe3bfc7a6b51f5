import assert from "node:assert/strict";
import { type CliIo, dispatch } from "../../mesh/cli/mod.ts";
import { commands } from "../../main.ts";

/** A CliIo that records what a command printed. */
export function recordingIo(env: Record<string, string> = {}, stdin = "") {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    readStdin: () => Promise.resolve(stdin),
    env,
  };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

Deno.test("mesh version prints the version and exits 0", async () => {
  const r = recordingIo();
  assert.equal(await dispatch(["version"], commands, r.io), 0);
  assert.match(r.out(), /^mesh \d+\.\d+\.\d+ \(deno /);
});

Deno.test("mesh help lists exactly the commands that exist", async () => {
  const r = recordingIo();
  assert.equal(await dispatch(["help"], commands, r.io), 0);
  for (const c of commands) assert.match(r.out(), new RegExp(`\\n  ${c.name} `));
});

Deno.test("an unknown command exits 1 and lists the valid ones", async () => {
  const r = recordingIo();
  assert.equal(await dispatch(["frobnicate"], commands, r.io), 1);
  assert.match(r.err(), /unknown command "frobnicate"; commands: help, version/);
});

Deno.test("an unknown flag exits 1 with the valid flags and usage", async () => {
  const r = recordingIo();
  assert.equal(await dispatch(["version", "--nope"], commands, r.io), 1);
  assert.match(r.err(), /unknown flag --nope/);
  assert.match(r.err(), /usage: mesh version/);
});
