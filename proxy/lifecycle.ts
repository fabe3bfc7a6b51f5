/**
 * A proxy's lifecycle, shared by the sidecar and the gateway: readiness (first snapshot applied
 * and listeners accepting, not draining), signals (SIGTERM/SIGINT stop, SIGHUP reloads), and the
 * drain (keep serving briefly so callers learn the instance is gone, then stop accepting and let
 * requests in flight finish, bounded by `--drain-timeout`).
 *
 * ```ts
 * const life = new Lifecycle({ reload: () => source.reload() });
 * life.install();
 * const signal = await life.stopped;   // SIGTERM or SIGINT
 * life.readiness.startDraining();      // /ready answers 503 from now on
 * await drainServers([inbound, outbound], { timeoutMs: 5000 });
 * life.dispose();
 * ```
 *
 * @module
 */

import { UsageError } from "../mesh/cli/mod.ts";
import { parseDuration } from "../mesh/config/mod.ts";

/** Default `--drain-timeout`. */
export const DEFAULT_DRAIN_TIMEOUT = "5s";

/** Whether a proxy should receive traffic: `/ready` answers 200 only when {@link ready}. */
export class Readiness {
  #configured = false;
  #listening = false;
  #draining = false;

  /** The first snapshot was applied. */
  markConfigured(): void {
    this.#configured = true;
  }

  /** Every listener accepts connections. */
  markListening(): void {
    this.#listening = true;
  }

  /** Shutting down: never ready again. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Configured, listening and not draining. */
  get ready(): boolean {
    return this.#configured && this.#listening && !this.#draining;
  }

  /** Whether the first snapshot was applied. */
  get configured(): boolean {
    return this.#configured;
  }

  /** Whether the proxy is shutting down. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Why the proxy is not ready (`""` when it is), for `/ready`'s body. */
  reason(): string {
    if (this.#draining) return "draining";
    if (!this.#configured) return "waiting for the first configuration snapshot";
    if (!this.#listening) return "listeners not open yet";
    return "";
  }
}

/** Options of {@linkcode Lifecycle}. */
export interface LifecycleOptions {
  /** Called on SIGHUP (reload the configuration); errors are logged. */
  reload?: () => unknown;
  /** Called on every SIGTERM/SIGINT/SIGHUP, e.g. to pass it to an application (exec mode). */
  forward?: (signal: Deno.Signal) => void;
  /** Where operational messages go (default stderr). */
  log?: (line: string) => void;
}

/** Signals a proxy handles. */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT"];

/** Readiness plus signal handling for one proxy process. */
export class Lifecycle {
  /** What `/ready` reports. */
  readonly readiness: Readiness = new Readiness();
  readonly #options: LifecycleOptions;
  readonly #stopped = Promise.withResolvers<Deno.Signal>();
  readonly #listeners: [Deno.Signal, () => void][] = [];
  #stopSignal: Deno.Signal | undefined;

  /** A lifecycle; call {@link install} to start handling signals. */
  constructor(options: LifecycleOptions = {}) {
    this.#options = options;
  }

  /** Resolves with the first SIGTERM or SIGINT (or {@link requestStop}'s signal). */
  get stopped(): Promise<Deno.Signal> {
    return this.#stopped.promise;
  }

  /** The signal that stopped the proxy, if any. */
  get stopSignal(): Deno.Signal | undefined {
    return this.#stopSignal;
  }

  /** Starts handling SIGTERM, SIGINT and SIGHUP. */
  install(): void {
    if (this.#listeners.length > 0) return;
    for (const signal of STOP_SIGNALS) {
      const listener = () => {
        this.#options.forward?.(signal);
        this.requestStop(signal);
      };
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    }
    if (Deno.build.os !== "windows") {
      const listener = () => {
        this.#options.forward?.("SIGHUP");
        this.#reload();
      };
      Deno.addSignalListener("SIGHUP", listener);
      this.#listeners.push(["SIGHUP", listener]);
    }
  }

  /** Stops as if `signal` arrived (the first request wins). */
  requestStop(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#stopSignal !== undefined) return;
    this.#stopSignal = signal;
    this.#stopped.resolve(signal);
  }

  /** Stops handling signals. */
  dispose(): void {
    for (const [signal, listener] of this.#listeners) {
      try {
        Deno.removeSignalListener(signal, listener);
      } catch {
        // not installed
      }
    }
    this.#listeners.length = 0;
  }

  async #reload(): Promise<void> {
    const reload = this.#options.reload;
    if (reload === undefined) return;
    const log = this.#options.log ?? ((line: string) => console.error(line));
    try {
      await reload();
    } catch (error) {
      log(`mesh: reload failed: ${error instanceof Error ? error.message : error}`);
    }
  }
}

/** Something that stops accepting and finishes what it is serving within `graceMs`. */
export interface Drainable {
  close(graceMs?: number): Promise<void>;
}

/** Options of {@linkcode drainServers}. */
export interface DrainOptions {
  /** The whole drain's budget in milliseconds. */
  timeoutMs: number;
  /**
   * Keep accepting for this long first (bounded by half the budget), so callers whose
   * configuration still lists this instance are not refused; default 0.
   */
  holdMs?: number;
}

/**
 * Drains `servers` together: optionally keeps accepting for `holdMs`, then stops accepting and
 * lets in-flight exchanges finish; whatever is still open when the budget ends is closed.
 */
export async function drainServers(
  servers: readonly Drainable[],
  options: DrainOptions,
): Promise<void> {
  const started = Date.now();
  const hold = Math.min(options.holdMs ?? 0, Math.floor(options.timeoutMs / 2));
  if (hold > 0) await new Promise((resolve) => setTimeout(resolve, hold));
  const left = Math.max(0, options.timeoutMs - (Date.now() - started));
  await Promise.allSettled(servers.map((s) => s.close(left)));
}

/** Parses `--drain-timeout` (a duration such as `5s`, `500ms`, `0s`). */
export function parseDrainTimeout(text: string | undefined): number {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined || ms < 0) {
    throw new UsageError(`--drain-timeout ${text ?? ""}: give a duration such as 5s or 500ms`);
  }
  return ms;
}

/** The exit code of a child that ended with `status` (128 + signal number when signalled). */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal !== null && status.signal !== undefined) {
    return 128 + (SIGNAL_NUMBERS[status.signal] ?? 15);
  }
  return status.code;
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};
