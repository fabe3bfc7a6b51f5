/**
 * Control mode: the config store, the service registry, the snapshot push
 * server, the HTTP API and the `mesh control` command that runs them.
 *
 * @module
 */

export { controlCommand, DEFAULT_STATE_DIR } from "./command.ts";
export { type ApiOptions, createApi, DEFAULT_MAX_BODY_BYTES } from "./api.ts";
export { ConfigDirError, ControlPlane, type ControlPlaneOptions } from "./plane.ts";
export { type InputResult, validateFiles } from "./input.ts";
export * from "./push.ts";
export * from "./persist.ts";
export * from "./registry/mod.ts";
export * from "./store/mod.ts";
