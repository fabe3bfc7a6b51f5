/**
 * The static configuration source (`mesh sidecar|gateway --config FILE`):
 * the same Istio YAML a control plane takes, endpoints from ServiceEntry and
 * WorkloadEntry, turned into a snapshot by the same builder the control
 * plane uses. The file is re-read when it changes (a short debounce covers
 * editors that write in several steps) and on {@link StaticConfigSource.reload}
 * (SIGHUP). A file that does not validate, or a snapshot the proxy rejects,
 * leaves the previous configuration in place and logs where the errors are.
 *
 * Hosts of `resolution: DNS` ServiceEntries are not resolved here: DNS
 * endpoints given as names define no instances in static mode.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { formatDiagnostic, normalize, validateSource } from "../config/mod.ts";
import {
  buildSnapshot,
  DEFAULT_MESH_SETTINGS,
  deriveInstances,
  type ProxyIdentity,
  type Snapshot,
  toServiceInstance,
} from "../model/mod.ts";
import type { ApplySnapshot, ConfigSource, SourceStatus } from "./source.ts";

/** Options of {@link StaticConfigSource}. */
export interface StaticSourceOptions {
  /** The YAML (or JSON) file of resources. */
  file: string;
  identity: ProxyIdentity;
  /** Compiles and swaps in a snapshot; throwing rejects it. */
  apply: ApplySnapshot;
  /** DNS domain for short names (default `cluster.local`). */
  domain?: string;
  /** Re-read the file when it changes (default true). */
  watch?: boolean;
  /** Quiet time after a change before re-reading, in milliseconds (default 100). */
  debounceMs?: number;
  /** Where operational messages go (default stderr). */
  log?: (line: string) => void;
}

/** The file could not be used at start; the message lists every located error. */
export class StaticConfigError extends Error {
  override name = "StaticConfigError";
}

/** A proxy's configuration from a local file. */
export class StaticConfigSource implements ConfigSource {
  readonly #options: StaticSourceOptions;
  readonly #file: string;
  readonly #log: (line: string) => void;
  #current?: Snapshot;
  #appliedAt?: number;
  #lastError?: string;
  #watcher?: Deno.FsWatcher;
  #watching?: Promise<void>;
  #timer?: ReturnType<typeof setTimeout>;
  #reloading: Promise<unknown> = Promise.resolve();

  constructor(options: StaticSourceOptions) {
    this.#options = options;
    this.#file = resolve(options.file);
    this.#log = options.log ?? ((line) => console.error(line));
  }

  /** The snapshot applied now, if any. */
  get snapshot(): Snapshot | undefined {
    return this.#current;
  }

  /**
   * Reads, validates and applies the file, then watches it. Throws
   * {@link StaticConfigError} when the file cannot be read, does not
   * validate, or is rejected by `apply`.
   */
  async start(): Promise<void> {
    const problem = await this.#load();
    if (problem !== undefined) throw new StaticConfigError(problem);
    if (this.#options.watch !== false) this.#watch();
  }

  /**
   * Re-reads the file now. Returns true when its configuration is in effect
   * (applied, or unchanged), false when it was rejected (the previous one
   * stays; the errors are logged).
   */
  reload(): Promise<boolean> {
    const next = this.#reloading.then(async () => {
      const problem = await this.#load();
      if (problem === undefined) return true;
      this.#log(`mesh: keeping the previous configuration: ${problem}`);
      return false;
    });
    this.#reloading = next;
    return next;
  }

  /** Stops watching the file. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#watcher?.close();
    } catch {
      // Already closed.
    }
    this.#watcher = undefined;
    await this.#watching;
    await this.#reloading;
  }

  /** The source's state. */
  status(): SourceStatus {
    const status: SourceStatus = { kind: "static", connected: false };
    if (this.#current) {
      status.version = this.#current.version;
      status.origin = "file";
    }
    if (this.#appliedAt !== undefined) status.appliedAt = new Date(this.#appliedAt).toISOString();
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    return status;
  }

  /** Loads and applies the file; returns a message when it could not. */
  async #load(): Promise<string | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#file);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Error
        ? error.message
        : String(error);
      return this.#failed(`cannot read --config ${this.#options.file}: ${reason}`);
    }
    const built = snapshotFromText(text, this.#options.file, this.#options);
    if (typeof built === "string") return this.#failed(built);
    if (built.version === this.#current?.version) {
      this.#lastError = undefined;
      return undefined;
    }
    try {
      await this.#options.apply(built);
    } catch (error) {
      return this.#failed(
        `--config ${this.#options.file} was rejected: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    this.#current = built;
    this.#appliedAt = Date.now();
    this.#lastError = undefined;
    return undefined;
  }

  #failed(message: string): string {
    this.#lastError = message;
    return message;
  }

  #watch(): void {
    // Watch the directory: editors and `mv` replace the file, which ends a watch on the file itself.
    const watcher = Deno.watchFs(dirname(this.#file), { recursive: false });
    this.#watcher = watcher;
    this.#watching = (async () => {
      try {
        for await (const event of watcher) {
          if (!event.paths.some((p) => resolve(p) === this.#file)) continue;
          if (this.#timer !== undefined) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.reload();
          }, this.#options.debounceMs ?? 100);
        }
      } catch (error) {
        if (this.#watcher) this.#log(`mesh: stopped watching ${this.#file}: ${error}`);
      }
    })();
  }
}

/**
 * The snapshot of a static configuration text for one proxy, or a message
 * listing every located error (as `mesh validate` prints them).
 */
export function snapshotFromText(
  text: string,
  file: string,
  options: { identity: ProxyIdentity; domain?: string },
): Snapshot | string {
  const domain = options.domain ?? DEFAULT_MESH_SETTINGS.domain;
  const result = validateSource(text, file);
  const errors = result.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  const seen = new Set<string>();
  for (const r of result.resources) {
    const key = `${r.kind} ${r.metadata.namespace || "default"}/${r.metadata.name}`;
    if (seen.has(key)) errors.push(`${file}: ${key} is defined more than once; keep one`);
    seen.add(key);
  }
  if (errors.length > 0) {
    return `${file} has ${errors.length} error(s):\n${errors.join("\n")}`;
  }
  const resources = result.resources.map((r) => normalize(r, { domain }));
  const instances = deriveInstances(result.resources).map(toServiceInstance);
  return buildSnapshot(
    { resources, instances, mesh: { ...DEFAULT_MESH_SETTINGS, domain } },
    options.identity,
  );
}
