/**
 * The canonical service model shared by the control plane and the proxies:
 * proxy identities, service instances and the per-proxy snapshot.
 *
 * @module
 */

export * from "./snapshot.ts";
