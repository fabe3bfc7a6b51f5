/** Connection slots: granted, queued as pending, overflowing, or timing out in the queue. */

import assert from "node:assert/strict";
import { Admission } from "../../mesh/pipeline/admission.ts";
import { Flag } from "../../mesh/pipeline/flags.ts";
import {
  endAttempt,
  flagBit,
  originalDestination,
  Outcome,
  takeSlot,
} from "../../mesh/pipeline/forward_attempt.ts";
import type { RequestContext } from "../../mesh/pipeline/request_context.ts";

function ctx(deadline = 0): RequestContext {
  return {
    deadline,
    slot: undefined,
    failure: 0,
    endpoint: undefined,
  } as unknown as RequestContext;
}

const limits = { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 3 };

Deno.test("one slot: the second waits as pending, the third overflows (UO)", async () => {
  const adm = new Admission(limits);
  const a = ctx();
  assert.equal(takeSlot(a, adm), Outcome.RESPONSE);
  assert.equal(a.slot, adm);
  const b = ctx();
  const waiting = takeSlot(b, adm);
  assert.ok(waiting instanceof Promise);
  const c = ctx();
  assert.equal(await takeSlot(c, adm), Outcome.OVERFLOW);
  assert.equal(c.failure, Flag.UO);
  assert.equal(adm.pendingRequests, 1);
  endAttempt(a);
  assert.equal(await waiting, Outcome.RESPONSE);
  assert.equal(b.slot, adm);
  assert.equal(adm.activeConnections, 1, "the slot was handed over");
  endAttempt(b);
  assert.equal(adm.activeConnections, 0);
  assert.equal(adm.pendingRequests, 0);
});

Deno.test("a pending request gives up at the route deadline (UT)", async () => {
  const adm = new Admission(limits);
  const a = ctx();
  takeSlot(a, adm);
  const b = ctx(Date.now() + 30);
  assert.equal(await takeSlot(b, adm), Outcome.ROUTE_TIMEOUT);
  assert.equal(b.failure, Flag.UT);
  assert.equal(adm.pendingRequests, 0);
  endAttempt(a);
  assert.equal(adm.activeConnections, 0);
});

Deno.test("original destinations and flag names", () => {
  assert.deepEqual(originalDestination("api.example.com:8443"), {
    host: "api.example.com",
    port: 8443,
  });
  assert.deepEqual(originalDestination("api.example.com"), { host: "api.example.com", port: 80 });
  assert.deepEqual(originalDestination("[::1]:9000"), { host: "::1", port: 9000 });
  assert.equal(flagBit("UF"), Flag.UF);
  assert.equal(flagBit("-"), 0);
});
