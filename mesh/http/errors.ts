/**
 * Failure classification for the data path. Every failure is classified once,
 * into an Envoy response flag and the status the proxy answers with, so access
 * logs, metrics and retries all see the same thing (SEMANTICS.md §10).
 *
 * @module
 */

/** Envoy response flags produced by the HTTP engine. */
export const ResponseFlag = {
  /** Upstream connection failure. */
  UF: "UF",
  /** Upstream connection termination (closed or reset before the response completed). */
  UC: "UC",
  /** Upstream HTTP protocol error. */
  UPE: "UPE",
  /** Upstream request timeout. */
  UT: "UT",
  /** Upstream overflow (pool full). */
  UO: "UO",
  /** Downstream HTTP protocol error. */
  DPE: "DPE",
  /** Downstream closed the connection. */
  DC: "DC",
  /** Upstream remote reset. */
  UR: "UR",
} as const;

/** One of the {@link ResponseFlag} values. */
export type ResponseFlagName = typeof ResponseFlag[keyof typeof ResponseFlag];

/**
 * A malformed or over-limit message from a downstream client. The server
 * answers with `status` and closes the connection.
 */
export class ProtocolError extends Error {
  /** Status to answer with (400, 413, 414, 431, 501, 505). */
  readonly status: number;

  /** Builds an error answered with `status`; `message` names the offending element. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.status = status;
  }
}

/** A failed exchange with an upstream, carrying its response flag and status. */
export class UpstreamError extends Error {
  /** The response flag for logs and metrics. */
  readonly flag: ResponseFlagName;
  /** The status the proxy answers with when nothing was sent downstream yet. */
  readonly status: number;
  /** True when nothing reached the upstream, so the request may be retried as-is. */
  readonly retriable: boolean;

  /** Builds an upstream failure. */
  constructor(
    flag: ResponseFlagName,
    message: string,
    options: { status?: number; retriable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpstreamError";
    this.flag = flag;
    this.status = options.status ?? statusForFlag(flag);
    this.retriable = options.retriable ?? false;
  }
}

/** The status Envoy answers with for a local failure with `flag`. */
export function statusForFlag(flag: ResponseFlagName): number {
  switch (flag) {
    case "UPE":
      return 502;
    case "UT":
      return 504;
    case "DPE":
      return 400;
    case "DC":
      return 0;
    default:
      return 503;
  }
}

/** The plain-text body Envoy uses for a local failure with `flag`. */
export function bodyForFlag(flag: ResponseFlagName): string {
  switch (flag) {
    case "UF":
      return "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
    case "UC":
      return "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
    case "UPE":
      return "upstream protocol error";
    case "UT":
      return "upstream request timeout";
    case "UO":
      return "upstream overflow";
    default:
      return "error";
  }
}

/** Whether `err` is a connection-level I/O failure (reset, broken pipe, closed resource). */
export function isConnectionError(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.UnexpectedEof ||
    (err instanceof Error && err.name === "Interrupted");
}

/**
 * The downstream failed while its request was being forwarded: a framing
 * error in its body (DPE, 400) or it went away (DC).
 */
export class DownstreamError extends Error {
  /** DPE or DC. */
  readonly flag: ResponseFlagName;
  /** 400 for DPE, 0 (no response) for DC. */
  readonly status: number;

  /** Builds the error. */
  constructor(flag: ResponseFlagName, message: string, status: number) {
    super(message);
    this.name = "DownstreamError";
    this.flag = flag;
    this.status = status;
  }
}
