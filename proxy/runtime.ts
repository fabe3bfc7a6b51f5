/**
 * What a sidecar and a gateway share around their listeners: the configuration source
 * (`--control URL` with the last good snapshot in `--state-dir`, or `--config FILE`), the
 * pipeline built from the first snapshot and updated by later ones, request metrics, readiness
 * and signals, and the state the admin server reports.
 *
 * ```ts
 * const runtime = new ProxyRuntime({ identity, control: "http://127.0.0.1:15010", stateDir });
 * const handler = runtime.handler({ internal: true });   // 503 until configured
 * await runtime.start();
 * if (await runtime.configured()) { ... serve until runtime.lifecycle.stopped ... }
 * await runtime.close();
 * ```
 *
 * @module
 */

import { CliError } from "../mesh/cli/mod.ts";
import {
  type ConfigSource,
  DiscoveryClient,
  type SourceStatus,
  StaticConfigError,
  StaticConfigSource,
} from "../mesh/discovery/mod.ts";
import type { Handler } from "../mesh/http/mod.ts";
import type { ProxyIdentity, Registration, Snapshot } from "../mesh/model/mod.ts";
import {
  type HandlerOptions,
  HEALTH_CHECK_DEFAULTS,
  type HealthCheckOptions,
  Pipeline,
  type PipelineOptions,
} from "../mesh/pipeline/mod.ts";
import type { AdminSource } from "./admin.ts";
import { Lifecycle, type Readiness } from "./lifecycle.ts";
import { ProxyMetrics } from "./metrics.ts";

/** Environment variable overriding the active health-check interval (milliseconds; tests). */
export const HEALTH_CHECK_INTERVAL_ENV = "MESH_HEALTH_CHECK_INTERVAL";

/**
 * The active health checks sidecars and gateways run: every 5 s (or `MESH_HEALTH_CHECK_INTERVAL`
 * milliseconds, read from the environment so tests can check faster without a CLI flag), 1 s
 * timeout, thresholds 2/2, and only against endpoints that are sidecars (instances from the
 * registry): the peer sidecar answers the probe itself (`proxy/sidecar.ts`), whereas an
 * external server behind a ServiceEntry or WorkloadEntry would answer 404.
 */
export function meshHealthCheck(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): HealthCheckOptions {
  const raw = env(HEALTH_CHECK_INTERVAL_ENV);
  const interval = raw === undefined ? NaN : Number(raw);
  return {
    intervalMs: Number.isInteger(interval) && interval > 0
      ? interval
      : HEALTH_CHECK_DEFAULTS.intervalMs,
    timeoutMs: 1000,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    only: (endpoint) => endpoint.source === "registry",
  };
}

/** Options of {@linkcode ProxyRuntime}. */
export interface ProxyRuntimeOptions {
  identity: ProxyIdentity;
  /** Control plane URL (`--control`); exactly one of `control` and `config`. */
  control?: string;
  /** Static configuration file (`--config`). */
  config?: string;
  /** Bearer token for the control plane. */
  token?: string;
  /** Where the last good snapshot is kept (control mode). */
  stateDir?: string;
  /** DNS domain (static mode and metrics); default `cluster.local`. */
  domain?: string;
  /**
   * Pipeline options (the runtime sets `onRequest` for metrics and calls yours after it;
   * `healthCheck` defaults to {@linkcode meshHealthCheck}).
   */
  pipeline?: PipelineOptions;
  /** Called with every signal a proxy handles (exec mode forwards them to the app). */
  forwardSignal?: (signal: Deno.Signal) => void;
  /** Operational messages (default stderr). */
  log?: (line: string) => void;
}

/** A proxy's configuration, pipeline, metrics and lifecycle. */
export class ProxyRuntime implements AdminSource {
  /** Who the proxy is. */
  readonly identity: ProxyIdentity;
  /** Signals and readiness. */
  readonly lifecycle: Lifecycle;
  /** Request metrics. */
  readonly metrics: ProxyMetrics;
  readonly #options: ProxyRuntimeOptions;
  readonly #log: (line: string) => void;
  readonly #source: ConfigSource;
  readonly #configured = Promise.withResolvers<void>();
  readonly #listeners: Record<string, unknown>[] = [];
  #pipeline: Pipeline | undefined;

  /**
   * Creates the runtime and its configuration source; throws a {@linkcode CliError} unless
   * exactly one of `control` and `config` is given.
   */
  constructor(options: ProxyRuntimeOptions) {
    if ((options.control === undefined) === (options.config === undefined)) {
      throw new CliError(
        options.control === undefined
          ? "give --control URL (a control plane) or --config FILE (static configuration)"
          : "give either --control or --config, not both",
      );
    }
    this.identity = options.identity;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.metrics = new ProxyMetrics(options.identity, { domain: options.domain });
    this.lifecycle = new Lifecycle({
      reload: () => this.reload(),
      forward: options.forwardSignal,
      log: this.#log,
    });
    const apply = (snapshot: Snapshot) => this.#apply(snapshot);
    if (options.control !== undefined) {
      let url: URL;
      try {
        url = new URL(options.control);
      } catch {
        throw new CliError(
          `--control ${options.control}: give the control plane's URL, e.g. http://127.0.0.1:15010`,
        );
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new CliError(`--control ${options.control}: use an http:// or https:// URL`);
      }
      this.#source = new DiscoveryClient({
        control: options.control,
        token: options.token,
        identity: options.identity,
        stateDir: options.stateDir,
        apply,
        log: this.#log,
      });
    } else {
      this.#source = new StaticConfigSource({
        file: options.config!,
        identity: options.identity,
        domain: options.domain,
        apply,
        log: this.#log,
      });
    }
  }

  /** What `/ready` reports. */
  get readiness(): Readiness {
    return this.lifecycle.readiness;
  }

  /** The pipeline, once the first snapshot was applied. */
  pipeline(): Pipeline | undefined {
    return this.#pipeline;
  }

  /** The configuration source's state. */
  source(): SourceStatus | undefined {
    return this.#source.status();
  }

  /** Listeners, for `/config_dump`. */
  listeners(): Record<string, unknown>[] {
    return this.#listeners;
  }

  /** Records a listener for `/config_dump`. */
  addListener(listener: Record<string, unknown>): void {
    this.#listeners.push(listener);
  }

  /**
   * A listener handler: the pipeline's once configured, a 503 before (readiness keeps traffic
   * away until then anyway).
   */
  handler(options: HandlerOptions): Handler {
    let inner: Handler | undefined;
    return (req, res) => {
      if (inner === undefined) {
        const pipeline = this.#pipeline;
        if (pipeline === undefined) {
          res.keepAlive = false;
          return res.respond(
            503,
            ["content-type", "text/plain"],
            "no configuration yet: the proxy is waiting for its first snapshot\n",
          );
        }
        inner = pipeline.handler(options);
      }
      return inner(req, res);
    };
  }

  /**
   * Handles signals, then loads the configuration: the static file (throws a CliError when it is
   * unusable) or the persisted snapshot plus the control-plane stream in the background.
   */
  async start(): Promise<void> {
    this.lifecycle.install();
    try {
      await this.#source.start();
    } catch (error) {
      if (error instanceof StaticConfigError) throw new CliError(error.message);
      throw error;
    }
  }

  /**
   * Resolves true once the first snapshot is applied, false when a stop signal came first.
   * Logs every 10 s while it waits.
   */
  async configured(): Promise<boolean> {
    if (this.#pipeline !== undefined) return true;
    const timer = setInterval(() => {
      const status = this.#source.status();
      this.#log(
        `mesh: still waiting for the first snapshot` +
          (this.#options.control ? ` from ${this.#options.control}` : "") +
          (status.lastError ? ` (${status.lastError})` : ""),
      );
    }, 10_000);
    try {
      return await Promise.race([
        this.#configured.promise.then(() => true),
        this.lifecycle.stopped.then(() => false),
      ]);
    } finally {
      clearInterval(timer);
    }
  }

  /** Starts registering (control mode; ignored in static mode). */
  register(registration: Registration): void {
    if (this.#source instanceof DiscoveryClient) this.#source.register(registration);
  }

  /** Removes the registration (before draining). */
  async deregister(): Promise<void> {
    if (this.#source instanceof DiscoveryClient) await this.#source.deregister();
  }

  /** SIGHUP: re-reads a static file; the control plane's stream needs no reload. */
  async reload(): Promise<void> {
    if (this.#source instanceof StaticConfigSource) {
      this.#log(`mesh: SIGHUP: reloading ${this.#options.config}`);
      await this.#source.reload();
    } else {
      this.#log("mesh: SIGHUP: configuration follows the control plane; nothing to reload");
    }
  }

  /** Stops the source, the pipeline and signal handling. */
  async close(): Promise<void> {
    await this.#source.stop().catch(() => {});
    await this.#pipeline?.close();
    this.lifecycle.dispose();
  }

  #apply(snapshot: Snapshot): void {
    if (this.#pipeline === undefined) {
      const user = this.#options.pipeline?.onRequest;
      const metrics = this.metrics;
      this.#pipeline = new Pipeline(snapshot, {
        ...this.#options.pipeline,
        healthCheck: this.#options.pipeline?.healthCheck ?? meshHealthCheck(),
        onRequest: user === undefined ? (r) => metrics.observe(r) : (r) => {
          metrics.observe(r);
          user(r);
        },
      });
      this.readiness.markConfigured();
      this.#configured.resolve();
    } else {
      this.#pipeline.update(snapshot);
    }
  }
}
