/**
 * The retry loop (SEMANTICS §2.11, §2.12): attempts until a response is kept or the policy, the
 * route timeout, the `maxRetries` circuit breaker or an unreplayable body stops it. Each attempt
 * picks a host (preferring untried ones), takes a connection slot, sends, and reports its result
 * to the cluster's outlier detector; retries wait a full-jitter backoff inside the route timeout.
 * The last attempt's response is relayed, or its failure answered as Envoy does (§10); URX is
 * added when retries ran out on a retriable failure.
 *
 * @module
 */

import type { ResponseSink } from "../http/mod.ts";
import { backoffDelay } from "./backoff.ts";
import type { Cluster } from "./compile.ts";
import { Flag, LocalReplies } from "./flags.ts";
import {
  attemptAnswered,
  attemptFailed,
  discardResponse,
  Outcome,
  pickTarget,
  prepareAttempt,
  relayResponse,
  startExchange,
  takeSlot,
} from "./forward_attempt.ts";
import { sendReply } from "./local_reply.ts";
import type { RequestContext } from "./request_context.ts";
import type { AttemptOutcome } from "./retry_policy.ts";
import type { UpstreamPools } from "./upstream_pools.ts";

/** What the loop needs from its listener. */
export interface RetryLoopOptions {
  /** The pipeline's pools. */
  pools: UpstreamPools;
  /** Append the peer to `x-forwarded-for` (gateways). */
  forwardedFor: boolean;
}

// Outcome descriptions handed to `shouldRetry`, which reads them synchronously: shared, and the
// response one is filled in just before the call.
const RESPONSE: { kind: "response"; status: number; grpcStatus: string | null | undefined } = {
  kind: "response",
  status: 0,
  grpcStatus: undefined,
};
const CONNECT_FAILURE: AttemptOutcome = { kind: "connect-failure" };
const RESET: AttemptOutcome = { kind: "reset", beforeRequest: false };
const PER_TRY_TIMEOUT: AttemptOutcome = { kind: "per-try-timeout" };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reports an attempt to the cluster's outlier detector (SEMANTICS §3.6). */
function observe(
  ctx: RequestContext,
  cluster: Cluster,
  outcome: number,
  now: number,
): void {
  const detector = cluster.outlier;
  const ep = ctx.endpoint;
  if (detector === undefined || ep === undefined) return;
  switch (outcome) {
    case Outcome.RESPONSE:
      detector.report(ep, ctx.up!.head.status, now);
      break;
    case Outcome.CONNECT_FAILURE:
      detector.report(ep, "connect-failure", now);
      break;
    case Outcome.RESET:
    case Outcome.PROTOCOL_ERROR:
      detector.report(ep, "reset", now);
      break;
    case Outcome.PER_TRY_TIMEOUT:
    case Outcome.ROUTE_TIMEOUT:
      detector.report(ep, "timeout", now);
      break;
  }
}

/** Answers a final failed attempt. */
function replyFailure(ctx: RequestContext, res: ResponseSink, outcome: number): Promise<void> {
  switch (outcome) {
    case Outcome.CONNECT_FAILURE:
      return sendReply(ctx, res, LocalReplies.connectFailure);
    case Outcome.PER_TRY_TIMEOUT:
    case Outcome.ROUTE_TIMEOUT:
      return sendReply(ctx, res, LocalReplies.upstreamTimeout);
    case Outcome.OVERFLOW:
      return sendReply(ctx, res, LocalReplies.overflow);
    case Outcome.PROTOCOL_ERROR:
      return sendReply(ctx, res, LocalReplies.upstreamProtocolError);
    case Outcome.DOWNSTREAM:
      ctx.flags |= ctx.failure;
      if (ctx.downstreamStatus > 0 && !res.started) {
        res.keepAlive = false;
        ctx.status = ctx.downstreamStatus;
        return res.respond(ctx.downstreamStatus, ["content-type", "text/plain"], "bad request body")
          .catch(() => res.abort());
      }
      res.abort();
      return Promise.resolve();
    default:
      return sendReply(
        ctx,
        res,
        ctx.failure === Flag.UR ? LocalReplies.remoteReset : LocalReplies.connectionTermination,
      );
  }
}

/** Whether the policy retries `outcome` (the retry budget is checked by the caller). */
function retriable(ctx: RequestContext, outcome: number): boolean {
  const policy = ctx.policy!;
  switch (outcome) {
    case Outcome.RESPONSE: {
      const head = ctx.up!.head;
      RESPONSE.status = head.status;
      // gRPC trailers-only errors arrive as 200 with `grpc-status`.
      RESPONSE.grpcStatus = head.status === 200 && policy.numRetries > 0
        ? head.get("grpc-status")
        : undefined;
      return policy.shouldRetry(RESPONSE);
    }
    case Outcome.CONNECT_FAILURE:
      return policy.shouldRetry(CONNECT_FAILURE);
    case Outcome.RESET:
    case Outcome.PROTOCOL_ERROR:
      return policy.shouldRetry(RESET);
    case Outcome.PER_TRY_TIMEOUT:
      return policy.shouldRetry(PER_TRY_TIMEOUT);
    default:
      return false;
  }
}

/**
 * Forwards the request in `ctx` to `cluster` with retries and answers `res`. `ctx.policy`,
 * `ctx.deadline` and the header plan must be set.
 */
export async function forwardWithRetries(
  ctx: RequestContext,
  cluster: Cluster,
  res: ResponseSink,
  options: RetryLoopOptions,
): Promise<void> {
  const policy = ctx.policy!;
  const admission = cluster.admission;
  let retriesLeft = policy.numRetries;
  const avoidTried = policy.retryIgnorePreviousHosts &&
    cluster.policy.loadBalancer.consistentHash === undefined;
  for (let attempt = 1;; attempt++) {
    ctx.attempts = attempt;
    const pool = pickTarget(ctx, cluster, options.pools);
    if (pool === undefined) {
      if (attempt > 1) admission.releaseRetry();
      await sendReply(ctx, res, LocalReplies.noHealthyUpstream);
      return;
    }
    ctx.upstreamHost = ctx.endpoint !== undefined ? ctx.endpoint.key : pool.address;
    // The attempt runs inline (no nested async calls): each level of awaiting costs a promise
    // and a microtask per request.
    let outcome = takeSlot(ctx, admission);
    if (typeof outcome !== "number") {
      ctx.clock = 0;
      outcome = await outcome;
    }
    const sent = outcome === Outcome.RESPONSE;
    if (sent) {
      outcome = prepareAttempt(ctx, attempt, options);
      if (outcome < 0) {
        try {
          outcome = attemptAnswered(ctx, await startExchange(ctx, pool));
        } catch (err) {
          outcome = attemptFailed(ctx, err);
        }
      }
    }
    if (attempt > 1) admission.releaseRetry();
    const now = Date.now();
    if (sent) observe(ctx, cluster, outcome, now);
    const ep = ctx.endpoint;
    if (ep !== undefined && avoidTried) ctx.addTried(ep);

    const again = retriable(ctx, outcome);
    if (again && retriesLeft === 0) ctx.flags |= Flag.URX;
    let retry = again && retriesLeft > 0 && !res.started &&
      (ctx.body === undefined || ctx.body.replayable);
    if (retry && admission.admitRetry() === "overflow") retry = false;
    if (!retry) {
      if (outcome !== Outcome.RESPONSE) {
        await replyFailure(ctx, res, outcome);
        return;
      }
      await relayResponse(ctx, res, now);
      return;
    }
    // A retry: drop this attempt's response, back off inside the route timeout, go again.
    if (outcome === Outcome.RESPONSE) await discardResponse(ctx);
    retriesLeft--;
    if (avoidTried) ctx.avoid = ctx;
    const delay = backoffDelay(attempt, { base: policy.backoffBase });
    const left = ctx.deadline > 0 ? ctx.deadline - Date.now() : Infinity;
    if (delay > 0) await sleep(Math.min(delay, Math.max(0, left)));
    if (ctx.deadline > 0 && Date.now() >= ctx.deadline) {
      admission.releaseRetry();
      await sendReply(ctx, res, LocalReplies.upstreamTimeout);
      return;
    }
  }
}
