import assert from "node:assert/strict";
import { compileFault, decideFault, NO_FAULT } from "../../mesh/pipeline/fault.ts";
import { Flag } from "../../mesh/pipeline/flags.ts";

function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

Deno.test("delay and abort are drawn independently, delay first", () => {
  const fault = compileFault({
    delay: { fixedDelay: 5000, percentage: 10 },
    abort: { httpStatus: 503, percentage: 50 },
  });
  // delay draw 0.05 (< 10 %), abort draw 0.4 (< 50 %): both.
  const both = decideFault(fault, { random: sequence(0.05, 0.4) });
  assert.deepEqual(both, {
    delayMs: 5000,
    abortStatus: 503,
    abortGrpcStatus: -1,
    flags: Flag.DI | Flag.FI,
  });
  const delayOnly = decideFault(fault, { random: sequence(0.05, 0.6) });
  assert.equal(delayOnly.delayMs, 5000);
  assert.equal(delayOnly.abortStatus, 0);
  assert.equal(delayOnly.flags, Flag.DI);
  const abortOnly = decideFault(fault, { random: sequence(0.5, 0.1) });
  assert.equal(abortOnly.delayMs, 0);
  assert.equal(abortOnly.flags, Flag.FI);
  assert.equal(decideFault(fault, { random: sequence(0.5, 0.9) }), NO_FAULT);
  assert.equal(decideFault(undefined), NO_FAULT);
});

Deno.test("100 % always fires without drawing; 0 % never; gRPC aborts answer 200 + status", () => {
  const never = () => {
    throw new Error("no draw expected");
  };
  const always = compileFault({ delay: { fixedDelay: 7, percentage: 100 } });
  assert.equal(decideFault(always, { random: never }).delayMs, 7);
  const off = compileFault({ abort: { httpStatus: 500, percentage: 0 } });
  assert.equal(decideFault(off, { random: never }), NO_FAULT);
  const grpc = compileFault({ abort: { grpcStatus: "UNAVAILABLE", percentage: 100 } });
  const d = decideFault(grpc);
  assert.equal(d.abortStatus, 200);
  assert.equal(d.abortGrpcStatus, 14);
  assert.throws(() => compileFault({ abort: { grpcStatus: "NOPE", percentage: 1 } }), /NOPE/);
});

Deno.test("percentages are respected over many requests", () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const fault = compileFault({ abort: { httpStatus: 500, percentage: 30 } });
  let aborted = 0;
  for (let i = 0; i < 5000; i++) if (decideFault(fault, { random }).abortStatus) aborted++;
  assert.ok(Math.abs(aborted / 5000 - 0.3) < 0.03, String(aborted));
});
