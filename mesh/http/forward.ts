/**
 * Forwarding one downstream request to an upstream pool and relaying the
 * response: the proxy's data path, used by the pass-through proxy and by the
 * pipeline's forward stage. Failures become local replies with Envoy's
 * status and response flag; a failure after the response head went out
 * aborts the downstream connection (the client must not take a truncated
 * body for a complete one).
 *
 * @module
 */

import { classifyUpstreamError, exchange, type UpstreamResponse } from "./client.ts";
import { type ByteConn, writeAll } from "./conn.ts";
import {
  bodyForFlag,
  DownstreamError,
  ResponseFlag,
  type ResponseFlagName,
  statusForFlag,
  UpstreamError,
} from "./errors.ts";
import { writeForwardRequestHead, writeRelayResponseHead } from "./headers.ts";
import type { BodyReader } from "./body.ts";
import type { ConnectionPool } from "./pool.ts";
import { Framing } from "./request_parser.ts";
import type { IncomingRequest, ResponseSink } from "./server.ts";

/** Options for {@link forward}. */
export interface ForwardOptions {
  /** The upstream endpoint's connection pool. */
  pool: ConnectionPool;
  /** Exchange timeout (UT → 504); 0 or absent = none. */
  timeoutMs?: number;
  /** Attempt number for `x-envoy-attempt-count`; default 1. */
  attempt?: number;
  /** Append the peer to `x-forwarded-for` (default true). */
  appendForwardedFor?: boolean;
  /** Replacement authority (Host) sent upstream. */
  authority?: string;
  /** Replacement path and query sent upstream. */
  path?: string;
  /** Lowercase request field names to drop. */
  removeRequestHeaders?: readonly string[];
  /** Request fields to add, flat `[name, value, ...]`. */
  addRequestHeaders?: readonly string[];
  /** Lowercase response field names to drop. */
  removeResponseHeaders?: readonly string[];
  /** Response fields to add, flat `[name, value, ...]`. */
  addResponseHeaders?: readonly string[];
}

/** What happened, for logs, metrics and retry decisions. */
export interface ForwardResult {
  /** Status sent downstream (0 when none could be sent). */
  status: number;
  /** Response flag, `-` when none. */
  flag: ResponseFlagName | "-";
  /** Request body bytes forwarded. */
  requestBytes: number;
  /** Response body bytes relayed. */
  responseBytes: number;
  /** The `x-request-id` in effect. */
  requestId: string;
  /** Upstream `host:port`. */
  upstream: string;
}

/**
 * Sends a local reply for a failure classified as `flag`, like Envoy's
 * (status and body default from the flag; UO adds `x-envoy-overloaded`).
 */
export async function sendLocalReply(
  res: ResponseSink,
  flag: ResponseFlagName,
  options: { status?: number; message?: string } = {},
): Promise<void> {
  const status = options.status ?? statusForFlag(flag);
  const message = options.message;
  const headers = flag === ResponseFlag.UO
    ? ["content-type", "text/plain", "x-envoy-overloaded", "true"]
    : ["content-type", "text/plain"];
  await res.respond(status, headers, message ?? bodyForFlag(flag));
}

/** Forwards `req` to `options.pool` and relays the response into `res`. Never throws for I/O failures. */
export async function forward(
  req: IncomingRequest,
  res: ResponseSink,
  options: ForwardOptions,
): Promise<ForwardResult> {
  const pool = options.pool;
  const h = req.head;
  const w = req.scratch;
  w.reset();
  const requestId = writeForwardRequestHead(w, h, {
    remoteHost: options.appendForwardedFor === false ? undefined : req.conn.remoteHost,
    secure: req.conn.secure,
    attempt: options.attempt ?? 1,
    authority: options.authority,
    path: options.path,
    remove: options.removeRequestHeaders,
    add: options.addRequestHeaders,
  });
  const result: ForwardResult = {
    status: 0,
    flag: "-",
    requestBytes: 0,
    responseBytes: 0,
    requestId,
    upstream: pool.address,
  };
  let up: UpstreamResponse;
  try {
    up = await exchange(pool, w.view(), {
      body: req.body,
      method: h.method,
      framing: h.framing,
      timeoutMs: options.timeoutMs,
    });
  } catch (err) {
    result.requestBytes = req.body.bytes;
    if (err instanceof UpstreamError) {
      result.flag = err.flag;
      result.status = err.status;
      if (!res.started) await sendLocalReply(res, err.flag, { status: err.status }).catch(() => {});
      return result;
    }
    if (err instanceof DownstreamError) {
      result.flag = err.flag;
      result.status = err.status;
      if (err.status > 0 && !res.started) {
        res.keepAlive = false;
        await sendLocalReply(res, err.flag, { status: err.status, message: err.message })
          .catch(() => {});
      } else {
        res.abort();
      }
      return result;
    }
    throw err;
  }
  result.requestBytes = req.body.bytes;
  const uh = up.head;
  result.status = uh.status;
  if (uh.status === 101) {
    await tunnel(up, res, options, result);
    return result;
  }
  // downstream framing: a close-delimited or chunked body goes chunked to HTTP/1.1 clients
  let framing = up.body.framing;
  if (framing === Framing.CLOSE || framing === Framing.CHUNKED) {
    framing = h.minor === 1 ? Framing.CHUNKED : Framing.CLOSE;
  }
  const close = !res.keepAlive || framing === Framing.CLOSE;
  writeRelayResponseHead(res.writer, uh, {
    framing,
    close,
    remove: options.removeResponseHeaders,
    add: options.addResponseHeaders,
  });
  res.commitHead(uh.status, framing, uh.contentLength);
  const relayed = await relayBody(up.body, res);
  result.responseBytes = res.bodyBytes;
  if (relayed.relay !== "done") {
    result.flag = relayed.relay === "write-failed"
      ? ResponseFlag.DC
      : classifyUpstreamError(relayed.error, up.timedOut).flag;
    up.abort();
    res.abort();
    return result;
  }
  up.release();
  return result;
}

/** {@link relayBody} sent the whole body. */
export const RELAY_DONE = Object.freeze({ relay: "done" as const });
/** {@link relayBody} could not write downstream (the client went away). */
export const RELAY_WRITE_FAILED = Object.freeze({ relay: "write-failed" as const });
/** {@link relayBody} could not read the upstream body; `error` says why. */
export interface RelayReadFailure {
  relay: "read-failed";
  error: unknown;
}
/** How {@link relayBody} ended. */
export type RelayOutcome = typeof RELAY_DONE | typeof RELAY_WRITE_FAILED | RelayReadFailure;

/**
 * Copies an upstream response body to the downstream sink (whose head is committed or
 * pending); the last piece goes out with the terminator — and a still-pending head — in one
 * write. Aborting on failure is the caller's, since flags differ by caller; the success path
 * allocates nothing.
 */
export async function relayBody(body: BodyReader, res: ResponseSink): Promise<RelayOutcome> {
  try {
    for (;;) {
      let v: Uint8Array | null | undefined;
      try {
        v = body.readBuffered();
        if (v === undefined) v = await body.read();
      } catch (error) {
        return { relay: "read-failed", error };
      }
      if (v === null) {
        await res.end();
        return RELAY_DONE;
      }
      if (body.done) {
        await res.end(v);
        return RELAY_DONE;
      }
      await res.write(v);
    }
  } catch {
    return RELAY_WRITE_FAILED;
  }
}

async function tunnel(
  up: UpstreamResponse,
  res: ResponseSink,
  options: ForwardOptions,
  result: ForwardResult,
): Promise<void> {
  writeRelayResponseHead(res.writer, up.head, {
    framing: Framing.NONE,
    close: false,
    upgrade: true,
    remove: options.removeResponseHeaders,
    add: options.addResponseHeaders,
  });
  res.commitHead(101, Framing.NONE);
  let down: { conn: ByteConn; buffered: Uint8Array };
  try {
    down = await res.takeOver();
  } catch {
    up.abort();
    result.flag = ResponseFlag.DC;
    return;
  }
  const upConn = up.conn.conn;
  const upLeft = up.conn.reader.drain();
  try {
    if (down.buffered.length > 0) await writeAll(upConn, down.buffered);
    if (upLeft.length > 0) await writeAll(down.conn, upLeft);
  } catch {
    // one side already gone; the pumps below end at once
  }
  await Promise.all([pump(down.conn, upConn), pump(upConn, down.conn)]);
  down.conn.close();
  up.abort();
}

/** Copies bytes from `src` to `dst` until either side ends, then closes both. */
export async function pump(src: ByteConn, dst: ByteConn): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await src.read(buf);
      if (n === null || n === 0) break;
      await writeAll(dst, buf.subarray(0, n));
    }
  } catch {
    // reset on either side ends the tunnel
  }
  src.close();
  dst.close();
}
