/**
 * The service registry: instances proxies register for themselves, kept
 * alive by heartbeats, plus the instances configuration defines
 * (ServiceEntry endpoints, selected WorkloadEntries; see `derived.ts`).
 *
 * A registration expires `ttlMs` after its last heartbeat (default 30 s;
 * clients heartbeat every third of it). Expiry is kept as wall-clock time
 * and persisted (atomically, coalesced to at most one write per
 * `persistDelayMs`) in `registry.json`, so a restarted control plane
 * restores every entry with the TTL it had left and never announces a
 * registry that lost live endpoints while proxies reconnect. Derived
 * instances are not persisted: they are recomputed from the store.
 *
 * @module
 */

import { join } from "node:path";
import { isDns1123Label, isIP } from "../../mesh/config/mod.ts";
import type { Instance, Registration } from "../../mesh/cli/mod.ts";
import { ensureDir, readTextIfExists, removeStaleTemps, writeFileAtomic } from "../persist.ts";
import { canonical, StateFileError } from "../store/mod.ts";

/** File name of the registry inside the state directory. */
export const REGISTRY_FILE = "registry.json";

/** Default time to live of a registration without heartbeats. */
export const DEFAULT_TTL_MS = 30_000;

/** Announced after every change of the instance set (not after plain heartbeats). */
export interface RegistryEvent {
  revision: number;
}

/** Receives {@link RegistryEvent}s. */
export type RegistryListener = (event: RegistryEvent) => void;

/** An invalid registration; `details` lists every problem. */
export class RegistrationError extends Error {
  override name = "RegistrationError";
  constructor(readonly details: string[]) {
    super(`invalid registration: ${details.join("; ")}`);
  }
}

/** Options of {@link Registry.open}. */
export interface RegistryOptions {
  /** Time to live without a heartbeat, in milliseconds (default 30000). */
  ttlMs?: number;
  /** DNS domain for registered services' host names (default `cluster.local`). */
  domain?: string;
  /** Wall clock in milliseconds (tests). */
  now?: () => number;
  /** Longest delay before a change is written to disk (default 1000 ms). */
  persistDelayMs?: number;
}

interface PersistedRegistry {
  revision: number;
  instances: Instance[];
}

/** The registry over one state directory (`undefined`: memory only). */
export class Registry {
  readonly ttlMs: number;
  readonly file?: string;
  #registered = new Map<string, Instance>();
  #derived: Instance[] = [];
  #derivedKey = "[]";
  #revision = 0;
  #listeners = new Set<RegistryListener>();
  #domain: string;
  #now: () => number;
  #persistDelayMs: number;
  #sweepTimer?: ReturnType<typeof setInterval>;
  #persistTimer?: ReturnType<typeof setTimeout>;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  private constructor(dir: string | undefined, options: RegistryOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.file = dir === undefined ? undefined : join(dir, REGISTRY_FILE);
    this.#domain = options.domain ?? "cluster.local";
    this.#now = options.now ?? Date.now;
    this.#persistDelayMs = options.persistDelayMs ?? 1000;
  }

  /** Opens the registry, restoring the registrations that have not expired. */
  static async open(dir: string | undefined, options: RegistryOptions = {}): Promise<Registry> {
    const registry = new Registry(dir, options);
    if (dir === undefined || registry.file === undefined) return registry;
    await ensureDir(dir);
    await removeStaleTemps(dir, REGISTRY_FILE);
    const text = await readTextIfExists(registry.file);
    if (text === undefined) return registry;
    let saved: PersistedRegistry;
    try {
      saved = JSON.parse(text);
    } catch (error) {
      throw new StateFileError(
        `the registry file ${registry.file} is not valid JSON (${error}); remove it to start ` +
          "with an empty registry (proxies register again within one heartbeat)",
      );
    }
    registry.#revision = Number(saved.revision) || 0;
    const now = registry.#now();
    for (const instance of saved.instances ?? []) {
      if (typeof instance.expiresAt === "number" && instance.expiresAt > now) {
        registry.#registered.set(instance.id, instance);
      } else {
        registry.#dirty = true;
      }
    }
    return registry;
  }

  /** Bumped by every change of the instance set; persisted, so it never goes back. */
  get revision(): number {
    return this.#revision;
  }

  /** Registers (or re-registers, replacing) an instance; its TTL starts now. */
  register(input: unknown): Instance {
    const registration = checkRegistration(input);
    const namespace = registration.namespace ?? "default";
    const labels = { app: registration.service, ...registration.labels };
    const instance: Instance = {
      id: `${namespace}/${registration.service}/${registration.address}:${registration.port}`,
      source: "registration",
      service: registration.service,
      namespace,
      hostname: `${registration.service}.${namespace}.svc.${this.#domain}`,
      address: registration.address,
      port: registration.port,
      labels,
      expiresAt: this.#now() + this.ttlMs,
    };
    if (registration.locality) instance.locality = registration.locality;
    if (registration.serviceAccount) instance.serviceAccount = registration.serviceAccount;
    const previous = this.#registered.get(instance.id);
    this.#registered.set(instance.id, instance);
    const changed = !previous || canonical({ ...previous, expiresAt: 0 }) !==
        canonical({ ...instance, expiresAt: 0 });
    if (changed) this.#changed();
    else this.#schedulePersist();
    return instance;
  }

  /** Extends a registration's TTL; `undefined` when it is not registered (register again). */
  heartbeat(id: string): Instance | undefined {
    const instance = this.#registered.get(id);
    if (!instance) return undefined;
    if ((instance.expiresAt ?? 0) <= this.#now()) {
      this.sweep();
      return undefined;
    }
    instance.expiresAt = this.#now() + this.ttlMs;
    this.#schedulePersist();
    return instance;
  }

  /** Removes a registration; false when there was none. */
  deregister(id: string): boolean {
    if (!this.#registered.delete(id)) return false;
    this.#changed();
    return true;
  }

  /** Registered and derived instances, optionally of one service (name or host) and namespace. */
  instances(filter: { service?: string; namespace?: string } = {}): Instance[] {
    const now = this.#now();
    const all = [
      ...[...this.#registered.values()].filter((i) => (i.expiresAt ?? 0) > now),
      ...this.#derived,
    ];
    return all.filter((i) =>
      (!filter.service || i.service === filter.service || i.hostname === filter.service) &&
      (!filter.namespace || i.namespace === filter.namespace)
    ).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Replaces the instances derived from configuration; announces a change when they differ. */
  setDerived(instances: readonly Instance[]): void {
    const key = canonical(instances);
    if (key === this.#derivedKey) return;
    this.#derived = [...instances];
    this.#derivedKey = key;
    this.#changed();
  }

  /** Removes expired registrations now; returns how many. */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [id, instance] of this.#registered) {
      if ((instance.expiresAt ?? 0) > now) continue;
      this.#registered.delete(id);
      removed++;
    }
    if (removed > 0) this.#changed();
    return removed;
  }

  /** Starts the expiry sweep (a fraction of the TTL, at most every second). */
  start(): void {
    if (this.#sweepTimer !== undefined) return;
    const period = Math.max(50, Math.min(1000, Math.floor(this.ttlMs / 5)));
    this.#sweepTimer = setInterval(() => this.sweep(), period);
  }

  /** Registers a listener for instance-set changes; returns its remover. */
  subscribe(listener: RegistryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes pending changes now. */
  flush(): Promise<void> {
    if (this.#persistTimer !== undefined) clearTimeout(this.#persistTimer);
    this.#persistTimer = undefined;
    if (!this.#dirty || this.file === undefined) return this.#writing;
    this.#dirty = false;
    const file = this.file;
    const saved: PersistedRegistry = {
      revision: this.#revision,
      instances: [...this.#registered.values()],
    };
    this.#writing = this.#writing.then(() =>
      writeFileAtomic(file, JSON.stringify(saved, null, 1) + "\n")
    ).catch((error) => {
      this.#dirty = true;
      console.error(`mesh control: cannot write ${file}: ${error}`);
    });
    return this.#writing;
  }

  /** Stops timers and writes pending changes. */
  async close(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    await this.flush();
  }

  #changed(): void {
    this.#revision++;
    this.#schedulePersist();
    const event = { revision: this.#revision };
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error(`mesh control: a registry listener failed: ${error}`);
      }
    }
  }

  #schedulePersist(): void {
    this.#dirty = true;
    if (this.file === undefined || this.#persistTimer !== undefined) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = undefined;
      this.flush();
    }, this.#persistDelayMs);
  }
}

const LOCALITY = /^[^/]+(\/[^/]+){0,2}$/;

/** Validates a registration request body; throws {@link RegistrationError} listing every problem. */
export function checkRegistration(input: unknown): Registration {
  const problems: string[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new RegistrationError([
      "expected a JSON object {service, namespace?, labels?, address, port, locality?, serviceAccount?}",
    ]);
  }
  const body = input as Record<string, unknown>;
  const known = ["service", "namespace", "labels", "address", "port", "locality", "serviceAccount"];
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) {
      problems.push(`${key}: unknown field; valid fields: ${known.join(", ")}`);
    }
  }
  if (typeof body.service !== "string" || !isDns1123Label(body.service)) {
    problems.push("service: required, a DNS-1123 label such as reviews");
  }
  if (
    body.namespace !== undefined &&
    (typeof body.namespace !== "string" || !isDns1123Label(body.namespace))
  ) {
    problems.push("namespace: a DNS-1123 label such as default");
  }
  if (typeof body.address !== "string" || !isIP(body.address)) {
    problems.push("address: required, the instance's IP address such as 127.0.0.1");
  }
  if (
    typeof body.port !== "number" || !Number.isInteger(body.port) || body.port < 1 ||
    body.port > 65535
  ) {
    problems.push("port: required, an integer 1-65535 (the instance's inbound port)");
  }
  if (body.labels !== undefined) {
    const labels = body.labels;
    if (
      typeof labels !== "object" || labels === null || Array.isArray(labels) ||
      Object.values(labels).some((v) => typeof v !== "string")
    ) {
      problems.push("labels: a mapping of strings to strings");
    }
  }
  if (
    body.locality !== undefined &&
    (typeof body.locality !== "string" || !LOCALITY.test(body.locality))
  ) {
    problems.push("locality: region, region/zone or region/zone/subzone");
  }
  if (body.serviceAccount !== undefined && typeof body.serviceAccount !== "string") {
    problems.push("serviceAccount: a string");
  }
  if (problems.length > 0) throw new RegistrationError(problems);
  return body as unknown as Registration;
}
