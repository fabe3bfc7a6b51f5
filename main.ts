/**
 * The `mesh` executable: parses argv and dispatches to a mode or a tool
 * command. Nothing else lives here.
 *
 * @module
 */

import { controlCommand } from "./control/mod.ts";
import { gatewayCommand, sidecarCommand } from "./proxy/mod.ts";
import {
  applyCommand,
  type Command,
  deleteCommand,
  dispatch,
  getCommand,
  processIo,
  proxyStatusCommand,
  validateCommand,
  versionCommand,
} from "./mesh/cli/mod.ts";

/** Every command, in the order `mesh help` lists them. */
export const commands: Command[] = [
  versionCommand,
  validateCommand,
  controlCommand,
  sidecarCommand,
  gatewayCommand,
  applyCommand,
  getCommand,
  deleteCommand,
  proxyStatusCommand,
];

if (import.meta.main) {
  Deno.exit(await dispatch(Deno.args, commands, processIo()));
}
