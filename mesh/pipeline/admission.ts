/**
 * Connection-pool circuit breaking (SEMANTICS §3.5): cluster-wide counters per client proxy.
 * `http2MaxRequests` caps requests in flight, `maxRetries` caps concurrent retries,
 * `tcp.maxConnections` caps connections, and once it is reached requests wait as *pending*, up to
 * `http1MaxPendingRequests`. Anything over a cap is an overflow: 503, flag UO,
 * `x-envoy-overloaded: true`. Every operation is O(1) and allocation-free (waiters are an
 * intrusive linked list the caller owns).
 *
 * @module
 */

import type { ConnectionPoolSettings } from "../config/mod.ts";

/** Result of an admission check. */
export type Admit = "admit" | "overflow";

/** Result of asking for a connection slot. */
export type SlotResult = "granted" | "queued" | "overflow";

/** The limits enforced. */
export interface AdmissionLimits {
  /** Connections (`tcp.maxConnections`). */
  readonly maxConnections: number;
  /** Requests waiting for a connection (`http.http1MaxPendingRequests`). */
  readonly maxPendingRequests: number;
  /** Requests in flight (`http.http2MaxRequests`). */
  readonly maxRequests: number;
  /** Concurrent retries (`http.maxRetries`). */
  readonly maxRetries: number;
}

/** Limits from a connection-pool block (complete, as normalized). */
export function limitsFrom(pool: ConnectionPoolSettings): AdmissionLimits {
  return {
    maxConnections: pool.tcp.maxConnections,
    maxPendingRequests: pool.http.http1MaxPendingRequests,
    maxRequests: pool.http.http2MaxRequests,
    maxRetries: pool.http.maxRetries,
  };
}

/**
 * A request waiting for a connection slot. The pool creates one per waiting request (or reuses
 * one per request); `grant` is called when a slot frees up.
 */
export class SlotWaiter {
  /** Called (once) when the waiter receives a connection slot. */
  grant: () => void;
  /** @internal list links */
  prev: SlotWaiter | null = null;
  /** @internal */
  next: SlotWaiter | null = null;
  /** @internal whether it is in a queue */
  queued = false;

  /** Creates a waiter that calls `grant` when served. */
  constructor(grant: () => void) {
    this.grant = grant;
  }
}

/** Per-cluster circuit-breaker counters. */
export class Admission {
  /** The limits in force. */
  readonly limits: AdmissionLimits;
  /** Requests in flight. */
  activeRequests = 0;
  /** Retries in flight. */
  activeRetries = 0;
  /** Connection slots held. */
  activeConnections = 0;
  /** Requests waiting for a connection slot. */
  pendingRequests = 0;
  /** Overflows so far (for stats). */
  overflows = 0;
  #head: SlotWaiter | null = null;
  #tail: SlotWaiter | null = null;

  /** Creates counters for `limits`. */
  constructor(limits: AdmissionLimits) {
    this.limits = limits;
  }

  /** Admits a request under `http2MaxRequests`; on "admit" call {@linkcode releaseRequest} once done. */
  admitRequest(): Admit {
    if (this.activeRequests >= this.limits.maxRequests) {
      this.overflows++;
      return "overflow";
    }
    this.activeRequests++;
    return "admit";
  }

  /** Ends an admitted request. */
  releaseRequest(): void {
    if (this.activeRequests > 0) this.activeRequests--;
  }

  /** Admits a retry under `maxRetries`; "overflow" means skip the retry and return the failure. */
  admitRetry(): Admit {
    if (this.activeRetries >= this.limits.maxRetries) {
      this.overflows++;
      return "overflow";
    }
    this.activeRetries++;
    return "admit";
  }

  /** Ends an admitted retry. */
  releaseRetry(): void {
    if (this.activeRetries > 0) this.activeRetries--;
  }

  /**
   * Asks for a connection slot (the pool calls it before opening a new connection): "granted"
   * (a slot is held: release it with {@linkcode releaseConnection} when the connection closes),
   * "queued" (`waiter.grant` will be called; or {@linkcode cancel} it), or "overflow" (the
   * pending queue is full: 503 UO).
   */
  acquireConnection(waiter: SlotWaiter): SlotResult {
    if (this.activeConnections < this.limits.maxConnections) {
      this.activeConnections++;
      return "granted";
    }
    if (this.pendingRequests >= this.limits.maxPendingRequests) {
      this.overflows++;
      return "overflow";
    }
    this.pendingRequests++;
    waiter.queued = true;
    waiter.prev = this.#tail;
    waiter.next = null;
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    return "queued";
  }

  /**
   * Counts a request that waits for a busy connection to become idle (pool at its connection
   * cap) without needing a new slot: "queued" or "overflow". Pair with {@linkcode leavePending}.
   */
  enterPending(): Admit {
    if (this.pendingRequests >= this.limits.maxPendingRequests) {
      this.overflows++;
      return "overflow";
    }
    this.pendingRequests++;
    return "admit";
  }

  /** Ends a wait counted by {@linkcode enterPending}. */
  leavePending(): void {
    if (this.pendingRequests > 0) this.pendingRequests--;
  }

  /** Frees a connection slot, handing it straight to the oldest waiter if any. */
  releaseConnection(): void {
    const next = this.#head;
    if (next === null) {
      if (this.activeConnections > 0) this.activeConnections--;
      return;
    }
    this.#unlink(next);
    next.grant();
  }

  /** Removes a queued waiter (timeout, downstream gone); false when it was not queued. */
  cancel(waiter: SlotWaiter): boolean {
    if (!waiter.queued) return false;
    this.#unlink(waiter);
    return true;
  }

  /** Number of queued waiters (equals pending slot requests). */
  get queued(): number {
    let n = 0;
    for (let w = this.#head; w !== null; w = w.next) n++;
    return n;
  }

  #unlink(waiter: SlotWaiter): void {
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = null;
    waiter.next = null;
    waiter.queued = false;
    if (this.pendingRequests > 0) this.pendingRequests--;
  }

  /** Counters for `/clusters` and `/stats`. */
  describe(): Record<string, number> {
    return {
      activeRequests: this.activeRequests,
      activeRetries: this.activeRetries,
      activeConnections: this.activeConnections,
      pendingRequests: this.pendingRequests,
      overflows: this.overflows,
    };
  }
}
