/**
 * The control plane's crash-safe writes: the shared helpers of `mesh/fs`.
 *
 * @module
 */

export * from "../mesh/fs/mod.ts";
