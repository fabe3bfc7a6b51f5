/**
 * The minimal request interface every pipeline stage reads. The HTTP engine adapts its parsed
 * request to it; tests build one from a plain object with {@linkcode requestView}.
 *
 * @module
 */

/** What the pipeline stages read of a request (as received: before any mutation). */
export interface RequestView {
  /** Method, case as received (`GET`). */
  readonly method: string;
  /** Path without the query string (`/api/v1`). */
  readonly path: string;
  /** Raw query string without the `?` (`a=1&b`); empty when none. */
  readonly query: string;
  /** Raw `Host` / `:authority`, including any `:port`. */
  readonly authority: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** Destination (listener) port; 80 when the request names none. */
  readonly port: number;
  /** A header's value by lower-case name; several values joined with `,`; undefined if absent. */
  header(name: string): string | undefined;
}

/** A request as a plain object, for tests and tools. */
export interface PlainRequest {
  /** Default `GET`. */
  method?: string;
  /** Path, optionally with `?query`; default `/`. */
  path?: string;
  /** Raw query; overrides a query inside `path`. */
  query?: string;
  /** Default: the `host` header, else `localhost`. */
  authority?: string;
  /** Default `http`. */
  scheme?: string;
  /** Default: the port in `authority`, else 80 (443 for https). */
  port?: number;
  /** Headers; names are case-insensitive; arrays and repeated pairs are joined with `,`. */
  headers?: Record<string, string | string[]> | readonly (readonly [string, string])[];
}

/** Splits a request target into path and raw query (without the `?`). */
export function splitPathQuery(target: string): { path: string; query: string } {
  const q = target.indexOf("?");
  return q < 0 ? { path: target, query: "" } : {
    path: target.slice(0, q),
    query: target.slice(q + 1),
  };
}

/**
 * The host part of an authority (port removed, IPv6 brackets kept), not lower-cased. Returns the
 * input itself when it has no port, so the common case allocates nothing.
 */
export function authorityHost(authority: string): string {
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(":");
  if (colon < 0 || authority.indexOf(":") !== colon) return authority;
  return authority.slice(0, colon);
}

/** The port in an authority, or undefined when it names none (or an invalid one). */
export function authorityPort(authority: string): number | undefined {
  const host = authorityHost(authority);
  if (host.length === authority.length || authority.charCodeAt(host.length) !== 58) {
    return undefined;
  }
  const text = authority.slice(host.length + 1);
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port > 0 && port < 65536 ? port : undefined;
}

/**
 * The first value of query parameter `name` in a raw query (not percent-decoded, as Envoy's
 * route matcher), `""` for a bare `name` or `name=`, undefined when absent.
 */
export function queryParam(query: string, name: string): string | undefined {
  const n = name.length;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf("&", start);
    if (end < 0) end = query.length;
    if (query.startsWith(name, start)) {
      const after = start + n;
      if (after === end) return "";
      if (query.charCodeAt(after) === 61 /* = */) return query.slice(after + 1, end);
    }
    start = end + 1;
  }
  return undefined;
}

/** Builds a {@linkcode RequestView} from a plain object. */
export function requestView(init: PlainRequest = {}): RequestView {
  const headers = new Map<string, string>();
  const pairs: (readonly [string, string])[] = Array.isArray(init.headers)
    ? init.headers as (readonly [string, string])[]
    : Object.entries(init.headers ?? {}).flatMap(([k, v]) =>
      Array.isArray(v) ? v.map((x) => [k, x] as const) : [[k, v] as const]
    );
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const prior = headers.get(key);
    headers.set(key, prior === undefined ? value : `${prior},${value}`);
  }
  const split = splitPathQuery(init.path ?? "/");
  const scheme = init.scheme ?? "http";
  const authority = init.authority ?? headers.get("host") ?? "localhost";
  return {
    method: init.method ?? "GET",
    path: split.path,
    query: init.query ?? split.query,
    authority,
    scheme,
    port: init.port ?? authorityPort(authority) ?? (scheme === "https" ? 443 : 80),
    header: (name) => headers.get(name),
  };
}
