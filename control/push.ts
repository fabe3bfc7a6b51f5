/**
 * The push server: one long-lived discovery stream per proxy, debounced
 * pushes of per-proxy snapshots, and ACK/NACK tracking.
 *
 * **Transport: Server-Sent Events, ACKs as small POSTs.** A proxy opens
 * `POST /v1/discovery` with its identity; the answer is a `text/event-stream`
 * that starts with `event: hello` (a connection id) and then carries one
 * `event: snapshot` (`id:` = the version) whenever the proxy's snapshot
 * changes. The proxy answers each snapshot with `POST /v1/discovery/ack
 * {connection, version, error?}`. SSE over plain HTTP goes through the same
 * Hono middleware as the rest of the API (bearer token, body limit, JSON
 * errors), needs no upgrade handshake, and can be read with curl; Deno's
 * WebSocket client cannot send an `Authorization` header at all. ACKs name
 * the connection id, so an ACK from a stream that was replaced is recognised
 * and ignored, and reconnecting is just "open the stream again" (the proxy
 * sends the version it serves, and is SYNCED at once when that is current).
 *
 * **Pushes.** Store and registry changes are debounced (trailing
 * `debounceMs`, at most `maxDelayMs` after the first change of a burst); a
 * push builds every connected proxy's snapshot from one input and sends it
 * only when its version differs from the last one computed for that proxy.
 * Each stream holds at most one unsent snapshot: a newer one replaces it, so
 * a slow proxy costs one snapshot of memory, not a backlog. Snapshots of
 * proxies in the same scope share one encoded body; proxies that ask for
 * `encoding: "gzip"` (the discovery client does) get it compressed once per
 * scope, which cuts a thousand-proxy push from hundreds of megabytes to a
 * few (typical snapshots compress about 25×).
 *
 * **Status.** A proxy is SYNCED when it ACKed the latest version computed
 * for it, STALE while that version is unacknowledged, NACKED when it rejected
 * it (with the error; it keeps serving the version it last ACKed). Each
 * proxy also carries the store revision it is known to serve, which
 * {@link PushServer.wait} (`mesh apply --wait`) compares with the revision an
 * apply produced.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";
import { normalize, type NormalizedResource } from "../mesh/config/mod.ts";
import {
  type AckRequest,
  buildSnapshot,
  DEFAULT_MESH_SETTINGS,
  type DiscoveryHello,
  type DiscoveryRequest,
  type Instance,
  type ProxyIdentity,
  type ProxyStatus,
  type ProxySyncStatus,
  type ServiceInstance,
  type Snapshot,
  type SnapshotInput,
  toServiceInstance,
  type WaitResponse,
} from "../mesh/model/mod.ts";
import type { Registry } from "./registry/mod.ts";
import type { ConfigStore } from "./store/mod.ts";

/** Default trailing debounce of pushes. */
export const DEFAULT_PUSH_DEBOUNCE_MS = 50;
/** Default longest delay between the first change of a burst and its push. */
export const DEFAULT_PUSH_MAX_DELAY_MS = 500;
/** Default keepalive period of discovery streams. */
export const DEFAULT_KEEPALIVE_MS = 15_000;

/** Where the push server reads configuration and instances. */
export interface PushSource {
  readonly store: Pick<ConfigStore, "revision" | "list" | "subscribe">;
  readonly registry: Pick<Registry, "revision" | "instances" | "subscribe">;
  readonly domain: string;
}

/** Options of {@link PushServer}. */
export interface PushOptions {
  /** Trailing debounce of pushes in milliseconds (default 50). */
  debounceMs?: number;
  /** Longest delay of a push after the first change of a burst (default 500). */
  maxDelayMs?: number;
  /** Keepalive comment period of each stream in milliseconds (default 15000). */
  keepaliveMs?: number;
  /** Where operational messages go (default stderr). */
  log?: (line: string) => void;
}

/** An invalid discovery request (400), or a closed server (503). */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";
  constructor(readonly status: 400 | 503, message: string, readonly details: string[] = []) {
    super(message);
  }
}

/** Figures of the last push (benchmarks, logs). */
export interface PushStats {
  /** Store revision the push was built at. */
  revision: number;
  /** Proxies connected. */
  proxies: number;
  /** Proxies whose snapshot changed (and were sent one). */
  changed: number;
  /** Time to build the input (normalize, map instances). */
  inputMs: number;
  /** Time to build all snapshots. */
  buildMs: number;
  /** Time to encode and queue the changed snapshots. */
  sendMs: number;
}

interface Connection {
  id: string;
  proxy: ProxyIdentity;
  gzip: boolean;
  connectedAt: number;
  status: ProxySyncStatus;
  /** Latest version computed for the proxy. */
  version: string;
  /** Store revision of the latest computation (whose version is `version`). */
  revision: number;
  ackedVersion?: string;
  syncedRevision: number;
  error?: string;
  lastAckAt?: number;
  /** Small frames (hello, keepalive) waiting to be read. */
  outbox: Uint8Array[];
  /** The snapshot frame waiting to be read; a newer one replaces it. */
  pending?: Uint8Array[];
  controller?: ReadableStreamDefaultController<Uint8Array>;
  wake?: () => void;
  closed: boolean;
}

interface Waiter {
  revision: number;
  resolve: (result: WaitResponse) => void;
}

const encoder = new TextEncoder();

/** Tracks connected proxies and pushes their snapshots. */
export class PushServer {
  readonly #source: PushSource;
  readonly #debounceMs: number;
  readonly #maxDelayMs: number;
  readonly #keepaliveMs: number;
  readonly #log: (line: string) => void;
  readonly #connections = new Map<string, Connection>();
  readonly #waiters = new Set<Waiter>();
  readonly #normalized = new Map<string, { version: string; resource: NormalizedResource }>();
  readonly #mapped = new WeakMap<Instance, ServiceInstance>();
  readonly #bodies = new WeakMap<
    readonly NormalizedResource[],
    { plain?: Uint8Array; gzip?: Uint8Array }
  >();
  #input?: { store: number; registry: number; value: SnapshotInput };
  #unsubscribe: (() => void)[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #burstStart = 0;
  #keepalive?: ReturnType<typeof setInterval>;
  #closed = false;
  #stats?: PushStats;

  constructor(source: PushSource, options: PushOptions = {}) {
    this.#source = source;
    this.#debounceMs = options.debounceMs ?? DEFAULT_PUSH_DEBOUNCE_MS;
    this.#maxDelayMs = Math.max(this.#debounceMs, options.maxDelayMs ?? DEFAULT_PUSH_MAX_DELAY_MS);
    this.#keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.#log = options.log ?? ((line) => console.error(line));
  }

  /** Follows store and registry changes and starts the keepalive timer. */
  start(): void {
    if (this.#unsubscribe.length > 0 || this.#closed) return;
    const changed = () => this.#schedule();
    this.#unsubscribe = [
      this.#source.store.subscribe(changed),
      this.#source.registry.subscribe(changed),
    ];
    this.#keepalive = setInterval(() => this.#sendKeepalives(), this.#keepaliveMs);
  }

  /** Figures of the last push, if any. */
  get stats(): PushStats | undefined {
    return this.#stats;
  }

  /**
   * Opens a discovery stream for a proxy: the hello frame, then its first
   * snapshot (unless `request.version` is already current), then changes.
   * A connection with the same proxy id replaces the older one.
   */
  connect(request: unknown): { connection: string; stream: ReadableStream<Uint8Array> } {
    if (this.#closed) {
      throw new DiscoveryError(503, "the control plane is shutting down; connect again shortly");
    }
    const { proxy, version, encoding } = checkDiscoveryRequest(request);
    for (const old of this.#connections.values()) {
      if (old.proxy.id === proxy.id) this.#drop(old);
    }
    const conn: Connection = {
      id: crypto.randomUUID(),
      proxy,
      gzip: encoding === "gzip",
      connectedAt: Date.now(),
      status: version ? "SYNCED" : "STALE",
      version: version ?? "",
      revision: -1,
      ackedVersion: version,
      syncedRevision: -1,
      outbox: [],
      closed: false,
    };
    const hello: DiscoveryHello = { connection: conn.id, keepaliveMs: this.#keepaliveMs };
    conn.outbox.push(encoder.encode(`event: hello\ndata: ${JSON.stringify(hello)}\n\n`));
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        conn.controller = controller;
      },
      pull: (controller) => this.#pull(conn, controller),
      cancel: () => this.#drop(conn),
    }, { highWaterMark: 0 });
    this.#connections.set(conn.id, conn);
    const { value: input, store } = this.#currentInput();
    this.#update(conn, buildSnapshot(input, proxy), store);
    this.#checkWaiters();
    return { connection: conn.id, stream };
  }

  /**
   * Records an ACK (no `error`) or NACK of a version on a connection.
   * Returns the proxy's status, or `undefined` for an unknown connection
   * (the proxy should reconnect).
   */
  ack(request: unknown): ProxySyncStatus | undefined {
    const { connection, version, error } = checkAck(request);
    const conn = this.#connections.get(connection);
    if (!conn) return undefined;
    if (error !== undefined) {
      if (version === conn.version) {
        conn.status = "NACKED";
        conn.error = error;
        this.#log(
          `mesh control: proxy ${conn.proxy.id} rejected snapshot ${version}: ${firstLine(error)}`,
        );
      }
    } else {
      conn.ackedVersion = version;
      conn.lastAckAt = Date.now();
      if (version === conn.version) {
        conn.status = "SYNCED";
        conn.error = undefined;
        conn.syncedRevision = Math.max(conn.syncedRevision, conn.revision);
      }
    }
    this.#checkWaiters();
    return conn.status;
  }

  /** Every connected proxy, sorted by namespace and id. */
  proxies(): ProxyStatus[] {
    return [...this.#connections.values()].map(statusOf).sort((a, b) =>
      a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.id < b.id ? -1 : 1
    );
  }

  /**
   * Resolves once every connected proxy serves store `revision` or a later
   * one (`synced: true`), once every proxy that does not has NACKED it, or
   * after `timeoutMs` (`synced: false`, naming them). A proxy whose snapshot
   * did not change counts as soon as a push at that revision has run.
   */
  wait(revision: number, options: { timeoutMs: number; signal?: AbortSignal }): Promise<
    WaitResponse
  > {
    const { promise, resolve } = Promise.withResolvers<WaitResponse>();
    const waiter: Waiter = { revision, resolve };
    const finish = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", finish);
      this.#waiters.delete(waiter);
      resolve(this.#waitResult(revision));
    };
    const timer = setTimeout(finish, Math.max(0, options.timeoutMs));
    options.signal?.addEventListener("abort", finish);
    waiter.resolve = (result) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", finish);
      this.#waiters.delete(waiter);
      resolve(result);
    };
    this.#waiters.add(waiter);
    // A change not yet pushed must be pushed before anyone can serve it.
    if (revision > this.#lastPushedRevision()) this.#schedule();
    this.#checkWaiters();
    return promise;
  }

  /** Pushes now instead of after the debounce. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#push();
  }

  /** Ends every stream, refuses new ones, and stops timers; waits resolve unsynced. */
  close(): void {
    this.#closed = true;
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    this.#timer = undefined;
    this.#keepalive = undefined;
    for (const conn of [...this.#connections.values()]) this.#drop(conn);
    for (const waiter of [...this.#waiters]) waiter.resolve(this.#waitResult(waiter.revision));
  }

  // ------------------------------------------------------------ pushing

  #schedule(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (this.#timer === undefined) this.#burstStart = now;
    else clearTimeout(this.#timer);
    const left = this.#maxDelayMs - (now - this.#burstStart);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#push();
    }, Math.max(0, Math.min(this.#debounceMs, left)));
  }

  #lastPushedRevision(): number {
    return this.#input?.store ?? -1;
  }

  #push(): void {
    if (this.#closed) return;
    if (this.#connections.size === 0) {
      // Nobody to push to; the input is rebuilt lazily when a proxy connects.
      this.#checkWaiters();
      return;
    }
    const t0 = performance.now();
    const { value: input, store } = this.#currentInput();
    const t1 = performance.now();
    let buildMs = 0;
    let sendMs = 0;
    let changed = 0;
    for (const conn of this.#connections.values()) {
      const b0 = performance.now();
      const snapshot = buildSnapshot(input, conn.proxy);
      const b1 = performance.now();
      if (this.#update(conn, snapshot, store)) changed++;
      buildMs += b1 - b0;
      sendMs += performance.now() - b1;
    }
    this.#stats = {
      revision: store,
      proxies: this.#connections.size,
      changed,
      inputMs: t1 - t0,
      buildMs,
      sendMs,
    };
    this.#checkWaiters();
  }

  /** Applies a freshly computed snapshot to a connection; true when it was queued for sending. */
  #update(conn: Connection, snapshot: Snapshot, revision: number): boolean {
    conn.revision = revision;
    if (snapshot.version === conn.version) {
      if (conn.status === "SYNCED") conn.syncedRevision = Math.max(conn.syncedRevision, revision);
      return false;
    }
    if (snapshot.version === conn.ackedVersion && conn.pending) {
      // Back to what the proxy serves before the newer one left: nothing to send.
      conn.pending = undefined;
      conn.version = snapshot.version;
      conn.status = "SYNCED";
      conn.error = undefined;
      conn.syncedRevision = Math.max(conn.syncedRevision, revision);
      return false;
    }
    conn.version = snapshot.version;
    conn.status = "STALE";
    conn.error = undefined;
    conn.pending = this.#encode(snapshot, conn.gzip);
    conn.wake?.();
    return true;
  }

  /** The SSE frame of a snapshot; the scope's resources and instances are encoded once. */
  #encode(snapshot: Snapshot, gzip: boolean): Uint8Array[] {
    let bodies = this.#bodies.get(snapshot.resources);
    if (!bodies) {
      bodies = {};
      this.#bodies.set(snapshot.resources, bodies);
    }
    const inner = () =>
      `"resources":${JSON.stringify(snapshot.resources)},"instances":${
        JSON.stringify(snapshot.instances)
      }`;
    let body: Uint8Array;
    if (gzip) {
      bodies.gzip ??= encoder.encode(
        `"encoding":"gzip","content":"${
          Buffer.from(gzipSync(`{${inner()}}`)).toString("base64")
        }"}\n\n`,
      );
      body = bodies.gzip;
    } else {
      bodies.plain ??= encoder.encode(`${inner()}}\n\n`);
      body = bodies.plain;
    }
    const head = `event: snapshot\nid: ${snapshot.version}\ndata: {"version":${
      JSON.stringify(snapshot.version)
    },"proxy":${JSON.stringify(snapshot.proxy)},"mesh":${JSON.stringify(snapshot.mesh)},`;
    return [encoder.encode(head), body];
  }

  #currentInput(): { value: SnapshotInput; store: number } {
    const store = this.#source.store.revision;
    const registry = this.#source.registry.revision;
    if (this.#input && this.#input.store === store && this.#input.registry === registry) {
      return { value: this.#input.value, store };
    }
    const domain = this.#source.domain;
    const seen = new Set<string>();
    const resources: NormalizedResource[] = [];
    for (const stored of this.#source.store.list()) {
      const key = `${stored.kind}/${stored.metadata.namespace}/${stored.metadata.name}`;
      const version = String(stored.metadata.resourceVersion ?? "");
      seen.add(key);
      let cached = this.#normalized.get(key);
      if (!cached || cached.version !== version) {
        cached = { version, resource: normalize(stored, { domain }) };
        this.#normalized.set(key, cached);
      }
      resources.push(cached.resource);
    }
    for (const key of this.#normalized.keys()) if (!seen.has(key)) this.#normalized.delete(key);
    const instances = this.#source.registry.instances().map((instance) => {
      let mapped = this.#mapped.get(instance);
      if (!mapped) {
        mapped = toServiceInstance(instance);
        this.#mapped.set(instance, mapped);
      }
      return mapped;
    });
    const value: SnapshotInput = {
      resources,
      instances,
      mesh: { ...DEFAULT_MESH_SETTINGS, domain },
    };
    this.#input = { store, registry, value };
    return { value, store };
  }

  // ------------------------------------------------------------ streams

  #pull(conn: Connection, controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (conn.closed) return Promise.resolve();
    if (conn.outbox.length === 0 && !conn.pending) {
      const { promise, resolve } = Promise.withResolvers<void>();
      conn.wake = resolve;
      return promise.then(() => {
        conn.wake = undefined;
        return this.#pull(conn, controller);
      });
    }
    for (const frame of conn.outbox) controller.enqueue(frame);
    conn.outbox = [];
    if (conn.pending) {
      for (const part of conn.pending) controller.enqueue(part);
      conn.pending = undefined;
    }
    return Promise.resolve();
  }

  #sendKeepalives(): void {
    const frame = encoder.encode(": keepalive\n\n");
    for (const conn of this.#connections.values()) {
      if (conn.outbox.length > 0 || conn.pending) continue;
      conn.outbox.push(frame);
      conn.wake?.();
    }
  }

  #drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#connections.delete(conn.id);
    try {
      conn.controller?.close();
    } catch {
      // Already cancelled by the client.
    }
    conn.wake?.();
    this.#checkWaiters();
  }

  // ------------------------------------------------------------ waits

  #checkWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) {
      let open = false;
      for (const conn of this.#connections.values()) {
        if (conn.syncedRevision >= waiter.revision) continue;
        if (conn.status === "NACKED" && conn.revision >= waiter.revision) continue;
        open = true;
        break;
      }
      if (!open) waiter.resolve(this.#waitResult(waiter.revision));
    }
  }

  #waitResult(revision: number): WaitResponse {
    const pending = [...this.#connections.values()]
      .filter((conn) => conn.syncedRevision < revision)
      .map(statusOf);
    return {
      synced: pending.length === 0,
      revision: String(revision),
      pending,
      connected: this.#connections.size,
    };
  }
}

function statusOf(conn: Connection): ProxyStatus {
  const p = conn.proxy;
  const status: ProxyStatus = {
    id: p.id,
    name: p.name,
    namespace: p.namespace,
    mode: p.mode,
    labels: p.labels,
    status: conn.status,
    version: conn.version,
    syncedRevision: conn.syncedRevision,
    connectedAt: new Date(conn.connectedAt).toISOString(),
  };
  if (p.locality) status.locality = p.locality;
  if (p.serviceAccount) status.serviceAccount = p.serviceAccount;
  if (conn.ackedVersion) status.ackedVersion = conn.ackedVersion;
  if (conn.error !== undefined) status.error = conn.error;
  if (conn.lastAckAt !== undefined) status.lastAckAt = new Date(conn.lastAckAt).toISOString();
  return status;
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0];
  return line.length > 200 ? line.slice(0, 200) + "…" : line;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Validates the body of `POST /v1/discovery`; throws {@link DiscoveryError} listing problems. */
export function checkDiscoveryRequest(input: unknown): DiscoveryRequest & { proxy: ProxyIdentity } {
  const problems: string[] = [];
  const body = (typeof input === "object" && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  const raw = body.proxy as Record<string, unknown> | undefined;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new DiscoveryError(
      400,
      'expected a JSON object {"proxy": {mode, name, namespace, labels, id, locality?, ' +
        'serviceAccount?}, "version"?: "<version served now>"}',
    );
  }
  if (raw.mode !== "sidecar" && raw.mode !== "gateway") {
    problems.push('proxy.mode: "sidecar" or "gateway"');
  }
  for (const field of ["name", "namespace", "id"]) {
    const value = raw[field];
    if (typeof value !== "string" || value === "" || value.length > 253) {
      problems.push(`proxy.${field}: required, a non-empty string`);
    } else if (field !== "id" && !NAME.test(value)) {
      problems.push(`proxy.${field}: letters, digits, "-", "_" and "." only`);
    }
  }
  const labels = raw.labels ?? {};
  if (
    typeof labels !== "object" || labels === null || Array.isArray(labels) ||
    Object.values(labels).some((v) => typeof v !== "string")
  ) {
    problems.push("proxy.labels: a mapping of strings to strings");
  }
  for (const field of ["locality", "serviceAccount"]) {
    if (raw[field] !== undefined && typeof raw[field] !== "string") {
      problems.push(`proxy.${field}: a string`);
    }
  }
  if (body.version !== undefined && typeof body.version !== "string") {
    problems.push("version: a string");
  }
  if (body.encoding !== undefined && body.encoding !== "gzip") {
    problems.push('encoding: "gzip" or absent');
  }
  if (problems.length > 0) {
    throw new DiscoveryError(400, `invalid discovery request: ${problems.join("; ")}`, problems);
  }
  const proxy: ProxyIdentity = {
    mode: raw.mode as ProxyIdentity["mode"],
    name: raw.name as string,
    namespace: raw.namespace as string,
    labels: { ...(labels as Record<string, string>) },
    id: raw.id as string,
  };
  if (typeof raw.locality === "string" && raw.locality !== "") proxy.locality = raw.locality;
  if (typeof raw.serviceAccount === "string" && raw.serviceAccount !== "") {
    proxy.serviceAccount = raw.serviceAccount;
  }
  const version = typeof body.version === "string" && body.version !== ""
    ? body.version
    : undefined;
  const out: DiscoveryRequest & { proxy: ProxyIdentity } = { proxy };
  if (version !== undefined) out.version = version;
  if (body.encoding === "gzip") out.encoding = "gzip";
  return out;
}

function checkAck(input: unknown): AckRequest {
  const body = (typeof input === "object" && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  if (
    typeof body.connection !== "string" || typeof body.version !== "string" ||
    (body.error !== undefined && typeof body.error !== "string")
  ) {
    throw new DiscoveryError(
      400,
      'expected a JSON object {"connection": "<id from hello>", "version": "<snapshot ' +
        'version>", "error"?: "<why it was rejected>"}',
    );
  }
  const ack: AckRequest = { connection: body.connection, version: body.version };
  if (body.error !== undefined) ack.error = body.error as string;
  return ack;
}
