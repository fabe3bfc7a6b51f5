/**
 * The canonical service model shared by the control plane and the proxies:
 * proxy identities, service instances, the per-proxy snapshot and its pure
 * builder, and the registry/discovery wire types.
 *
 * @module
 */

export * from "./api.ts";
export * from "./build_snapshot.ts";
export * from "./derive_instances.ts";
export * from "./hash.ts";
export * from "./snapshot.ts";
