/**
 * The config store: the user's Istio resources, keyed by (kind, namespace,
 * name), with Kubernetes-style `resourceVersion` (a store-wide revision) and
 * `generation` (per resource, bumped when its spec changes).
 *
 * Two layers share one revision counter: resources applied through the API
 * (persisted in the state directory) and resources read from `--config-dir`
 * (read-only to the API, re-read from that directory at each start).
 *
 * Every change is one commit: the next state is computed in memory, written
 * to disk atomically, and only then made visible and announced to
 * subscribers. Commits are serialized, so a revision names exactly one state.
 *
 * @module
 */

import { join } from "node:path";
import type { KindName, Resource } from "../../mesh/config/mod.ts";
import {
  notFoundMessage,
  qualifiedKind,
  type ResourceAction,
  type ResourceResult,
  type StoredMeta,
  type StoredResource,
} from "../../mesh/cli/mod.ts";
import { ensureDir, readTextIfExists, removeStaleTemps, writeFileAtomic } from "../persist.ts";
import { decodeState, encodeState, STATE_FILE } from "./state_file.ts";

/** A resource's identity: `Kind/namespace/name` (apiVersion is not part of it). */
export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** One committed change, as subscribers see it. */
export interface StoreChange {
  action: Exclude<ResourceAction, "unchanged">;
  /** The new resource, or the last version of a deleted one. */
  resource: StoredResource;
}

/** Announced after every commit that changed something. */
export interface StoreEvent {
  revision: number;
  changes: StoreChange[];
}

/** Receives {@link StoreEvent}s; called synchronously after the commit. */
export type StoreListener = (event: StoreEvent) => void;

/** A request that names resources owned by `--config-dir`; nothing was changed. */
export class ReadOnlyError extends Error {
  override name = "ReadOnlyError";
  constructor(readonly resources: string[]) {
    super(
      `${resources.join(", ")} ${resources.length === 1 ? "comes" : "come"} from --config-dir ` +
        "and cannot be changed or deleted through the API; edit the files in that directory " +
        "instead. Nothing was changed",
    );
  }
}

/** A resource to delete. */
export interface DeleteRef {
  kind: KindName;
  namespace: string;
  name: string;
}

/** Result of {@link ConfigStore.delete}. */
export interface DeleteOutcome {
  revision: number;
  results: ResourceResult[];
  /** Messages for the resources that did not exist. */
  notFound: string[];
}

/** Result of {@link ConfigStore.apply}. */
export interface ApplyOutcome {
  revision: number;
  results: ResourceResult[];
}

/** Options of {@link ConfigStore.open}. */
export interface StoreOptions {
  /** Clock for `creationTimestamp` (tests). */
  now?: () => Date;
}

/** Fields the store owns; values the user sends for them are ignored. */
const SERVER_FIELDS = ["uid", "resourceVersion", "generation", "creationTimestamp"];

/** The config store over one state directory. */
export class ConfigStore {
  readonly dir: string;
  readonly file: string;
  #entries = new Map<string, StoredResource>();
  #readOnly = new Set<string>();
  #revision = 0;
  #listeners = new Set<StoreListener>();
  #queue: Promise<unknown> = Promise.resolve();
  #now: () => Date;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = dir;
    this.file = join(dir, STATE_FILE);
    this.#now = options.now ?? (() => new Date());
  }

  /** Opens (creating when missing) the store in `dir` and loads its state. */
  static async open(dir: string, options: StoreOptions = {}): Promise<ConfigStore> {
    const store = new ConfigStore(dir, options);
    await ensureDir(dir);
    await removeStaleTemps(dir, STATE_FILE);
    const text = await readTextIfExists(store.file);
    if (text !== undefined) {
      const state = decodeState(text, store.file);
      store.#revision = state.revision;
      for (const resource of state.resources) {
        const { kind, metadata } = resource;
        store.#entries.set(resourceKey(kind, metadata.namespace, metadata.name), resource);
      }
    }
    return store;
  }

  /** The store-wide revision: bumped by every commit that changed something. */
  get revision(): number {
    return this.#revision;
  }

  /** Every resource, optionally of one kind and/or namespace, sorted by kind, namespace, name. */
  list(filter: { kind?: KindName; namespace?: string } = {}): StoredResource[] {
    const out: StoredResource[] = [];
    for (const resource of this.#entries.values()) {
      if (filter.kind && resource.kind !== filter.kind) continue;
      if (filter.namespace && resource.metadata.namespace !== filter.namespace) continue;
      out.push(resource);
    }
    return out.sort(compareResources);
  }

  /** One resource, or `undefined`. */
  get(kind: KindName, namespace: string, name: string): StoredResource | undefined {
    return this.#entries.get(resourceKey(kind, namespace, name));
  }

  /** True when the resource comes from `--config-dir`. */
  isReadOnly(kind: KindName, namespace: string, name: string): boolean {
    return this.#readOnly.has(resourceKey(kind, namespace, name));
  }

  /**
   * Registers a listener called after every commit that changed something.
   * Returns a function that removes it.
   */
  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stores every resource (each replaced whole) in one commit, or none: a
   * resource owned by `--config-dir` fails the whole apply with
   * {@link ReadOnlyError}, and a failed write leaves the store as it was.
   */
  apply(resources: readonly Resource[]): Promise<ApplyOutcome> {
    return this.#serialize(async () => {
      const owned = resources.filter((r) =>
        this.#readOnly.has(resourceKey(r.kind, r.metadata.namespace, r.metadata.name))
      );
      if (owned.length > 0) throw new ReadOnlyError(owned.map(describe));
      const next = new Map(this.#entries);
      const revision = this.#revision + 1;
      const changes: StoreChange[] = [];
      const results: ResourceResult[] = [];
      for (const resource of resources) {
        const key = resourceKey(resource.kind, resource.metadata.namespace, resource.metadata.name);
        const { stored, action } = this.#build(resource, next.get(key), revision);
        if (action !== "unchanged") {
          next.set(key, stored);
          changes.push({ action, resource: stored });
        }
        results.push(result(stored, action));
      }
      await this.#commit(next, this.#readOnly, revision, changes);
      return { revision: this.#revision, results };
    });
  }

  /**
   * Deletes every named resource that exists, in one commit; the missing ones
   * are listed in `notFound`. A resource owned by `--config-dir` fails the
   * whole request with {@link ReadOnlyError}.
   */
  delete(refs: readonly DeleteRef[]): Promise<DeleteOutcome> {
    return this.#serialize(async () => {
      const owned = refs.filter((r) =>
        this.#readOnly.has(resourceKey(r.kind, r.namespace, r.name))
      );
      if (owned.length > 0) {
        throw new ReadOnlyError(owned.map((r) => `${r.kind} ${r.namespace}/${r.name}`));
      }
      const next = new Map(this.#entries);
      const changes: StoreChange[] = [];
      const results: ResourceResult[] = [];
      const notFound: string[] = [];
      for (const ref of refs) {
        const key = resourceKey(ref.kind, ref.namespace, ref.name);
        const existing = next.get(key);
        if (!existing) {
          notFound.push(notFoundMessage(ref.kind, ref.name, ref.namespace));
          continue;
        }
        next.delete(key);
        changes.push({ action: "deleted", resource: existing });
        results.push(result(existing, "deleted"));
      }
      await this.#commit(next, this.#readOnly, this.#revision + 1, changes);
      return { revision: this.#revision, results, notFound };
    });
  }

  /**
   * Replaces the read-only layer with the resources of `--config-dir`, in one
   * commit. A resource also applied through the API is taken over by the
   * directory (the directory is the source of truth for what it defines);
   * `takenOver` names those.
   */
  setConfigDir(resources: readonly Resource[]): Promise<ApplyOutcome & { takenOver: string[] }> {
    return this.#serialize(async () => {
      const next = new Map(this.#entries);
      const readOnly = new Set<string>();
      const revision = this.#revision + 1;
      const changes: StoreChange[] = [];
      const results: ResourceResult[] = [];
      const takenOver: string[] = [];
      for (const resource of resources) {
        const key = resourceKey(resource.kind, resource.metadata.namespace, resource.metadata.name);
        readOnly.add(key);
        const previous = next.get(key);
        if (previous && !this.#readOnly.has(key)) takenOver.push(describe(resource));
        const { stored, action } = this.#build(resource, previous, revision);
        if (action !== "unchanged") {
          next.set(key, stored);
          changes.push({ action, resource: stored });
        }
        results.push(result(stored, action));
      }
      for (const key of this.#readOnly) {
        if (readOnly.has(key)) continue;
        const gone = next.get(key);
        if (!gone) continue;
        next.delete(key);
        changes.push({ action: "deleted", resource: gone });
        results.push(result(gone, "deleted"));
      }
      // Taken-over resources leave the persisted layer, which changes the file.
      const layerChanged = takenOver.length > 0;
      await this.#commit(next, readOnly, revision, changes, layerChanged);
      return { revision: this.#revision, results, takenOver };
    });
  }

  /** Builds the stored form of `resource` given the current one; decides the action. */
  #build(
    resource: Resource,
    previous: StoredResource | undefined,
    revision: number,
  ): { stored: StoredResource; action: ResourceAction } {
    const userMeta: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(resource.metadata)) {
      if (!SERVER_FIELDS.includes(field)) userMeta[field] = value;
    }
    if (!previous) {
      const metadata: StoredMeta = {
        ...userMeta as { name: string; namespace: string },
        uid: crypto.randomUUID(),
        resourceVersion: String(revision),
        generation: 1,
        creationTimestamp: this.#now().toISOString().replace(/\.\d+Z$/, "Z"),
      };
      return { stored: { ...resource, metadata }, action: "created" };
    }
    const previousMeta: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(previous.metadata)) {
      if (!SERVER_FIELDS.includes(field)) previousMeta[field] = value;
    }
    const specChanged = canonical(previous.spec) !== canonical(resource.spec);
    const metaChanged = canonical(previousMeta) !== canonical(userMeta) ||
      previous.apiVersion !== resource.apiVersion;
    if (!specChanged && !metaChanged) return { stored: previous, action: "unchanged" };
    const metadata: StoredMeta = {
      ...userMeta as { name: string; namespace: string },
      uid: previous.metadata.uid,
      resourceVersion: String(revision),
      generation: previous.metadata.generation + (specChanged ? 1 : 0),
      creationTimestamp: previous.metadata.creationTimestamp,
    };
    return { stored: { ...resource, metadata }, action: "configured" };
  }

  /** Writes and publishes `next` when anything changed. */
  async #commit(
    next: Map<string, StoredResource>,
    readOnly: Set<string>,
    revision: number,
    changes: StoreChange[],
    forceWrite = false,
  ): Promise<void> {
    if (changes.length === 0 && !forceWrite) return;
    const persisted = [...next.entries()]
      .filter(([key]) => !readOnly.has(key))
      .map(([, resource]) => resource)
      .sort(compareResources);
    // The revision is written even when only the read-only layer changed, so
    // it never goes backwards across a restart.
    await writeFileAtomic(this.file, encodeState({ revision, resources: persisted }));
    this.#entries = next;
    this.#readOnly = readOnly;
    this.#revision = revision;
    if (changes.length === 0) return;
    const event: StoreEvent = { revision, changes };
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error(`mesh control: a store listener failed: ${error}`);
      }
    }
  }

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function result(resource: StoredResource, action: ResourceAction): ResourceResult {
  const { kind, metadata } = resource;
  const ref = qualifiedKind(kind);
  return {
    kind,
    namespace: metadata.namespace,
    name: metadata.name,
    action,
    resourceVersion: metadata.resourceVersion,
    generation: metadata.generation,
    message: action === "deleted"
      ? `${ref} ${JSON.stringify(metadata.name)} deleted`
      : `${ref}/${metadata.name} ${action}`,
  };
}

function describe(resource: Resource): string {
  return `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}`;
}

function compareResources(a: StoredResource, b: StoredResource): number {
  return compare(a.kind, b.kind) || compare(a.metadata.namespace, b.metadata.namespace) ||
    compare(a.metadata.name, b.metadata.name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JSON with object keys sorted, so equal values compare equal as strings. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}
