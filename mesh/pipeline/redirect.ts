/**
 * Redirects (SEMANTICS §2.7): the `Location` and status for a redirect route. `uri` replaces the
 * path, `prefixRewrite` the matched prefix; `authority` the host; `scheme` the scheme; the port is
 * explicit (`port`), derived (`derivePort`), or kept from the request's authority. `:80` with
 * http and `:443` with https are never written. The query string is kept.
 *
 * @module
 */

import type { HTTPRedirect } from "../config/mod.ts";
import type { UriMatchInfo } from "./match.ts";
import { authorityHost, authorityPort, type RequestView } from "./request_view.ts";

/** A redirect as compiled into a route (`prefixRewrite` carried when configured). */
export interface CompiledRedirect extends HTTPRedirect {
  /** Replacement for the matched prefix. */
  prefixRewrite?: string;
  /** How the route matched the URI. */
  uriMatch: UriMatchInfo;
}

/** A redirect answer. */
export interface RedirectResult {
  /** 301, 302, 303, 307 or 308. */
  readonly status: number;
  /** Absolute `Location`. */
  readonly location: string;
}

function defaultPort(scheme: string): number {
  return scheme === "https" ? 443 : 80;
}

/** Computes the redirect answer for `view`. */
export function redirectLocation(redirect: CompiledRedirect, view: RequestView): RedirectResult {
  const scheme = redirect.scheme || view.scheme || "http";
  let host: string;
  let port: number | undefined;
  if (redirect.authority) {
    host = authorityHost(redirect.authority);
    port = authorityPort(redirect.authority);
  } else {
    host = authorityHost(view.authority);
    port = authorityPort(view.authority);
  }
  if (redirect.port !== undefined && redirect.port > 0) port = redirect.port;
  else if (redirect.derivePort === "FROM_REQUEST_PORT") port = view.port;
  else if (redirect.derivePort === "FROM_PROTOCOL_DEFAULT") port = defaultPort(scheme);
  const authority = port === undefined || port === defaultPort(scheme) ? host : `${host}:${port}`;
  let path = view.path;
  if (redirect.uri) {
    path = redirect.uri;
  } else if (redirect.prefixRewrite !== undefined && redirect.uriMatch.kind === "prefix") {
    path = redirect.prefixRewrite +
      view.path.slice(Math.min(redirect.uriMatch.value.length, view.path.length));
  }
  const query = view.query && !path.includes("?") ? `?${view.query}` : "";
  return {
    status: redirect.redirectCode || 301,
    location: `${scheme}://${authority}${path}${query}`,
  };
}
