/**
 * Response flags (Envoy's `%RESPONSE_FLAGS%`) and the local replies the proxy produces, in one
 * place every stage uses (SEMANTICS §10). Flags are bits so a request accumulates them without
 * allocating; {@linkcode formatFlags} renders them in Envoy's order (`UF,URX`, `-` when none).
 *
 * @module
 */

/** Flag bits, in the order Envoy prints them. */
export const Flag = {
  /** Local service failed health check. */
  LH: 1 << 0,
  /** No healthy upstream host. */
  UH: 1 << 1,
  /** Upstream request timeout. */
  UT: 1 << 2,
  /** Local reset. */
  LR: 1 << 3,
  /** Upstream remote reset. */
  UR: 1 << 4,
  /** Upstream connection failure. */
  UF: 1 << 5,
  /** Upstream connection termination. */
  UC: 1 << 6,
  /** Upstream overflow (circuit breaker). */
  UO: 1 << 7,
  /** No route configured. */
  NR: 1 << 8,
  /** Fault delay injected. */
  DI: 1 << 9,
  /** Fault abort injected. */
  FI: 1 << 10,
  /** Local rate limit. */
  RL: 1 << 11,
  /** Denied by external authorization. */
  UAEX: 1 << 12,
  /** Downstream closed the connection. */
  DC: 1 << 13,
  /** Retry limit exhausted. */
  URX: 1 << 14,
  /** Stream idle timeout. */
  SI: 1 << 15,
  /** Invalid `x-envoy-*` header. */
  IH: 1 << 16,
  /** Downstream protocol error. */
  DPE: 1 << 17,
  /** Upstream protocol error. */
  UPE: 1 << 18,
  /** Upstream cluster not found. */
  NC: 1 << 19,
} as const;

/** A flag's name. */
export type FlagName = keyof typeof Flag;

const ORDER = Object.keys(Flag) as FlagName[];
const CACHE = new Map<number, string>();

/** Renders a flag set as Envoy does: names joined with `,` in Envoy's order, `-` when empty. */
export function formatFlags(flags: number): string {
  if (flags === 0) return "-";
  let text = CACHE.get(flags);
  if (text !== undefined) return text;
  const names: string[] = [];
  for (const name of ORDER) if (flags & Flag[name]) names.push(name);
  text = names.join(",");
  if (CACHE.size < 1024) CACHE.set(flags, text);
  return text;
}

/** Parses `UF,URX` (or `-`) back into bits; unknown names are ignored. */
export function parseFlags(text: string): number {
  let bits = 0;
  for (const name of text.split(",")) bits |= Flag[name.trim() as FlagName] ?? 0;
  return bits;
}

/** A response the proxy produces itself. */
export interface LocalReply {
  /** HTTP status. */
  readonly status: number;
  /** Plain-text body; empty for none. */
  readonly body: string;
  /** The flag it carries (0 for none). */
  readonly flag: number;
  /** Extra response headers, `[name, value]` with lower-case names. */
  readonly headers: readonly (readonly [string, string])[];
}

function reply(
  status: number,
  body: string,
  flag: number,
  headers: readonly (readonly [string, string])[] = [],
): LocalReply {
  return Object.freeze({ status, body, flag, headers: Object.freeze(headers) });
}

const RESET = "upstream connect error or disconnect/reset before headers. reset reason: ";

/** Envoy's local replies for each situation, with status, body and flag. */
export const LocalReplies = Object.freeze({
  /** Host has a route table but nothing matched (also a gateway with no virtual host). */
  noRoute: reply(404, "", Flag.NR),
  /** Unknown destination host or undefined subset. */
  clusterNotFound: reply(503, "", Flag.NC),
  /** No usable endpoint. */
  noHealthyUpstream: reply(503, "no healthy upstream", Flag.UH),
  /** Route (or last per-try) timeout. */
  upstreamTimeout: reply(504, "upstream request timeout", Flag.UT),
  /** Connection-pool circuit breaker. */
  overflow: reply(503, `${RESET}overflow`, Flag.UO, [["x-envoy-overloaded", "true"]]),
  /** Connect failure. */
  connectFailure: reply(503, `${RESET}connection failure`, Flag.UF),
  /** Upstream closed the connection before the response. */
  connectionTermination: reply(503, `${RESET}connection termination`, Flag.UC),
  /** Upstream reset the stream. */
  remoteReset: reply(503, `${RESET}remote reset`, Flag.UR),
  /** The proxy reset the stream. */
  localReset: reply(503, `${RESET}local reset`, Flag.LR),
  /** Upstream spoke broken HTTP. */
  upstreamProtocolError: reply(502, "upstream protocol error", Flag.UPE),
  /** Unknown host under REGISTRY_ONLY (Istio's `block_all` route; no flag). */
  registryOnly: reply(502, "", 0),
  /** AuthorizationPolicy denial (no flag). */
  rbacDenied: reply(403, "RBAC: access denied", 0),
  /** Local rate limit. */
  rateLimited: reply(429, "local_rate_limited", Flag.RL),
});

/** Body of a fault-injected abort. */
export const FAULT_ABORT_BODY = "fault filter abort";

/** Response header that marks a circuit-breaker overflow. */
export const OVERLOADED_HEADER = "x-envoy-overloaded";
