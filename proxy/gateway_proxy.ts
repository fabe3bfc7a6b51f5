/**
 * The runtime of a gateway proxy: every snapshot (from the control plane or a `--config` file)
 * is compiled into the pipeline (atomic swap; a compile error rejects the snapshot and the
 * previous configuration stays), then the Gateway servers it carries are planned into listeners
 * and the open sockets are brought in line. Applies are serialized, so listeners never see two
 * snapshots interleave.
 *
 * @module
 */

import type { Snapshot } from "../mesh/model/mod.ts";
import { Pipeline, type PipelineOptions } from "../mesh/pipeline/mod.ts";
import { GatewayListeners, type ListenerInfo } from "./gateway_listeners.ts";
import { planListeners } from "./gateway_plan.ts";
import type { Readiness } from "./lifecycle.ts";
import { meshHealthCheck } from "./runtime.ts";
import type { TcpConnectionRecord } from "./tcp_proxy.ts";

/** Options of {@linkcode GatewayProxy}. */
export interface GatewayProxyOptions {
  /** Marked configured and listening after the first applied snapshot. */
  readiness: Readiness;
  /** Operational messages. */
  log: (line: string) => void;
  /** Per-request records (metrics, access logs). */
  onRequest?: PipelineOptions["onRequest"];
  /** Active health checks of sidecar endpoints; default {@linkcode meshHealthCheck}. */
  healthCheck?: PipelineOptions["healthCheck"];
  /** Per-connection records of L4 listeners. */
  onTcpConnection?: (record: TcpConnectionRecord) => void;
  /** Bind address for servers without `bind`; default `0.0.0.0`. */
  defaultBind?: string;
  /** How long removed listeners' connections may finish; default 5 s. */
  drainMs?: number;
}

/** A gateway proxy's pipeline and listeners. */
export class GatewayProxy {
  readonly #options: GatewayProxyOptions;
  #pipeline: Pipeline | undefined;
  #listeners: GatewayListeners | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #lastWarnings = "";
  #closed = false;

  /** A proxy with no configuration yet. */
  constructor(options: GatewayProxyOptions) {
    this.#options = options;
  }

  /** The pipeline, once the first snapshot was applied. */
  get pipeline(): Pipeline | undefined {
    return this.#pipeline;
  }

  /** The open listeners (for the ready line and `/config_dump`). */
  listeners(): ListenerInfo[] {
    return this.#listeners?.listeners() ?? [];
  }

  /**
   * Compiles `snapshot`, swaps it in and updates the listeners. Throws (rejecting the snapshot)
   * when it does not compile; listeners that cannot be opened are logged, not fatal.
   */
  apply(snapshot: Snapshot): Promise<void> {
    const next = this.#queue.then(() => this.#apply(snapshot));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(snapshot: Snapshot): Promise<void> {
    if (this.#closed) return;
    const log = this.#options.log;
    let pipeline = this.#pipeline;
    const config = pipeline === undefined
      ? (pipeline = new Pipeline(snapshot, {
        onRequest: this.#options.onRequest,
        healthCheck: this.#options.healthCheck ?? meshHealthCheck(),
      })).config
      : pipeline.update(snapshot);
    if (this.#pipeline === undefined) {
      this.#pipeline = pipeline;
      this.#listeners = new GatewayListeners({
        pipeline,
        log,
        drainMs: this.#options.drainMs,
        onTcpConnection: this.#options.onTcpConnection,
      });
    }
    const plan = planListeners(snapshot.resources, { defaultBind: this.#options.defaultBind });
    const warnings = [...config.warnings, ...plan.warnings];
    const text = warnings.join("\n");
    if (text !== this.#lastWarnings) {
      for (const w of warnings) log(`mesh gateway: warning: ${w}`);
      this.#lastWarnings = text;
    }
    if (plan.gateways.length === 0) {
      log(
        `mesh gateway: snapshot ${snapshot.version} selects no Gateway resource for labels ` +
          `${JSON.stringify(snapshot.proxy.labels)}; no listener is open`,
      );
    }
    const problems = await this.#listeners!.apply(plan, snapshot.resources, config);
    for (const p of problems) log(`mesh gateway: ${p}`);
    this.#options.readiness.markConfigured();
    this.#options.readiness.markListening();
  }

  /** Stops accepting, lets connections finish for up to `graceMs`, closes the pipeline. */
  async close(graceMs = 0): Promise<void> {
    this.#closed = true;
    await this.#queue;
    await this.#listeners?.close(graceMs);
    await this.#pipeline?.close();
  }
}
