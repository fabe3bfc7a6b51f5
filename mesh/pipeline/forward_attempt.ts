/**
 * One upstream attempt of a request and the relay of the chosen response: take a connection
 * slot under the cluster's circuit breakers (queueing as *pending* up to
 * `http1MaxPendingRequests`), send the head (with `x-envoy-attempt-count`,
 * `x-envoy-expected-rq-timeout-ms`, header mutations and rewrite) and the body over the
 * endpoint's pool with the attempt's timeout, and classify what happened into an
 * {@linkcode Outcome}. The response head stays unrelayed until the retry loop decides to keep
 * it, so a retriable response can be dropped and retried.
 *
 * Slots: a cluster-wide slot is one busy upstream exchange, i.e. one busy HTTP/1.1 connection;
 * `tcp.maxConnections` caps them across all endpoints of the cluster (idle pooled connections
 * are not counted; each endpoint pool is also capped at `maxConnections`).
 *
 * @module
 */

import {
  ByteWriter,
  classifyUpstreamError,
  type ConnectionPool,
  DownstreamError,
  EMPTY_BODY,
  exchange,
  Framing,
  relayBody,
  type ResponseSink,
  UpstreamError,
  type UpstreamResponse,
  writeForwardRequestHead,
  writeRelayResponseHead,
} from "../http/mod.ts";
import { type Admission, SlotWaiter } from "./admission.ts";
import type { Cluster } from "./compile.ts";
import { Flag } from "./flags.ts";
import type { RequestContext } from "./request_context.ts";
import type { UpstreamPools } from "./upstream_pools.ts";

/** How an attempt ended. */
export const Outcome = {
  /** A response head arrived (`ctx.up`). */
  RESPONSE: 0,
  /** TCP connect failed or timed out (UF). */
  CONNECT_FAILURE: 1,
  /** The upstream closed or reset before a response (UC). */
  RESET: 2,
  /** The per-try timeout expired (UT, retriable by `5xx`/`gateway-error`/`reset`). */
  PER_TRY_TIMEOUT: 3,
  /** The route timeout expired (UT, final). */
  ROUTE_TIMEOUT: 4,
  /** A circuit breaker overflowed (UO, final). */
  OVERFLOW: 5,
  /** The upstream spoke broken HTTP (UPE). */
  PROTOCOL_ERROR: 6,
  /** The downstream broke its body or went away (DPE/DC, final). */
  DOWNSTREAM: 7,
} as const;

/** Options for the upstream head, fixed per listener. */
export interface AttemptOptions {
  /** Append the peer to `x-forwarded-for` (gateways). */
  appendForwardedFor: boolean;
}

const FLAG_OF: Readonly<Record<string, number>> = {
  UF: Flag.UF,
  UC: Flag.UC,
  UR: Flag.UR,
  UT: Flag.UT,
  UO: Flag.UO,
  UPE: Flag.UPE,
  DPE: Flag.DPE,
  DC: Flag.DC,
};

/** The {@linkcode Flag} bit of an engine response flag name (0 for `-` or unknown). */
export function flagBit(name: string): number {
  return FLAG_OF[name] ?? 0;
}

/**
 * Asks for a slot, queueing as pending; resolves an {@linkcode Outcome}: RESPONSE once granted,
 * OVERFLOW when the pending queue is full, ROUTE_TIMEOUT when `deadline` (0 = none) passes first.
 */
function waitForSlot(admission: Admission, deadline: number): Promise<number> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waiter = new SlotWaiter(() => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(Outcome.RESPONSE);
    });
    const result = admission.acquireConnection(waiter);
    if (result === "granted") return resolve(Outcome.RESPONSE);
    if (result === "overflow") return resolve(Outcome.OVERFLOW);
    if (deadline > 0) {
      timer = setTimeout(() => {
        if (admission.cancel(waiter)) resolve(Outcome.ROUTE_TIMEOUT);
      }, Math.max(1, deadline - Date.now()));
    }
  });
}

/**
 * Takes a connection slot of a cluster's `admission` for the current attempt: RESPONSE at once
 * when one is free, else a promise. Resolves RESPONSE
 * when held (`ctx.slot` set), else OVERFLOW (pending queue full: UO) or ROUTE_TIMEOUT (the route
 * deadline passed while queued: UT) with `ctx.failure` set.
 */
export function takeSlot(ctx: RequestContext, admission: Admission): number | Promise<number> {
  if (admission.activeConnections < admission.limits.maxConnections) {
    // The common case: no promise, no waiter (same bookkeeping as acquireConnection).
    admission.activeConnections++;
    ctx.slot = admission;
    return Outcome.RESPONSE;
  }
  return waitForSlot(admission, ctx.deadline).then((outcome) => {
    if (outcome === Outcome.RESPONSE) ctx.slot = admission;
    else ctx.failure = outcome === Outcome.OVERFLOW ? Flag.UO : Flag.UT;
    return outcome;
  });
}

/** Releases the attempt's slot and endpoint activity (idempotent). */
export function endAttempt(ctx: RequestContext): void {
  const slot = ctx.slot;
  if (slot !== undefined) {
    ctx.slot = undefined;
    slot.releaseConnection();
  }
  const ep = ctx.endpoint;
  if (ep !== undefined && ep.active > 0) ep.active--;
}

/** Drops a response the retry loop does not keep (its connection is reused when possible). */
export async function discardResponse(ctx: RequestContext): Promise<void> {
  const up = ctx.up;
  ctx.up = undefined;
  if (up === undefined) return;
  try {
    if (!up.body.done && !(await up.body.discard(64 * 1024))) {
      up.abort();
      return;
    }
    up.release();
  } catch {
    up.abort();
  } finally {
    endAttempt(ctx);
  }
}

/**
 * Chooses the attempt's target: the cluster's balancer (avoiding tried hosts on retries), or the
 * original destination for a pass-through cluster. Undefined when no endpoint is usable (UH).
 */
export function pickTarget(
  ctx: RequestContext,
  cluster: Cluster,
  pools: UpstreamPools,
): ConnectionPool | undefined {
  if (cluster.passthrough) {
    ctx.endpoint = undefined;
    return pools.forAddress(hostOf(ctx.authority), portFromAuthority(ctx.authority));
  }
  const ep = cluster.chooser.pick(ctx);
  ctx.endpoint = ep;
  if (ep === undefined) return undefined;
  return pools.forEndpoint(cluster, ep);
}

/** The host (IPv6 brackets removed) and port (80 when none) an authority names. */
export function originalDestination(authority: string): { host: string; port: number } {
  return { host: hostOf(authority), port: portFromAuthority(authority) };
}

function hostOf(authority: string): string {
  if (authority.charCodeAt(0) === 91) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(1, end);
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 || authority.indexOf(":") !== colon ? authority : authority.slice(0, colon);
}

function portFromAuthority(authority: string): number {
  const rest = authority.charCodeAt(0) === 91
    ? authority.slice(authority.indexOf("]") + 1)
    : authority.indexOf(":") === authority.lastIndexOf(":")
    ? authority.slice(hostOf(authority).length)
    : "";
  const port = rest.startsWith(":") ? Number(rest.slice(1)) : 80;
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : 80;
}

/** Options of one attempt. */
export interface AttemptHeadOptions {
  /** Attempt number (1 for the first). */
  attempt: number;
  /** Append the peer to `x-forwarded-for` (gateways). */
  forwardedFor: boolean;
}

// One-entry cache of the request additions with `x-envoy-expected-rq-timeout-ms` appended: a
// route's requests share one `requestAdd` list and one timeout, so the list is built once.
let expectedBase: readonly string[] | undefined;
let expectedMs = -1;
let expectedList: readonly string[] = [];

function withExpectedTimeout(add: readonly string[] | undefined, ms: number): readonly string[] {
  if (add === expectedBase && ms === expectedMs) return expectedList;
  const value = String(ms);
  const list = add === undefined
    ? ["x-envoy-expected-rq-timeout-ms", value]
    : [...add, "x-envoy-expected-rq-timeout-ms", value];
  expectedBase = add;
  expectedMs = ms;
  expectedList = list;
  return list;
}

/**
 * Starts attempt number `attempt` (the slot must be held): counts the endpoint busy, works out
 * the attempt's timeout (`ctx.attemptTimeout`, `ctx.perTryLimited`) and writes the upstream head
 * into the request's scratch writer. Returns -1 when the exchange may start, else ROUTE_TIMEOUT
 * (the route deadline already passed: slot released, `ctx.failure` set).
 */
export function prepareAttempt(
  ctx: RequestContext,
  attempt: number,
  options: { forwardedFor: boolean },
): number {
  const ep = ctx.endpoint;
  if (ep !== undefined) ep.active++;
  const now = ctx.clock || Date.now();
  ctx.clock = 0;
  if (ctx.firstAttemptAt === 0) ctx.firstAttemptAt = now;
  // The attempt's timeout: the per-try one when it is shorter than what is left of the route's.
  const left = ctx.deadline > 0 ? ctx.deadline - now : 0;
  if (ctx.deadline > 0 && left <= 0) {
    endAttempt(ctx);
    ctx.failure = Flag.UT;
    return Outcome.ROUTE_TIMEOUT;
  }
  const perTry = ctx.perTryTimeout;
  const perTryLimited = perTry > 0 && (left === 0 || perTry < left);
  const timeoutMs = perTryLimited ? perTry : left;
  ctx.attemptTimeout = timeoutMs;
  ctx.perTryLimited = perTryLimited;
  const req = ctx.req;
  const w = req.scratch;
  w.reset();
  let add = ctx.requestAdd;
  if (timeoutMs > 0) {
    // The first attempt announces the route's whole budget; retries what is left of it.
    add = withExpectedTimeout(
      add,
      attempt === 1 && !perTryLimited ? ctx.timeout : timeoutMs,
    );
  }
  writeForwardRequestHead(w, ctx.head, {
    remoteHost: options.forwardedFor ? req.conn.remoteHost : undefined,
    secure: req.conn.secure,
    attempt,
    requestId: ctx.requestId,
    authority: ctx.authority2,
    path: ctx.path2,
    remove: ctx.requestRemove,
    add,
  });
  return -1;
}

/** Sends the head written by {@linkcode prepareAttempt} (and the body) over `pool`. */
export function startExchange(
  ctx: RequestContext,
  pool: ConnectionPool,
): Promise<UpstreamResponse> {
  const body = ctx.body;
  return exchange(pool, ctx.req.scratch.view(), {
    body: body === undefined ? EMPTY_BODY : body.reader(),
    method: ctx.head.method,
    framing: body === undefined ? Framing.NONE : body.framing,
    timeoutMs: ctx.attemptTimeout,
  });
}

/** Records a response head that arrived for the current attempt; returns RESPONSE. */
export function attemptAnswered(ctx: RequestContext, up: UpstreamResponse): number {
  ctx.up = up;
  if (ctx.perTryLimited) {
    // The per-try timeout bounds the wait for the head only; the body runs on the route's
    // deadline (SEMANTICS §2.11). `deadline` is the engine's documented per-exchange field.
    up.conn.deadline = ctx.deadline > 0 ? ctx.deadline : Number.MAX_SAFE_INTEGER;
  }
  ctx.failure = 0;
  return Outcome.RESPONSE;
}

/** Ends a failed attempt (`err` from the exchange): releases it and classifies the failure. */
export function attemptFailed(ctx: RequestContext, err: unknown): number {
  endAttempt(ctx);
  if (err instanceof UpstreamError) {
    switch (err.flag) {
      case "UF":
        ctx.failure = Flag.UF;
        return Outcome.CONNECT_FAILURE;
      case "UT":
        ctx.failure = Flag.UT;
        return ctx.perTryLimited ? Outcome.PER_TRY_TIMEOUT : Outcome.ROUTE_TIMEOUT;
      case "UO":
        ctx.failure = Flag.UO;
        return Outcome.OVERFLOW;
      case "UPE":
        ctx.failure = Flag.UPE;
        return Outcome.PROTOCOL_ERROR;
      default:
        ctx.failure = flagBit(err.flag) || Flag.UC;
        return Outcome.RESET;
    }
  }
  if (err instanceof DownstreamError) {
    ctx.failure = flagBit(err.flag);
    ctx.downstreamStatus = err.status;
    return Outcome.DOWNSTREAM;
  }
  ctx.failure = Flag.UC;
  return Outcome.RESET;
}

/**
 * Sends attempt number `attempt` over `pool` (the slot must be held). Returns an
 * {@linkcode Outcome}; on RESPONSE the response is in `ctx.up`, otherwise the slot is released
 * and `ctx.failure` holds the flag.
 */
export async function sendAttempt(
  ctx: RequestContext,
  pool: ConnectionPool,
  options: AttemptHeadOptions,
): Promise<number> {
  const early = prepareAttempt(ctx, options.attempt, options);
  if (early >= 0) return early;
  let up: UpstreamResponse;
  try {
    up = await startExchange(ctx, pool);
  } catch (err) {
    return attemptFailed(ctx, err);
  }
  return attemptAnswered(ctx, up);
}

/**
 * Writes and commits the head of `ctx.up` downstream (with the response mutations) and takes
 * the response out of `ctx`; its body is relayed next ({@linkcode relayResponse} does both).
 * `now` is the current `Date.now()`.
 */
export function relayHead(ctx: RequestContext, res: ResponseSink, now: number): UpstreamResponse {
  const up = ctx.up as UpstreamResponse;
  ctx.up = undefined;
  const uh = up.head;
  let framing = up.body.framing;
  if (framing === Framing.CLOSE || framing === Framing.CHUNKED) {
    framing = ctx.head.minor === 1 ? Framing.CHUNKED : Framing.CLOSE;
  }
  writeRelayResponseHead(res.writer, uh, {
    framing,
    close: !res.keepAlive || framing === Framing.CLOSE,
    remove: ctx.responseRemove,
    add: ctx.responseAdd,
  });
  res.commitHead(uh.status, framing, uh.contentLength);
  ctx.status = uh.status;
  ctx.upstreamDuration = now - ctx.firstAttemptAt;
  return up;
}

/** A relayed body failed to read from upstream: abort both sides and flag it. */
export function relayReadFailed(
  ctx: RequestContext,
  res: ResponseSink,
  up: UpstreamResponse,
  err: unknown,
): void {
  ctx.flags |= flagBit(classifyUpstreamError(err, up.timedOut).flag);
  up.abort();
  res.abort();
}

/** A relayed body failed to write downstream: abort both sides and flag DC. */
export function relayWriteFailed(
  ctx: RequestContext,
  res: ResponseSink,
  up: UpstreamResponse,
): void {
  ctx.flags |= Flag.DC;
  up.abort();
  res.abort();
}

/**
 * Relays `ctx.up` downstream (head with the response mutations, then the body) and ends the
 * attempt. A failure mid-body aborts the downstream connection (flag UC/UT, or DC when the
 * downstream went away).
 */
export async function relayResponse(
  ctx: RequestContext,
  res: ResponseSink,
  now = Date.now(),
): Promise<void> {
  const up = relayHead(ctx, res, now);
  const relayed = await relayBody(up.body, res);
  if (relayed.relay === "write-failed") relayWriteFailed(ctx, res, up);
  else if (relayed.relay === "read-failed") relayReadFailed(ctx, res, up, relayed.error);
  ctx.responseBytes = res.bodyBytes;
  endAttempt(ctx);
  if (relayed.relay === "done") up.release();
}

/**
 * Sends a fire-and-forget copy of the request to `cluster` (SEMANTICS §2.9): Host unchanged, the
 * body only when it was buffered (a request whose body was too large is not mirrored), the
 * response discarded, failures ignored. Never delays the caller: the head is serialized now and
 * the exchange runs detached.
 */
export function sendMirror(
  ctx: RequestContext,
  cluster: Cluster,
  options: { pools: UpstreamPools; timeoutMs: number },
): void {
  if (cluster.notFound || cluster.passthrough) return;
  const body = ctx.body;
  if (body !== undefined && !body.replayable) return;
  const ep = cluster.chooser.pick();
  if (ep === undefined) return;
  const admission = cluster.admission;
  if (admission.admitRequest() === "overflow") return;
  const w = new ByteWriter(1024);
  writeForwardRequestHead(w, ctx.head, {
    secure: ctx.req.conn.secure,
    attempt: 1,
    requestId: ctx.requestId,
    authority: ctx.authority2,
    path: ctx.path2,
    remove: ctx.requestRemove,
    add: ctx.requestAdd,
  });
  const pool = options.pools.forEndpoint(cluster, ep);
  exchange(pool, w.view(), {
    body: body === undefined ? EMPTY_BODY : body.reader(),
    method: ctx.head.method,
    framing: body === undefined ? Framing.NONE : body.framing,
    timeoutMs: options.timeoutMs,
  }).then(async (up) => {
    try {
      if (!up.body.done && !(await up.body.discard(16 * 1024 * 1024))) up.abort();
      else up.release();
    } catch {
      up.abort();
    }
  }).catch(() => {
    // a mirror's failure is invisible to the caller
  }).finally(() => admission.releaseRequest());
}
