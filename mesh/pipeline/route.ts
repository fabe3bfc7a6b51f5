/**
 * Route selection (SEMANTICS §2.3): the virtual host for the request's authority, then the first
 * route whose match block the request satisfies. Results are preallocated at compile time, so a
 * selection allocates nothing.
 *
 * - `route`: a route matched;
 * - `no-route`: the host has routes but none matched (404 NR), or a gateway has no virtual host
 *   for it (404 NR, SEMANTICS §5);
 * - `unknown-host`: a sidecar knows nothing of the host; the caller applies the outbound traffic
 *   policy (ALLOW_ANY passthrough, REGISTRY_ONLY 502).
 *
 * @module
 */

import type { CompiledConfig, RouteMatch } from "./compile.ts";
import type { RequestView } from "./request_view.ts";

/** The host has routes but nothing matched. */
export interface NoRoute {
  /** Discriminant. */
  readonly kind: "no-route";
}

/** No virtual host for the authority (sidecars only). */
export interface UnknownHost {
  /** Discriminant. */
  readonly kind: "unknown-host";
}

/** Outcome of {@linkcode selectRoute}. */
export type RouteSelection = RouteMatch | NoRoute | UnknownHost;

/** The shared no-route result. */
export const NO_ROUTE: NoRoute = Object.freeze({ kind: "no-route" });
/** The shared unknown-host result. */
export const UNKNOWN_HOST: UnknownHost = Object.freeze({ kind: "unknown-host" });

/** Options of {@linkcode selectRoute}. */
export interface SelectOptions {
  /** Gateway `ns/name` whose table to use; omitted = the sidecar (`mesh`) table. */
  gateway?: string;
}

/** Selects the route for a request. */
export function selectRoute(
  config: CompiledConfig,
  view: RequestView,
  options?: SelectOptions,
): RouteSelection {
  const gateway = options?.gateway;
  const table = config.routeTableFor(gateway);
  const vhost = table?.lookup(view.authority);
  if (vhost === undefined) {
    return gateway === undefined || gateway === "mesh" ? UNKNOWN_HOST : NO_ROUTE;
  }
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    if (routes[i].matcher.matches(view)) return vhost.results[i];
  }
  return NO_ROUTE;
}
