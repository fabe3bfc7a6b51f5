/**
 * File-system helpers shared by the control plane and the proxies.
 *
 * @module
 */

export * from "./persist.ts";
