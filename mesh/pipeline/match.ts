/**
 * HTTP match blocks compiled once into predicates (SEMANTICS §2.2): exact/prefix/regex string
 * matchers (regex = RE2 full match, translated to a native RegExp at compile time; `{}` and
 * `regex: "*"` mean "present"), `ignoreUriCase`, headers, `withoutHeaders` (a missing header is
 * the empty string), query parameters and the destination port. Testing a request allocates
 * nothing.
 *
 * @module
 */

import type { HTTPMatchRequest, StringMatch } from "../config/mod.ts";
import { compileFullMatch } from "./regex.ts";
import { queryParam, type RequestView } from "./request_view.ts";

/** Kinds of compiled string matchers. */
export const MatchKind = { PRESENT: 0, EXACT: 1, PREFIX: 2, REGEX: 3 } as const;

/** A compiled StringMatch. */
export interface StringMatcher {
  /** One of {@linkcode MatchKind}. */
  readonly kind: number;
  /** The exact or prefix text (lower-cased when `ignoreCase`); the pattern for regexes. */
  readonly value: string;
  /** The translated regex, for REGEX. */
  readonly re?: RegExp;
  /** ASCII case-insensitive exact/prefix (`ignoreUriCase`). */
  readonly ignoreCase: boolean;
}

/** Compiles a StringMatch; throws when a regex cannot be translated. */
export function compileStringMatch(
  match: StringMatch,
  options: { ignoreCase?: boolean } = {},
): StringMatcher {
  const ignoreCase = options.ignoreCase === true;
  if (match.exact !== undefined) {
    return {
      kind: MatchKind.EXACT,
      value: ignoreCase ? match.exact.toLowerCase() : match.exact,
      ignoreCase,
    };
  }
  if (match.prefix !== undefined) {
    return {
      kind: MatchKind.PREFIX,
      value: ignoreCase ? match.prefix.toLowerCase() : match.prefix,
      ignoreCase,
    };
  }
  if (match.regex !== undefined && match.regex !== "*") {
    return {
      kind: MatchKind.REGEX,
      value: match.regex,
      re: compileFullMatch(match.regex),
      ignoreCase: false,
    };
  }
  return { kind: MatchKind.PRESENT, value: "", ignoreCase: false };
}

function lowerCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** `value` starts with `prefix` (already lower-case), comparing ASCII letters case-insensitively. */
function startsWithFolded(value: string, prefix: string): boolean {
  if (value.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (lowerCode(value.charCodeAt(i)) !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether `value` (undefined = absent) satisfies the matcher. */
export function testString(m: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (m.kind) {
    case MatchKind.PRESENT:
      return true;
    case MatchKind.EXACT:
      return m.ignoreCase
        ? value.length === m.value.length && startsWithFolded(value, m.value)
        : value === m.value;
    case MatchKind.PREFIX:
      return m.ignoreCase ? startsWithFolded(value, m.value) : value.startsWith(m.value);
    default:
      return m.re!.test(value);
  }
}

/** How the URI was matched, which rewrites and redirects need. */
export interface UriMatchInfo {
  /** `prefix` (also the implicit `/` when the block has no uri match), `exact` or `regex`. */
  readonly kind: "prefix" | "exact" | "regex";
  /** The prefix (or exact path / pattern). */
  readonly value: string;
}

const IMPLICIT_PREFIX: UriMatchInfo = Object.freeze({ kind: "prefix", value: "/" });

/** Header-match keys Istio ignores because they name pseudo-headers. */
const PSEUDO_KEYS = new Set(["uri", "scheme", "method", "authority"]);

/** A compiled match block: every present condition must hold. */
export class RequestMatcher {
  /** Compiled `uri`. */
  readonly uri?: StringMatcher;
  /** Compiled `method`. */
  readonly method?: StringMatcher;
  /** Compiled `scheme`. */
  readonly scheme?: StringMatcher;
  /** Compiled `authority` (raw, port included). */
  readonly authority?: StringMatcher;
  /** Destination port, when the block names one. */
  readonly port?: number;
  /** Header conditions (lower-case names). */
  readonly headers: readonly (readonly [string, StringMatcher])[];
  /** Inverted header conditions. */
  readonly withoutHeaders: readonly (readonly [string, StringMatcher])[];
  /** Query parameter conditions. */
  readonly queryParams: readonly (readonly [string, StringMatcher])[];
  /** How the URI is matched (implicit `prefix: /` when no uri condition). */
  readonly uriInfo: UriMatchInfo;
  /** Matches every request (no condition, or only `prefix: /`). */
  readonly catchAll: boolean;
  /** The block uses a condition this data plane cannot evaluate (JWT claims): never matches. */
  readonly never: boolean;

  /** Compiles a block; an undefined block matches everything. Throws on a bad regex. */
  constructor(block?: HTTPMatchRequest) {
    const ignoreCase = block?.ignoreUriCase === true;
    if (block?.uri) this.uri = compileStringMatch(block.uri, { ignoreCase });
    if (block?.method) this.method = compileStringMatch(block.method);
    if (block?.scheme) this.scheme = compileStringMatch(block.scheme);
    if (block?.authority) this.authority = compileStringMatch(block.authority);
    if (block?.port !== undefined && block.port > 0) this.port = block.port;
    let never = false;
    const headers: [string, StringMatcher][] = [];
    for (const [name, m] of Object.entries(block?.headers ?? {})) {
      const key = name.toLowerCase();
      if (PSEUDO_KEYS.has(key)) continue;
      if (key.startsWith("@request.auth.claims")) never = true;
      headers.push([key, compileStringMatch(m)]);
    }
    const without: [string, StringMatcher][] = [];
    for (const [name, m] of Object.entries(block?.withoutHeaders ?? {})) {
      const key = name.toLowerCase();
      if (PSEUDO_KEYS.has(key)) continue;
      if (key.startsWith("@request.auth.claims")) never = true;
      without.push([key, compileStringMatch(m)]);
    }
    const query: [string, StringMatcher][] = [];
    for (const [name, m] of Object.entries(block?.queryParams ?? {})) {
      query.push([name, compileStringMatch(m)]);
    }
    this.headers = headers;
    this.withoutHeaders = without;
    this.queryParams = query;
    this.never = never;
    const u = block?.uri;
    this.uriInfo = u === undefined || this.uri?.kind === MatchKind.PRESENT
      ? IMPLICIT_PREFIX
      : u.exact !== undefined
      ? { kind: "exact", value: u.exact }
      : u.prefix !== undefined
      ? { kind: "prefix", value: u.prefix }
      : { kind: "regex", value: u.regex ?? "" };
    const uriIsAll = this.uri === undefined || this.uri.kind === MatchKind.PRESENT ||
      (this.uri.kind === MatchKind.PREFIX && this.uri.value === "/");
    this.catchAll = !never && uriIsAll && !this.method && !this.scheme && !this.authority &&
      this.port === undefined && headers.length === 0 && without.length === 0 &&
      query.length === 0;
  }

  /** Whether the request satisfies every condition. */
  matches(view: RequestView): boolean {
    if (this.catchAll) return true;
    if (this.never) return false;
    if (this.port !== undefined && view.port !== this.port) return false;
    if (this.method && !testString(this.method, view.method)) return false;
    if (this.uri && !testString(this.uri, view.path)) return false;
    if (this.scheme && !testString(this.scheme, view.scheme)) return false;
    if (this.authority && !testString(this.authority, view.authority)) return false;
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      if (!testString(headers[i][1], view.header(headers[i][0]))) return false;
    }
    const without = this.withoutHeaders;
    for (let i = 0; i < without.length; i++) {
      const m = without[i][1];
      const value = view.header(without[i][0]);
      // Istio treats a missing header as empty for inverted matches; `{}` tests presence.
      const hit = m.kind === MatchKind.PRESENT ? value !== undefined : testString(m, value ?? "");
      if (hit) return false;
    }
    const query = this.queryParams;
    for (let i = 0; i < query.length; i++) {
      if (!testString(query[i][1], queryParam(view.query, query[i][0]))) return false;
    }
    return true;
  }

  /** A readable summary for `/config_dump`. */
  describe(): Record<string, unknown> {
    const show = (m: StringMatcher | undefined) =>
      m === undefined ? undefined : m.kind === MatchKind.PRESENT ? { present: true } : {
        [["", "exact", "prefix", "regex"][m.kind]]: m.value,
        ...(m.ignoreCase ? { ignoreCase: true } : {}),
      };
    const list = (l: readonly (readonly [string, StringMatcher])[]) =>
      l.length ? Object.fromEntries(l.map(([k, m]) => [k, show(m)])) : undefined;
    const out: Record<string, unknown> = {
      uri: show(this.uri),
      method: show(this.method),
      scheme: show(this.scheme),
      authority: show(this.authority),
      port: this.port,
      headers: list(this.headers),
      withoutHeaders: list(this.withoutHeaders),
      queryParams: list(this.queryParams),
    };
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  }
}
