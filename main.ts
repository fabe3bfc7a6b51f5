/**
 * The `mesh` executable: parses argv and dispatches to a mode or a tool
 * command. Nothing else lives here.
 *
 * @module
 */

import {
  type Command,
  dispatch,
  processIo,
  validateCommand,
  versionCommand,
} from "./mesh/cli/mod.ts";

/** Every command, in the order `mesh help` lists them. */
export const commands: Command[] = [
  versionCommand,
  validateCommand,
];

if (import.meta.main) {
  Deno.exit(await dispatch(Deno.args, commands, processIo()));
}
