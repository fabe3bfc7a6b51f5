/**
 * Tool commands of `mesh` and the dispatcher `main.ts` uses.
 *
 * @module
 */

export * from "./args.ts";
export * from "./command.ts";
export { versionCommand } from "./version.ts";
export { validateCommand } from "./validate.ts";
export { applyCommand, readInputFiles } from "./apply.ts";
export { deleteCommand } from "./delete.ts";
export { proxyStatusCommand, proxyStatusTable } from "./proxy_status.ts";
export { formatAge, formatTable, getCommand, resourceTable } from "./get.ts";
export * from "./control_client.ts";
