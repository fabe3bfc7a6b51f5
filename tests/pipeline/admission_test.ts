import assert from "node:assert/strict";
import { Admission, SlotWaiter } from "../../mesh/pipeline/admission.ts";

const limits = { maxConnections: 1, maxPendingRequests: 2, maxRequests: 3, maxRetries: 1 };

Deno.test("http2MaxRequests caps requests in flight; release readmits", () => {
  const a = new Admission(limits);
  assert.equal(a.admitRequest(), "admit");
  assert.equal(a.admitRequest(), "admit");
  assert.equal(a.admitRequest(), "admit");
  assert.equal(a.admitRequest(), "overflow");
  a.releaseRequest();
  assert.equal(a.admitRequest(), "admit");
  assert.equal(a.overflows, 1);
});

Deno.test("maxRetries caps concurrent retries", () => {
  const a = new Admission(limits);
  assert.equal(a.admitRetry(), "admit");
  assert.equal(a.admitRetry(), "overflow");
  a.releaseRetry();
  assert.equal(a.admitRetry(), "admit");
});

Deno.test("connections over maxConnections queue up to http1MaxPendingRequests, FIFO, cancellable", () => {
  const a = new Admission(limits);
  const order: string[] = [];
  const w = (name: string) => new SlotWaiter(() => order.push(name));
  assert.equal(a.acquireConnection(w("first")), "granted");
  const second = w("second");
  const third = w("third");
  assert.equal(a.acquireConnection(second), "queued");
  assert.equal(a.acquireConnection(third), "queued");
  assert.equal(a.acquireConnection(w("fourth")), "overflow");
  assert.equal(a.pendingRequests, 2);
  assert.equal(a.cancel(second), true);
  assert.equal(a.cancel(second), false);
  assert.equal(a.pendingRequests, 1);
  a.releaseConnection(); // slot handed to "third"
  assert.deepEqual(order, ["third"]);
  assert.equal(a.activeConnections, 1);
  assert.equal(a.pendingRequests, 0);
  a.releaseConnection();
  assert.equal(a.activeConnections, 0);
  assert.equal(a.enterPending(), "admit");
  assert.equal(a.enterPending(), "admit");
  assert.equal(a.enterPending(), "overflow");
  a.leavePending();
  assert.equal(a.pendingRequests, 1);
});
