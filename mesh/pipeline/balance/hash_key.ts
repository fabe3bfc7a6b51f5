/**
 * Derives the consistent-hash key of a request (Istio `consistentHash`: header, cookie, source
 * IP or query parameter). Pure: the caller supplies a minimal view of the request.
 *
 * @module
 */

import { hashHex, hashString } from "./hash.ts";

/** Where the key comes from; exactly one field is expected (as Istio's `hash_key` oneof). */
export interface HashKeySource {
  /** Request header whose value is the key. */
  httpHeaderName?: string;
  /** Cookie whose value is the key; generated when absent and `ttl` is set. */
  httpCookie?: {
    /** Cookie name. */
    name: string;
    /** Path attribute of a generated cookie. */
    path?: string;
    /** Lifetime in ms of a generated cookie; 0 = session cookie; unset = never generate. */
    ttl?: number;
  };
  /** Hash the connection's source IP. */
  useSourceIp?: boolean;
  /** Query parameter whose (first) value is the key. */
  httpQueryParameterName?: string;
}

/** The little of a request the key derivation needs. */
export interface HashRequestView {
  /** Header value by lower-case name; null/undefined when absent. */
  header(name: string): string | null | undefined;
  /** Query parameter's first value; null/undefined when absent. */
  query(name: string): string | null | undefined;
  /** Downstream connection's source IP. */
  sourceIp: string;
  /** Downstream source port, so concurrent connections get distinct generated cookies. */
  sourcePort?: number;
  /** Local (listener) address, also mixed into a generated cookie. */
  localAddress?: string;
}

/** A cookie the proxy must add to the response (`Set-Cookie`). */
export interface CookieToSet {
  /** Cookie name. */
  name: string;
  /** Generated value; the request is hashed as if it had carried it. */
  value: string;
  /** Path attribute; omitted when undefined. */
  path?: string;
  /** Lifetime in ms; 0 = session cookie. */
  ttl: number;
}

/** Result of {@linkcode hashKey}. */
export interface HashKey {
  /** Hash for {@linkcode PickContext.hash}; undefined when the request has no key (random host). */
  hash: number | undefined;
  /** Cookie to set on the response, when one was generated. */
  setCookie?: CookieToSet;
}

const NO_KEY: HashKey = Object.freeze({ hash: undefined });

/** Computes the request's hash key according to `source`. */
export function hashKey(source: HashKeySource, request: HashRequestView): HashKey {
  if (source.httpHeaderName !== undefined) {
    return keyed(request.header(source.httpHeaderName.toLowerCase()));
  }
  if (source.httpCookie !== undefined) {
    const { name, path, ttl } = source.httpCookie;
    const value = readCookie(request.header("cookie"), name);
    if (value !== undefined) return { hash: hashString(value) };
    if (ttl === undefined) return NO_KEY;
    // As Envoy: the value depends only on the connection, so racing requests on one connection
    // get the same cookie.
    const generated = hashHex(
      hashString(`${request.sourceIp}:${request.sourcePort ?? ""}|${request.localAddress ?? ""}`),
    );
    return { hash: hashString(generated), setCookie: { name, value: generated, path, ttl } };
  }
  if (source.useSourceIp) return keyed(request.sourceIp);
  if (source.httpQueryParameterName !== undefined) {
    return keyed(request.query(source.httpQueryParameterName));
  }
  return NO_KEY;
}

function keyed(value: string | null | undefined): HashKey {
  return value === null || value === undefined || value === ""
    ? NO_KEY
    : { hash: hashString(value) };
}

/** Finds cookie `name` in a `Cookie` header value; undefined when absent. */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    return value;
  }
  return undefined;
}

/** Formats a generated cookie as a `Set-Cookie` value, as Envoy does (quoted, HttpOnly). */
export function formatSetCookie(cookie: CookieToSet): string {
  let text = `${cookie.name}="${cookie.value}"`;
  if (cookie.ttl > 0) text += `; Max-Age=${Math.floor(cookie.ttl / 1000)}`;
  if (cookie.path !== undefined && cookie.path !== "") text += `; Path=${cookie.path}`;
  return text + "; HttpOnly";
}
