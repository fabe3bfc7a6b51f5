/**
 * The HTTP forwarding pipeline, one stage per module: compile a snapshot into lookup tables
 * (`compile.ts`), then per request select a route, decide faults, rewrite or redirect, manipulate
 * headers, answer CORS, split by weight, admit under circuit breakers, balance over healthy
 * endpoints, retry with backoff and feed outlier detection. The decision stages are pure and
 * I/O-free; `pipeline.ts` runs them over the HTTP engine (`mesh/http`): forwarding attempts,
 * the retry loop, upstream pools, mirrors and active health checks.
 *
 * @module
 */

export * from "./admission.ts";
export * from "./backoff.ts";
export * from "./balance/mod.ts";
export * from "./compile.ts";
export * from "./cors.ts";
export * from "./endpoints.ts";
export * from "./fault.ts";
export * from "./forward_attempt.ts";
export * from "./flags.ts";
export * from "./header_ops.ts";
export * from "./health_check.ts";
export * from "./local_reply.ts";
export * from "./locality.ts";
export * from "./match.ts";
export * from "./mirror.ts";
export * from "./outlier.ts";
export * from "./pipeline.ts";
export * from "./redirect.ts";
export * from "./regex.ts";
export * from "./request_body.ts";
export * from "./request_context.ts";
export * from "./request_view.ts";
export * from "./retry_loop.ts";
export * from "./retry_policy.ts";
export * from "./rewrite.ts";
export * from "./route.ts";
export * from "./split.ts";
export * from "./tcp.ts";
export * from "./connect.ts";
export * from "./upstream_pools.ts";
