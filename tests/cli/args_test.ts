import assert from "node:assert/strict";
import { envName, type FlagSpec, parseArgs, UsageError } from "../../mesh/cli/mod.ts";

const flags: FlagSpec[] = [
  { name: "filename", short: "f", kind: "list", value: "PATH", description: "input" },
  {
    name: "control",
    kind: "string",
    value: "URL",
    default: "http://127.0.0.1:15010",
    description: "cp",
  },
  { name: "wait", kind: "boolean", description: "wait" },
];

Deno.test("list flags repeat and keep their order", () => {
  const a = parseArgs(["-f", "a.yaml", "--filename", "dir/", "-f=-"], flags);
  assert.deepEqual(a.lists.get("filename"), ["a.yaml", "dir/", "-"]);
});

Deno.test("the command line wins over the environment, which wins over defaults", () => {
  assert.equal(parseArgs([], flags).values.get("control"), "http://127.0.0.1:15010");
  assert.equal(
    parseArgs([], flags, { MESH_CONTROL: "http://e" }).values.get("control"),
    "http://e",
  );
  assert.equal(
    parseArgs(["--control", "http://c"], flags, { MESH_CONTROL: "http://e" }).values.get("control"),
    "http://c",
  );
});

Deno.test("booleans, positionals and the exec tail after --", () => {
  const a = parseArgs(["vs", "--wait", "name", "--", "app", "--port", "1"], flags);
  assert.equal(a.values.get("wait"), "true");
  assert.deepEqual(a.positionals, ["vs", "name"]);
  assert.deepEqual(a.rest, ["app", "--port", "1"]);
});

Deno.test("unknown flags and missing values are usage errors", () => {
  assert.throws(() => parseArgs(["--nope"], flags), UsageError);
  assert.throws(() => parseArgs(["--control"], flags), /needs a value/);
  assert.throws(() => parseArgs(["--f", "x"], flags), /unknown flag --f/);
});

Deno.test("env twins follow the flag name", () => {
  assert.equal(envName("token-file"), "MESH_TOKEN_FILE");
});
