/**
 * Path and authority rewrite (SEMANTICS §2.6): `uri` replaces the matched prefix (the whole path
 * for exact and regex matches; a block without a uri match has an implicit `/` prefix, so `/a` +
 * `/v2` → `/v2a`), `uriRegexRewrite` substitutes every match (RE2 `\1` back-references), and
 * `authority` replaces the Host. The query string is kept; the original path is reported for
 * `x-envoy-original-path`.
 *
 * @module
 */

import type { HTTPRewrite } from "../config/mod.ts";
import type { UriMatchInfo } from "./match.ts";
import { compileGlobal, translateReplacement } from "./regex.ts";
import type { RequestView } from "./request_view.ts";

/** A compiled rewrite. */
export interface CompiledRewrite {
  /** Replacement for the matched prefix (or whole path), when set. */
  readonly uri?: string;
  /** Global regex and JS replacement string, when `uriRegexRewrite` is set. */
  readonly regex?: { readonly re: RegExp; readonly replacement: string };
  /** Replacement authority, when set. */
  readonly authority?: string;
  /** How the route matched the URI. */
  readonly uriMatch: UriMatchInfo;
}

/** Compiles a rewrite for a route matched as `uriMatch`; throws on an untranslatable regex. */
export function compileRewrite(
  rewrite: HTTPRewrite,
  uriMatch: UriMatchInfo,
  options: { authority?: string } = {},
): CompiledRewrite | undefined {
  const authority = rewrite.authority || options.authority;
  const regex = rewrite.uriRegexRewrite
    ? {
      re: compileGlobal(rewrite.uriRegexRewrite.match),
      replacement: translateReplacement(rewrite.uriRegexRewrite.rewrite),
    }
    : undefined;
  const uri = rewrite.uri || undefined;
  if (uri === undefined && regex === undefined && !authority) return undefined;
  return { uri, regex, authority: authority || undefined, uriMatch };
}

/** What the rewrite produced for one request. */
export interface RewriteResult {
  /** New path including `?query` when the request had one; undefined = path unchanged. */
  readonly pathAndQuery?: string;
  /** New authority; undefined = unchanged. */
  readonly authority?: string;
  /** The original path and query, for `x-envoy-original-path` (set when the path changed). */
  readonly originalPath?: string;
}

const UNCHANGED: RewriteResult = Object.freeze({});

/** The rewritten path (no query) for `view` under `rewrite`; the input path when no uri part. */
export function rewritePath(rewrite: CompiledRewrite, path: string): string {
  if (rewrite.regex) {
    rewrite.regex.re.lastIndex = 0;
    return path.replace(rewrite.regex.re, rewrite.regex.replacement);
  }
  if (rewrite.uri === undefined) return path;
  const m = rewrite.uriMatch;
  if (m.kind !== "prefix") return rewrite.uri;
  // With ignoreUriCase the matched prefix has the configured length whatever its case.
  return rewrite.uri + path.slice(Math.min(m.value.length, path.length));
}

/** Applies a route's rewrite to a request; returns an empty result when nothing changes. */
export function applyRewrite(
  rewrite: CompiledRewrite | undefined,
  view: RequestView,
): RewriteResult {
  if (rewrite === undefined) return UNCHANGED;
  const original = view.query ? `${view.path}?${view.query}` : view.path;
  if (rewrite.uri === undefined && rewrite.regex === undefined) {
    return { authority: rewrite.authority };
  }
  const path = rewritePath(rewrite, view.path);
  return {
    pathAndQuery: view.query ? `${path}?${view.query}` : path,
    authority: rewrite.authority,
    originalPath: original,
  };
}
