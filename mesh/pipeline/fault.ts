/**
 * Fault injection (SEMANTICS §2.13): delay and abort are drawn independently, once per request,
 * delay first. An aborted request never goes upstream, is never retried and does not feed outlier
 * detection; the delay is not counted in the route timeout. Flags DI and FI.
 *
 * @module
 */

import type { HTTPFaultInjection } from "../config/mod.ts";
import { Flag } from "./flags.ts";

/** gRPC status names → codes, for `abort.grpcStatus`. */
export const GRPC_STATUS: Readonly<Record<string, number>> = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

/** A compiled fault block. */
export interface CompiledFault {
  /** Delay in ms (0 = no delay part). */
  readonly delayMs: number;
  /** Percentage of requests delayed, 0–100. */
  readonly delayPercent: number;
  /** HTTP status of the abort (200 for a gRPC abort); 0 = no abort part. */
  readonly abortStatus: number;
  /** gRPC status code of a gRPC abort, or -1. */
  readonly abortGrpcStatus: number;
  /** Percentage of requests aborted, 0–100. */
  readonly abortPercent: number;
}

/** Compiles a fault block; throws on an unknown gRPC status name. */
export function compileFault(fault: HTTPFaultInjection): CompiledFault {
  let abortStatus = 0;
  let abortGrpcStatus = -1;
  if (fault.abort) {
    if (fault.abort.grpcStatus !== undefined) {
      const code = GRPC_STATUS[fault.abort.grpcStatus.toUpperCase()];
      if (code === undefined) {
        throw new Error(
          `abort.grpcStatus: unknown gRPC status "${fault.abort.grpcStatus}"; use a name such ` +
            `as UNAVAILABLE`,
        );
      }
      abortStatus = 200;
      abortGrpcStatus = code;
    } else {
      abortStatus = fault.abort.httpStatus ?? 0;
    }
  }
  return {
    delayMs: fault.delay?.fixedDelay ?? 0,
    delayPercent: fault.delay?.percentage ?? 0,
    abortStatus,
    abortGrpcStatus,
    abortPercent: abortStatus > 0 ? fault.abort?.percentage ?? 0 : 0,
  };
}

/** The fault decided for one request. */
export interface FaultDecision {
  /** Delay to wait before going on, in ms (0 = none). */
  readonly delayMs: number;
  /** Status to answer with instead of forwarding (0 = no abort). */
  readonly abortStatus: number;
  /** `grpc-status` to send with a gRPC abort, or -1. */
  readonly abortGrpcStatus: number;
  /** {@linkcode Flag.DI} and/or {@linkcode Flag.FI}. */
  readonly flags: number;
}

/** No fault for this request. */
export const NO_FAULT: FaultDecision = Object.freeze({
  delayMs: 0,
  abortStatus: 0,
  abortGrpcStatus: -1,
  flags: 0,
});

function hit(percent: number, random: () => number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  return random() * 100 < percent;
}

/**
 * Decides the fault for one request: the delay draw, then an independent abort draw. Returns
 * {@linkcode NO_FAULT} (no allocation) when neither fires.
 */
export function decideFault(
  fault: CompiledFault | undefined,
  options: { random?: () => number } = {},
): FaultDecision {
  if (fault === undefined) return NO_FAULT;
  const random = options.random ?? Math.random;
  const delay = fault.delayMs > 0 && hit(fault.delayPercent, random);
  const abort = fault.abortStatus > 0 && hit(fault.abortPercent, random);
  if (!delay && !abort) return NO_FAULT;
  return {
    delayMs: delay ? fault.delayMs : 0,
    abortStatus: abort ? fault.abortStatus : 0,
    abortGrpcStatus: abort ? fault.abortGrpcStatus : -1,
    flags: (delay ? Flag.DI : 0) | (abort ? Flag.FI : 0),
  };
}
