/**
 * Retry policies (SEMANTICS §2.12, §9): a route's `retries` block compiled once into a bit set
 * and a status table, so deciding whether to retry an attempt is a few comparisons; plus the
 * `x-envoy-*` request override headers as a pure function.
 *
 * @module
 */

/** Istio's `HTTPRetry`, durations in ms. */
export interface RetryConfig {
  /** Number of retries (total tries ≤ 1 + attempts); 0 = no retries at all. */
  attempts: number;
  /** Per-attempt timeout in ms; 0 or unset = only the route timeout bounds attempts. */
  perTryTimeout?: number;
  /** Comma-separated Envoy tokens and HTTP status codes; unset or "" = the default tokens. */
  retryOn?: string;
  /** Whether retries may prefer other localities. */
  retryRemoteLocalities?: boolean;
  /** Whether retries pick untried hosts (default true; off for consistent hashing). */
  retryIgnorePreviousHosts?: boolean;
  /** Backoff base interval in ms (default 25). */
  backoff?: number;
}

/** Why an attempt ended, as the forwarder saw it. */
export type AttemptOutcome =
  | {
    /** A response arrived (its headers, at least). */
    kind: "response";
    /** HTTP status. */
    status: number;
    /** `grpc-status` response header value, if any. */
    grpcStatus?: string | null;
    /** Whether the response carried `x-envoy-ratelimited`. */
    rateLimited?: boolean;
  }
  | { kind: "connect-failure" }
  | {
    /** The stream was reset or the connection dropped with no response. */
    kind: "reset";
    /** True when no request bytes had been sent yet. */
    beforeRequest: boolean;
  }
  | { kind: "per-try-timeout" }
  | { kind: "refused-stream" };

/** Token bits. */
const T = {
  "5xx": 1 << 0,
  "gateway-error": 1 << 1,
  "reset": 1 << 2,
  "reset-before-request": 1 << 3,
  "connect-failure": 1 << 4,
  "refused-stream": 1 << 5,
  "retriable-4xx": 1 << 6,
  "retriable-status-codes": 1 << 7,
  "retriable-headers": 1 << 8,
  "envoy-ratelimited": 1 << 9,
  "http3-post-connect-failure": 1 << 10,
  "cancelled": 1 << 11,
  "deadline-exceeded": 1 << 12,
  "internal": 1 << 13,
  "resource-exhausted": 1 << 14,
  "unavailable": 1 << 15,
} as const;

/** Every retryOn token this data plane accepts. */
export const RETRY_ON_TOKENS: readonly string[] = Object.freeze(Object.keys(T));

const GRPC_TOKENS: Readonly<Record<string, number>> = {
  cancelled: T.cancelled,
  "deadline-exceeded": T["deadline-exceeded"],
  internal: T.internal,
  "resource-exhausted": T["resource-exhausted"],
  unavailable: T.unavailable,
};

/** The built-in policy's tokens (Istio ≥ 1.24: 503 is not retried). */
export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled";
/** The built-in policy's retry count. */
export const DEFAULT_RETRY_ATTEMPTS = 2;

const NO_RESPONSE = T["5xx"] | T["gateway-error"] | T.reset;

/** A compiled retry policy. */
export interface RetryPolicy {
  /** Retries allowed after the first try; 0 = never retry. */
  readonly numRetries: number;
  /** Per-attempt timeout in ms; 0 = none. */
  readonly perTryTimeout: number;
  /** Normalized token list (codes folded into `retriable-status-codes`). */
  readonly retryOn: string;
  /** Token bit set. */
  readonly bits: number;
  /** Retriable status codes. */
  readonly statusCodes: readonly number[];
  /** Whether retries pick untried hosts. */
  readonly retryIgnorePreviousHosts: boolean;
  /** Whether retries may prefer other localities. */
  readonly retryRemoteLocalities: boolean;
  /** Backoff base in ms. */
  readonly backoffBase: number;
  /** Whether the token set would retry this outcome (the caller checks budgets and timeouts). */
  shouldRetry(outcome: AttemptOutcome): boolean;
}

class CompiledRetryPolicy implements RetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeout: number;
  readonly retryOn: string;
  readonly bits: number;
  readonly statusCodes: readonly number[];
  readonly retryIgnorePreviousHosts: boolean;
  readonly retryRemoteLocalities: boolean;
  readonly backoffBase: number;
  readonly #codes = new Uint8Array(600);

  constructor(fields: Omit<RetryPolicy, "shouldRetry">) {
    this.numRetries = fields.numRetries;
    this.perTryTimeout = fields.perTryTimeout;
    this.retryOn = fields.retryOn;
    this.bits = fields.bits;
    this.statusCodes = fields.statusCodes;
    this.retryIgnorePreviousHosts = fields.retryIgnorePreviousHosts;
    this.retryRemoteLocalities = fields.retryRemoteLocalities;
    this.backoffBase = fields.backoffBase;
    for (const code of fields.statusCodes) this.#codes[code] = 1;
  }

  shouldRetry(outcome: AttemptOutcome): boolean {
    const bits = this.bits;
    if (this.numRetries <= 0 || bits === 0) return false;
    switch (outcome.kind) {
      case "response": {
        const s = outcome.status;
        if (bits & T["5xx"] && s >= 500 && s < 600) return true;
        if (bits & T["gateway-error"] && s >= 502 && s <= 504) return true;
        if (bits & T["retriable-4xx"] && s === 409) return true;
        if (bits & T["retriable-status-codes"] && s >= 0 && s < 600 && this.#codes[s]) return true;
        if (bits & T["envoy-ratelimited"] && outcome.rateLimited) return true;
        const g = outcome.grpcStatus;
        if (g === undefined || g === null) return false;
        return (bits & T.cancelled && g === "1") ||
            (bits & T["deadline-exceeded"] && g === "4") ||
            (bits & T["resource-exhausted"] && g === "8") ||
            (bits & T.internal && g === "13") ||
            (bits & T.unavailable && g === "14")
          ? true
          : false;
      }
      case "connect-failure":
        return (bits & (NO_RESPONSE | T["connect-failure"] | T["reset-before-request"])) !== 0;
      case "refused-stream":
        return (bits & (NO_RESPONSE | T["refused-stream"])) !== 0;
      case "reset":
        return (bits & NO_RESPONSE) !== 0 ||
          (outcome.beforeRequest && (bits & T["reset-before-request"]) !== 0);
      case "per-try-timeout":
        // Trap 4: only these tokens retry a slow attempt; the default list has none of them.
        return (bits & NO_RESPONSE) !== 0;
    }
  }
}

/** A policy that never retries (`attempts: 0`). */
export const NO_RETRY_POLICY: RetryPolicy = new CompiledRetryPolicy({
  numRetries: 0,
  perTryTimeout: 0,
  retryOn: "",
  bits: 0,
  statusCodes: [],
  retryIgnorePreviousHosts: true,
  retryRemoteLocalities: false,
  backoffBase: 25,
});

/**
 * Compiles a route's `retries` block. Undefined means the default policy (2 retries on
 * `connect-failure,refused-stream,unavailable,cancelled`); `attempts: 0` means none at all
 * (trap 6). Throws with the offending token and the accepted list on an unknown token.
 * `where` names the field for messages (e.g. `spec.http[0].retries`).
 */
export function compileRetryPolicy(
  config: RetryConfig | undefined,
  options: { where?: string } = {},
): RetryPolicy {
  const where = options.where ?? "retries";
  if (config === undefined) {
    return compileRetryPolicy({ attempts: DEFAULT_RETRY_ATTEMPTS }, options);
  }
  if (!Number.isInteger(config.attempts) || config.attempts < 0) {
    throw new Error(`${where}.attempts: ${config.attempts} is not a non-negative integer`);
  }
  if (config.attempts === 0) {
    if (config.perTryTimeout || config.retryOn) {
      throw new Error(
        `${where}: attempts is 0 (no retries) but perTryTimeout or retryOn is set; ` +
          `remove them or set attempts above 0`,
      );
    }
    return NO_RETRY_POLICY;
  }
  const perTryTimeout = config.perTryTimeout ?? 0;
  if (!(perTryTimeout >= 0)) {
    throw new Error(`${where}.perTryTimeout: ${perTryTimeout} must be at least 1ms (or unset)`);
  }
  const { bits, codes, tokens } = parseRetryOn(config.retryOn || DEFAULT_RETRY_ON, where);
  return new CompiledRetryPolicy({
    numRetries: config.attempts,
    perTryTimeout,
    retryOn: tokens.join(","),
    bits,
    statusCodes: codes,
    retryIgnorePreviousHosts: config.retryIgnorePreviousHosts ?? true,
    retryRemoteLocalities: config.retryRemoteLocalities ?? false,
    backoffBase: config.backoff && config.backoff > 0 ? config.backoff : 25,
  });
}

function parseRetryOn(
  text: string,
  where: string,
): { bits: number; codes: number[]; tokens: string[] } {
  let bits = 0;
  const codes: number[] = [];
  const tokens: string[] = [];
  for (const token of text.split(",")) {
    if (/^\d+$/.test(token)) {
      const code = Number(token);
      if (code < 100 || code > 599) {
        throw new Error(`${where}.retryOn: "${token}" is not an HTTP status code (100-599)`);
      }
      if (!codes.includes(code)) codes.push(code);
      continue;
    }
    const bit = (T as Record<string, number>)[token];
    if (bit === undefined) {
      const hint = token.trim() !== token
        ? "; remove the spaces around commas"
        : `; use one of ${RETRY_ON_TOKENS.join(", ")} or an HTTP status code`;
      throw new Error(`${where}.retryOn: unknown retry condition "${token}"${hint}`);
    }
    if (!(bits & bit)) tokens.push(token);
    bits |= bit;
  }
  if (codes.length > 0 && !(bits & T["retriable-status-codes"])) {
    bits |= T["retriable-status-codes"];
    tokens.push("retriable-status-codes");
  }
  return { bits, codes, tokens };
}

/** The effective limits of one request after override headers. */
export interface EffectiveRetry {
  /** The retry policy to use (the route's when no header changed it). */
  policy: RetryPolicy;
  /** Route (global) timeout in ms; 0 = none. */
  timeout: number;
  /** Per-attempt timeout in ms; 0 = none. */
  perTryTimeout: number;
}

/** Override headers this module reads; the forwarder removes them before sending upstream. */
export const RETRY_OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  "x-envoy-max-retries",
  "x-envoy-retry-on",
  "x-envoy-retry-grpc-on",
  "x-envoy-retriable-status-codes",
  "x-envoy-upstream-rq-timeout-ms",
  "x-envoy-upstream-rq-per-try-timeout-ms",
]);

function parseMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/**
 * Applies the `x-envoy-*` request override headers (SEMANTICS §9) to a route's policy and
 * timeout. Call it only for internal callers; unknown tokens and malformed numbers in headers are
 * ignored, as Envoy does.
 */
export function applyOverrides(
  policy: RetryPolicy,
  routeTimeoutMs: number,
  header: (name: string) => string | null | undefined,
): EffectiveRetry {
  const timeout = parseMs(header("x-envoy-upstream-rq-timeout-ms")) ?? routeTimeoutMs;
  let perTryTimeout = policy.perTryTimeout;
  const perTry = parseMs(header("x-envoy-upstream-rq-per-try-timeout-ms"));
  if (perTry !== undefined && (timeout === 0 || perTry < timeout)) perTryTimeout = perTry;

  const retryOn = header("x-envoy-retry-on");
  const grpcOn = header("x-envoy-retry-grpc-on");
  const maxRetries = parseMs(header("x-envoy-max-retries"));
  const extraCodes = header("x-envoy-retriable-status-codes");
  let bits = policy.bits;
  for (const token of (retryOn ?? "").split(",")) {
    const bit = (T as Record<string, number>)[token.trim()];
    if (bit !== undefined && !GRPC_TOKENS[token.trim()]) bits |= bit;
  }
  for (const token of (grpcOn ?? "").split(",")) bits |= GRPC_TOKENS[token.trim()] ?? 0;
  const codes = [...policy.statusCodes];
  for (const token of (extraCodes ?? "").split(",")) {
    const code = parseMs(token);
    if (code !== undefined && code >= 100 && code <= 599 && !codes.includes(code)) {
      codes.push(code);
    }
  }
  // With no route policy, a retry-on header alone turns retries on (one by default).
  const headerEnabled = bits !== policy.bits;
  let numRetries = policy.numRetries;
  if (policy.numRetries === 0 && policy.bits === 0) {
    numRetries = headerEnabled ? maxRetries ?? 1 : 0;
  } else if (maxRetries !== undefined) {
    numRetries = maxRetries;
  }
  if (
    bits === policy.bits && numRetries === policy.numRetries &&
    codes.length === policy.statusCodes.length && perTryTimeout === policy.perTryTimeout
  ) {
    return { policy, timeout, perTryTimeout };
  }
  const tokens = RETRY_ON_TOKENS.filter((t) => bits & (T as Record<string, number>)[t]);
  return {
    policy: new CompiledRetryPolicy({
      numRetries,
      perTryTimeout,
      retryOn: tokens.join(","),
      bits,
      statusCodes: codes,
      retryIgnorePreviousHosts: policy.retryIgnorePreviousHosts,
      retryRemoteLocalities: policy.retryRemoteLocalities,
      backoffBase: policy.backoffBase,
    }),
    timeout,
    perTryTimeout,
  };
}
