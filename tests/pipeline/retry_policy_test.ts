import assert from "node:assert/strict";
import {
  applyOverrides,
  type AttemptOutcome,
  compileRetryPolicy,
  DEFAULT_RETRY_ON,
  NO_RETRY_POLICY,
} from "../../mesh/pipeline/retry_policy.ts";

const status = (s: number, grpcStatus?: string): AttemptOutcome => ({
  kind: "response",
  status: s,
  grpcStatus,
});
const CONNECT: AttemptOutcome = { kind: "connect-failure" };
const RESET_BEFORE: AttemptOutcome = { kind: "reset", beforeRequest: true };
const RESET_AFTER: AttemptOutcome = { kind: "reset", beforeRequest: false };
const TIMEOUT: AttemptOutcome = { kind: "per-try-timeout" };
const REFUSED: AttemptOutcome = { kind: "refused-stream" };

const OUTCOMES: Record<string, AttemptOutcome> = {
  "200": status(200),
  "409": status(409),
  "429": status(429),
  "500": status(500),
  "502": status(502),
  "503": status(503),
  "504": status(504),
  "grpc-1": status(200, "1"),
  "grpc-4": status(200, "4"),
  "grpc-8": status(200, "8"),
  "grpc-13": status(200, "13"),
  "grpc-14": status(200, "14"),
  "grpc-0": status(200, "0"),
  "ratelimited": { kind: "response", status: 429, rateLimited: true },
  "connect": CONNECT,
  "reset-before": RESET_BEFORE,
  "reset-after": RESET_AFTER,
  "timeout": TIMEOUT,
  "refused": REFUSED,
};

const NO_RESPONSE = ["connect", "reset-before", "reset-after", "timeout", "refused"];

/** retryOn → the outcomes it retries; everything else must not be retried. */
const TABLE: [string, string[]][] = [
  ["5xx", ["500", "502", "503", "504", ...NO_RESPONSE]],
  ["gateway-error", ["502", "503", "504", ...NO_RESPONSE]],
  ["reset", NO_RESPONSE],
  ["reset-before-request", ["connect", "reset-before"]],
  ["connect-failure", ["connect"]],
  ["refused-stream", ["refused"]],
  ["retriable-4xx", ["409"]],
  ["retriable-status-codes", []],
  ["503", ["503"]],
  ["429,409", ["429", "409", "ratelimited"]],
  ["retriable-headers", []],
  ["envoy-ratelimited", ["ratelimited"]],
  ["http3-post-connect-failure", []],
  ["cancelled", ["grpc-1"]],
  ["deadline-exceeded", ["grpc-4"]],
  ["resource-exhausted", ["grpc-8"]],
  ["internal", ["grpc-13"]],
  ["unavailable", ["grpc-14"]],
  [DEFAULT_RETRY_ON, ["connect", "refused", "grpc-14", "grpc-1"]],
];

Deno.test("retryOn tokens: table of outcomes", () => {
  for (const [retryOn, expected] of TABLE) {
    const policy = compileRetryPolicy({ attempts: 3, retryOn });
    for (const [name, outcome] of Object.entries(OUTCOMES)) {
      assert.equal(
        policy.shouldRetry(outcome),
        expected.includes(name),
        `retryOn ${retryOn}, outcome ${name}`,
      );
    }
  }
});

Deno.test("default policy: 2 retries, default tokens, 503 and per-try timeouts not retried", () => {
  const policy = compileRetryPolicy(undefined);
  assert.equal(policy.numRetries, 2);
  assert.equal(policy.retryOn, DEFAULT_RETRY_ON);
  assert.equal(policy.shouldRetry(status(503)), false);
  assert.equal(policy.shouldRetry(TIMEOUT), false, "trap 4");
  const withPerTry = compileRetryPolicy({ attempts: 3, perTryTimeout: 2000 });
  assert.equal(withPerTry.perTryTimeout, 2000);
  assert.equal(withPerTry.shouldRetry(TIMEOUT), false, "trap 4: perTryTimeout alone");
  assert.equal(compileRetryPolicy({ attempts: 3, retryOn: "" }).retryOn, DEFAULT_RETRY_ON);
});

Deno.test("attempts 0 removes retries, including the default ones", () => {
  const none = compileRetryPolicy({ attempts: 0 });
  assert.equal(none, NO_RETRY_POLICY);
  for (const outcome of Object.values(OUTCOMES)) assert.equal(none.shouldRetry(outcome), false);
  assert.throws(
    () => compileRetryPolicy({ attempts: 0, retryOn: "5xx" }, { where: "spec.http[0].retries" }),
    /spec\.http\[0\]\.retries: attempts is 0/,
  );
  assert.throws(() => compileRetryPolicy({ attempts: -1 }), /non-negative integer/);
});

Deno.test("numeric codes become retriable status codes", () => {
  const policy = compileRetryPolicy({ attempts: 2, retryOn: "gateway-error,418,418" });
  assert.deepEqual(policy.statusCodes, [418]);
  assert.equal(policy.retryOn, "gateway-error,retriable-status-codes");
  assert.equal(policy.shouldRetry(status(418)), true);
  assert.throws(() => compileRetryPolicy({ attempts: 1, retryOn: "99" }), /not an HTTP status/);
});

Deno.test("unknown tokens are rejected with a clear message", () => {
  assert.throws(
    () => compileRetryPolicy({ attempts: 1, retryOn: "5xx,retry-everything" }),
    /retries\.retryOn: unknown retry condition "retry-everything"; use one of 5xx, gateway-error/,
  );
  assert.throws(
    () => compileRetryPolicy({ attempts: 1, retryOn: "5xx, reset" }),
    /unknown retry condition " reset"; remove the spaces/,
  );
});

function headers(map: Record<string, string>) {
  return (name: string) => map[name];
}

Deno.test("overrides: timeouts", () => {
  const policy = compileRetryPolicy({ attempts: 2, perTryTimeout: 1000 });
  const plain = applyOverrides(policy, 15_000, headers({}));
  assert.equal(plain.policy, policy, "no header: same compiled policy");
  assert.equal(plain.timeout, 15_000);
  assert.equal(plain.perTryTimeout, 1000);
  const t = applyOverrides(
    policy,
    15_000,
    headers({
      "x-envoy-upstream-rq-timeout-ms": "500",
      "x-envoy-upstream-rq-per-try-timeout-ms": "200",
    }),
  );
  assert.equal(t.timeout, 500);
  assert.equal(t.perTryTimeout, 200);
  const ignored = applyOverrides(
    policy,
    15_000,
    headers({
      "x-envoy-upstream-rq-timeout-ms": "500",
      "x-envoy-upstream-rq-per-try-timeout-ms": "500",
    }),
  );
  assert.equal(ignored.perTryTimeout, 1000, "per-try ≥ global is ignored");
  const unbounded = applyOverrides(
    policy,
    15_000,
    headers({
      "x-envoy-upstream-rq-timeout-ms": "0",
      "x-envoy-upstream-rq-per-try-timeout-ms": "90000",
    }),
  );
  assert.equal(unbounded.timeout, 0);
  assert.equal(unbounded.perTryTimeout, 90_000);
  assert.equal(
    applyOverrides(policy, 15_000, headers({ "x-envoy-upstream-rq-timeout-ms": "abc" })).timeout,
    15_000,
  );
});

Deno.test("overrides: retry-on headers OR with the route; max-retries replaces the count", () => {
  const policy = compileRetryPolicy(undefined);
  const r = applyOverrides(
    policy,
    0,
    headers({
      "x-envoy-retry-on": "5xx,bogus",
      "x-envoy-retry-grpc-on": "internal",
      "x-envoy-max-retries": "4",
    }),
  );
  assert.equal(r.policy.numRetries, 4);
  assert.equal(r.policy.shouldRetry(status(503)), true);
  assert.equal(r.policy.shouldRetry(status(200, "13")), true);
  assert.equal(r.policy.shouldRetry(CONNECT), true, "route tokens kept");
  assert.equal(policy.shouldRetry(status(503)), false, "route policy untouched");
  const codes = applyOverrides(
    compileRetryPolicy({ attempts: 1, retryOn: "retriable-status-codes" }),
    0,
    headers({ "x-envoy-retriable-status-codes": "418, 425" }),
  );
  assert.equal(codes.policy.shouldRetry(status(425)), true);
});

Deno.test("overrides: without a route policy only a retry-on header enables retries", () => {
  const none = compileRetryPolicy({ attempts: 0 });
  assert.equal(
    applyOverrides(none, 0, headers({ "x-envoy-max-retries": "3" })).policy.numRetries,
    0,
  );
  const enabled = applyOverrides(none, 0, headers({ "x-envoy-retry-on": "5xx" })).policy;
  assert.equal(enabled.numRetries, 1);
  assert.equal(enabled.shouldRetry(status(500)), true);
  const both = applyOverrides(
    none,
    0,
    headers({ "x-envoy-retry-on": "5xx", "x-envoy-max-retries": "3" }),
  );
  assert.equal(both.policy.numRetries, 3);
});
