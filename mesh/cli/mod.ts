/**
 * Tool commands of `mesh` and the dispatcher `main.ts` uses.
 *
 * @module
 */

export * from "./args.ts";
export * from "./command.ts";
export { versionCommand } from "./version.ts";
export { validateCommand } from "./validate.ts";
