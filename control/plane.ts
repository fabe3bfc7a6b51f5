/**
 * The control plane's parts wired together: the config store, the registry
 * (whose ServiceEntry/WorkloadEntry instances follow the store and DNS), the
 * `--config-dir` source, and the push server that streams per-proxy
 * snapshots built from the store and the registry.
 *
 * @module
 */

import { formatDiagnostic } from "../mesh/config/mod.ts";
import { DirWatcher, readConfigDir } from "./config_dir.ts";
import { validateFiles } from "./input.ts";
import { PushServer } from "./push.ts";
import { deriveInstances, DnsCache, dnsNames, Registry, type Resolver } from "./registry/mod.ts";
import { ConfigStore } from "./store/mod.ts";

/** Options of {@link ControlPlane.open}. */
export interface ControlPlaneOptions {
  /** Where the store and registry persist (created when missing). */
  stateDir: string;
  /** Read-only resources, watched for changes. */
  configDir?: string;
  /** DNS domain of the mesh (default `cluster.local`). */
  domain?: string;
  /** Registration TTL in milliseconds (default 30000). */
  registryTtlMs?: number;
  /** DNS refresh period in milliseconds (default 30000). */
  dnsRefreshMs?: number;
  /** DNS resolver (default `Deno.resolveDns`). */
  resolver?: Resolver;
  /** Debounce of `--config-dir` change events in milliseconds (default 200). */
  configDirDebounceMs?: number;
  /** Where operational messages go (default stderr). */
  log?: (line: string) => void;
  /** Trailing debounce of snapshot pushes in milliseconds (default 50). */
  pushDebounceMs?: number;
  /** Longest delay of a push after the first change of a burst (default 500). */
  pushMaxDelayMs?: number;
  /** Keepalive period of discovery streams in milliseconds (default 15000). */
  keepaliveMs?: number;
}

/** A `--config-dir` that does not validate at start; the message lists every error. */
export class ConfigDirError extends Error {
  override name = "ConfigDirError";
}

/** The store, the registry and the config-dir source of one control plane. */
export class ControlPlane {
  readonly store: ConfigStore;
  readonly registry: Registry;
  readonly dns: DnsCache;
  readonly push: PushServer;
  readonly domain: string;
  readonly #options: ControlPlaneOptions;
  readonly #log: (line: string) => void;
  #watcher?: DirWatcher;
  #unsubscribe?: () => void;
  #reloading: Promise<void> = Promise.resolve();

  private constructor(store: ConfigStore, registry: Registry, options: ControlPlaneOptions) {
    this.store = store;
    this.registry = registry;
    this.domain = options.domain ?? "cluster.local";
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.dns = new DnsCache({
      refreshMs: options.dnsRefreshMs,
      resolver: options.resolver,
      onChange: () => this.#refreshDerived(),
    });
    this.push = new PushServer(this, {
      debounceMs: options.pushDebounceMs,
      maxDelayMs: options.pushMaxDelayMs,
      keepaliveMs: options.keepaliveMs,
      log: this.#log,
    });
  }

  /**
   * Loads the state directory and `--config-dir` (failing with
   * {@link ConfigDirError} when it does not validate). Call
   * {@link ControlPlane.start} to begin timers and watching.
   */
  static async open(options: ControlPlaneOptions): Promise<ControlPlane> {
    const store = await ConfigStore.open(options.stateDir);
    const registry = await Registry.open(options.stateDir, {
      ttlMs: options.registryTtlMs,
      domain: options.domain,
    });
    const plane = new ControlPlane(store, registry, options);
    if (options.configDir !== undefined) {
      const problem = await plane.reloadConfigDir();
      if (problem) throw new ConfigDirError(problem);
    }
    plane.#unsubscribe = store.subscribe(() => plane.#refreshDerived());
    plane.#refreshDerived();
    return plane;
  }

  /** Starts the registry sweep, pushing snapshots and watching `--config-dir`. */
  start(): void {
    this.registry.start();
    this.push.start();
    const dir = this.#options.configDir;
    if (dir !== undefined && !this.#watcher) {
      this.#watcher = new DirWatcher(dir, () => {
        this.#reloading = this.#reloading.then(async () => {
          const problem = await this.reloadConfigDir();
          if (problem) this.#log(`mesh control: ${problem}`);
        });
      }, { debounceMs: this.#options.configDirDebounceMs });
    }
  }

  /**
   * Re-reads `--config-dir` and commits it when it validates. Returns a
   * message when it does not (nothing changed then).
   */
  async reloadConfigDir(): Promise<string | undefined> {
    const dir = this.#options.configDir;
    if (dir === undefined) return undefined;
    let files;
    try {
      files = await readConfigDir(dir);
    } catch (error) {
      return `cannot read --config-dir ${dir}: ${error instanceof Error ? error.message : error}`;
    }
    const input = validateFiles(files, { domain: this.domain });
    for (const d of input.diagnostics) {
      if (d.severity === "warning") this.#log(formatDiagnostic(d));
    }
    if (input.errors > 0) {
      const lines = input.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
      return `--config-dir ${dir} has ${input.errors} error(s); keeping its previous ` +
        `contents:\n${lines.join("\n")}`;
    }
    const outcome = await this.store.setConfigDir(input.resources);
    for (const name of outcome.takenOver) {
      this.#log(
        `mesh control: ${name} is now defined by --config-dir ${dir}; the applied copy was replaced`,
      );
    }
    return undefined;
  }

  /** Ends discovery streams, stops timers and watchers, and persists the registry. */
  async close(): Promise<void> {
    this.push.close();
    this.#unsubscribe?.();
    await this.#watcher?.close();
    await this.#reloading;
    await this.dns.close();
    await this.registry.close();
  }

  #refreshDerived(): void {
    const resources = this.store.list();
    this.dns.setNames(dnsNames(resources));
    this.registry.setDerived(deriveInstances(resources, { lookup: (n) => this.dns.lookup(n) }));
  }
}
