/**
 * Passive outlier detection (SEMANTICS §3.6): results update per-host counters inline; a host
 * reaching a consecutive-error threshold is ejected at once (subject to the max-ejection rule,
 * which here always allows the first ejection, §0); an `interval` sweep returns hosts whose
 * ejection has expired and decays the ejection multiplier of healthy hosts.
 *
 * State is per client proxy and per cluster (trap 9): one detector per {@linkcode EndpointSet}.
 * Durations are milliseconds; the clock is the caller's (`now` arguments), so nothing here
 * starts timers.
 *
 * @module
 */

import type { Endpoint, EndpointSet } from "./endpoints.ts";

/** Istio's `OutlierDetection`, durations as milliseconds under the same names. */
export interface OutlierSettings {
  /** Consecutive 5xx (and unsplit local-origin failures) that eject a host; 0 disables. */
  consecutive5xxErrors: number;
  /** Consecutive 502/503/504 (and unsplit local-origin failures) that eject; 0 disables. */
  consecutiveGatewayErrors: number;
  /** Count local-origin failures (connect failure, timeout, reset) separately. */
  splitExternalLocalOriginErrors: boolean;
  /** Consecutive local-origin failures that eject when split; 0 disables. */
  consecutiveLocalOriginFailures: number;
  /** Sweep period in ms. */
  interval: number;
  /** Base ejection time in ms; multiplied by the times ejected. */
  baseEjectionTime: number;
  /** Cap on ejected hosts in percent (beyond the first ejection); 0 means 10. */
  maxEjectionPercent: number;
  /** Panic threshold in percent for the cluster; 0 disables panic. */
  minHealthPercent: number;
  /** Statuses that count as errors instead of 500–599; undefined = 5xx. */
  outlierDetectionHttpErrorCodes?: readonly number[];
}

/** Defaults when the block is present (SEMANTICS §3.6). */
export const OUTLIER_DEFAULTS: Readonly<OutlierSettings> = Object.freeze({
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailures: 5,
  interval: 10_000,
  baseEjectionTime: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
});

/** Envoy's default maximum ejection time; the cap is max(this, baseEjectionTime). */
export const MAX_EJECTION_TIME = 300_000;

/** Fills unset fields with the defaults; `maxEjectionPercent: 0` becomes 10 (trap 8). */
export function withOutlierDefaults(partial: Partial<OutlierSettings> = {}): OutlierSettings {
  const settings: OutlierSettings = { ...OUTLIER_DEFAULTS };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[key] = value;
  }
  if (!settings.maxEjectionPercent) {
    settings.maxEjectionPercent = OUTLIER_DEFAULTS.maxEjectionPercent;
  }
  return settings;
}

/** A failure with no upstream response, or a successful connect (resets split counting). */
export type LocalOriginEvent = "connect-failure" | "timeout" | "reset" | "connect-success";

/** An attempt's result: an HTTP status, or a local-origin event. */
export type OutlierResult = number | LocalOriginEvent;

const ERROR = 1;
const GATEWAY = 2;

/** Per-cluster outlier detector over an endpoint set. */
export class OutlierDetector {
  /** The effective settings (defaults applied). */
  readonly settings: OutlierSettings;
  readonly #set: EndpointSet;
  readonly #class = new Uint8Array(600);
  readonly #cap: number;

  /** Creates a detector for `set`; `settings` may be partial (defaults fill the rest). */
  constructor(set: EndpointSet, settings: Partial<OutlierSettings> = {}) {
    this.settings = withOutlierDefaults(settings);
    this.#set = set;
    this.#cap = Math.max(MAX_EJECTION_TIME, this.settings.baseEjectionTime);
    const codes = this.settings.outlierDetectionHttpErrorCodes;
    for (let s = 0; s < 600; s++) {
      const error = codes ? codes.includes(s) : s >= 500;
      this.#class[s] = (error ? ERROR : 0) | (s >= 502 && s <= 504 ? GATEWAY : 0);
    }
  }

  /**
   * Records one attempt's result for `endpoint` at time `now` (ms). Returns true when this
   * result ejected the host.
   */
  report(endpoint: Endpoint, result: OutlierResult, now: number): boolean {
    const state = endpoint.outlier;
    const s = this.settings;
    if (typeof result === "number") {
      const kind = result >= 0 && result < 600 ? this.#class[result] : 0;
      if (kind === 0) {
        state.consecutive5xx = 0;
        state.consecutiveGateway = 0;
        return false;
      }
      if (kind & ERROR) state.consecutive5xx++;
      // A non-gateway error breaks a run of gateway errors (as Envoy).
      state.consecutiveGateway = kind & GATEWAY ? state.consecutiveGateway + 1 : 0;
    } else if (s.splitExternalLocalOriginErrors) {
      if (result === "connect-success") {
        state.consecutiveLocalOrigin = 0;
        return false;
      }
      state.consecutiveLocalOrigin++;
      if (
        s.consecutiveLocalOriginFailures > 0 &&
        state.consecutiveLocalOrigin >= s.consecutiveLocalOriginFailures
      ) return this.#eject(endpoint, now);
      return false;
    } else {
      if (result === "connect-success") return false;
      // Unsplit, a local-origin failure counts like a 503.
      state.consecutive5xx++;
      state.consecutiveGateway++;
    }
    if (s.consecutive5xxErrors > 0 && state.consecutive5xx >= s.consecutive5xxErrors) {
      return this.#eject(endpoint, now);
    }
    if (s.consecutiveGatewayErrors > 0 && state.consecutiveGateway >= s.consecutiveGatewayErrors) {
      return this.#eject(endpoint, now);
    }
    return false;
  }

  /** Whether the max-ejection rule lets one more host out: the first always, then ≤ max %. */
  canEject(): boolean {
    const ejected = this.#set.ejectedCount();
    if (ejected === 0) return true;
    return ((ejected + 1) * 100) / this.#set.size <= this.settings.maxEjectionPercent;
  }

  #eject(endpoint: Endpoint, now: number): boolean {
    const state = endpoint.outlier;
    if (state.ejected || !this.canEject()) return false;
    const base = this.settings.baseEjectionTime;
    // The multiplier stops growing once the ejection time reaches the cap, so decay after a
    // long outage brings it back down in a bounded number of sweeps.
    if (state.multiplier === 0 || base * (state.multiplier + 1) <= this.#cap) state.multiplier++;
    resetCounters(endpoint);
    this.#set.setEjected(endpoint, true, now + Math.min(base * state.multiplier, this.#cap));
    return true;
  }

  /**
   * The `interval` sweep: returns expired hosts to the pool (and lists them), and decays the
   * multiplier of every host that stayed in.
   */
  sweep(now: number): Endpoint[] {
    const returned: Endpoint[] = [];
    for (const endpoint of this.#set.endpoints) {
      const state = endpoint.outlier;
      if (state.ejected) {
        if (now >= state.ejectedUntil) {
          resetCounters(endpoint);
          this.#set.setEjected(endpoint, false);
          returned.push(endpoint);
        }
      } else if (state.multiplier > 0) {
        state.multiplier--;
      }
    }
    return returned;
  }

  /** Returns a host at once (a successful active health check does this). */
  uneject(endpoint: Endpoint): void {
    if (!endpoint.outlier.ejected) return;
    resetCounters(endpoint);
    this.#set.setEjected(endpoint, false);
  }
}

function resetCounters(endpoint: Endpoint): void {
  endpoint.outlier.consecutive5xx = 0;
  endpoint.outlier.consecutiveGateway = 0;
  endpoint.outlier.consecutiveLocalOrigin = 0;
}
