/**
 * The service registry: registered instances with heartbeats and TTL,
 * ServiceEntry/WorkloadEntry instances derived from the store, and DNS
 * resolution for `resolution: DNS` entries.
 *
 * @module
 */

export * from "./derived.ts";
export * from "./dns.ts";
export * from "./registry.ts";
