/**
 * Helper process of persist_test.ts: applies two large states alternately to
 * the store in `Deno.args[0]`, forever, until it is killed. Prints `ready`
 * once the store is open and `commit N` after each commit.
 *
 * @module
 */

import { ConfigStore } from "../../control/mod.ts";
import { resources } from "./helpers.ts";
import { bigState } from "./crash_states.ts";

const store = await ConfigStore.open(Deno.args[0]);
const states = { a: resources(bigState("a")), b: resources(bigState("b")) };
const encoder = new TextEncoder();
Deno.stdout.writeSync(encoder.encode("ready\n"));
let turn = store.list()[0]?.metadata.labels?.state === "a" ? "b" : "a";
for (let n = 1;; n++) {
  await store.apply(states[turn as "a" | "b"]);
  Deno.stdout.writeSync(encoder.encode(`commit ${n}\n`));
  turn = turn === "a" ? "b" : "a";
}
