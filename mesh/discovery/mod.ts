/**
 * Where a proxy's configuration comes from: the control plane's discovery
 * stream ({@link DiscoveryClient}, with the last good snapshot kept on disk)
 * or a local file ({@link StaticConfigSource}). Both deliver snapshots to one
 * `apply` callback (compile, then swap) and share {@link ConfigSource}.
 *
 * ```ts
 * const source = new DiscoveryClient({ control, identity, stateDir, apply: swap });
 * await source.start(); // applies last-snapshot.json at once when present
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./last_snapshot.ts";
export * from "./source.ts";
export * from "./sse.ts";
export * from "./static_source.ts";
