/**
 * CORS (SEMANTICS §2.10): preflight detection and the proxy's own answer for allowed origins,
 * the response headers for actual cross-origin requests, and `unmatchedPreflights`.
 *
 * @module
 */

import type { CorsPolicy } from "../config/mod.ts";
import { compileStringMatch, type StringMatcher, testString } from "./match.ts";
import type { RequestView } from "./request_view.ts";

/** A compiled CORS policy. */
export interface CompiledCors {
  /** Origin matchers; an entry matching `*` allows every origin. */
  readonly origins: readonly StringMatcher[];
  /** Every origin is allowed. */
  readonly anyOrigin: boolean;
  /** `access-control-allow-methods` value, or undefined. */
  readonly allowMethods?: string;
  /** `access-control-allow-headers` value, or undefined. */
  readonly allowHeaders?: string;
  /** `access-control-expose-headers` value, or undefined. */
  readonly exposeHeaders?: string;
  /** `access-control-max-age` value in whole seconds, or undefined. */
  readonly maxAge?: string;
  /** Whether to send `access-control-allow-credentials: true`. */
  readonly allowCredentials: boolean;
  /** Whether preflights from origins that do not match go upstream. */
  readonly forwardUnmatched: boolean;
}

/** Compiles a CORS policy; throws when an origin regex cannot be translated. */
export function compileCors(policy: CorsPolicy): CompiledCors {
  const origins = policy.allowOrigins.map((o) => compileStringMatch(o));
  const join = (list: string[]) => (list.length > 0 ? list.join(",") : undefined);
  return {
    origins,
    anyOrigin: origins.some((m) => testString(m, "*")),
    allowMethods: join(policy.allowMethods),
    allowHeaders: join(policy.allowHeaders),
    exposeHeaders: join(policy.exposeHeaders),
    maxAge: policy.maxAge === undefined ? undefined : String(Math.floor(policy.maxAge / 1000)),
    allowCredentials: policy.allowCredentials === true,
    forwardUnmatched: policy.unmatchedPreflights !== "IGNORE",
  };
}

/** Whether `origin` is allowed by the policy. */
export function originAllowed(cors: CompiledCors, origin: string): boolean {
  if (cors.anyOrigin) return true;
  for (const m of cors.origins) if (testString(m, origin)) return true;
  return false;
}

/** Whether the request is a CORS preflight (`OPTIONS` + `Origin` + `Access-Control-Request-Method`). */
export function isPreflight(view: RequestView): boolean {
  return view.method === "OPTIONS" && view.header("origin") !== undefined &&
    view.header("access-control-request-method") !== undefined;
}

/** What to do with a request under a CORS policy. */
export type CorsDecision =
  | {
    /** Not a preflight (or a preflight the policy forwards): continue routing. */
    readonly kind: "continue";
  }
  | {
    /** Answer locally with 200 and these headers (empty for an ignored unmatched preflight). */
    readonly kind: "respond";
    readonly status: 200;
    readonly headers: readonly (readonly [string, string])[];
  };

const CONTINUE: CorsDecision = Object.freeze({ kind: "continue" });
const IGNORED: CorsDecision = Object.freeze({ kind: "respond", status: 200, headers: [] });

/**
 * Decides a request's CORS preflight: an allowed preflight is answered by the proxy with the CORS
 * headers; an unmatched one goes upstream (`FORWARD`, default) or gets an empty 200 (`IGNORE`).
 */
export function corsPreflight(cors: CompiledCors, view: RequestView): CorsDecision {
  if (!isPreflight(view)) return CONTINUE;
  const origin = view.header("origin")!;
  if (!originAllowed(cors, origin)) return cors.forwardUnmatched ? CONTINUE : IGNORED;
  const headers: [string, string][] = [["access-control-allow-origin", origin]];
  if (cors.allowCredentials) headers.push(["access-control-allow-credentials", "true"]);
  if (cors.allowMethods) headers.push(["access-control-allow-methods", cors.allowMethods]);
  if (cors.allowHeaders) headers.push(["access-control-allow-headers", cors.allowHeaders]);
  if (cors.maxAge !== undefined) headers.push(["access-control-max-age", cors.maxAge]);
  return { kind: "respond", status: 200, headers };
}

const NONE: readonly (readonly [string, string])[] = Object.freeze([]);

/**
 * Response headers for an actual (non-preflight) request from an allowed origin; empty when the
 * request has no `Origin` or the origin is not allowed.
 */
export function corsResponseHeaders(
  cors: CompiledCors,
  view: RequestView,
): readonly (readonly [string, string])[] {
  const origin = view.header("origin");
  if (origin === undefined || !originAllowed(cors, origin)) return NONE;
  const headers: [string, string][] = [["access-control-allow-origin", origin]];
  if (cors.allowCredentials) headers.push(["access-control-allow-credentials", "true"]);
  if (cors.exposeHeaders) headers.push(["access-control-expose-headers", cors.exposeHeaders]);
  return headers;
}
