/**
 * The discovery client of a proxy: one long-lived stream to the control
 * plane (`POST /v1/discovery`, Server-Sent Events; see `control/push.ts`),
 * ACK or NACK for every snapshot, reconnection with jittered exponential
 * backoff, the last good snapshot persisted in the state directory and
 * applied at start (so a restarted proxy serves during a control-plane
 * outage), and — for sidecars — registration, heartbeats and deregistration
 * through the registry API.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import type {
  AckRequest,
  DiscoveryHello,
  DiscoveryRequest,
  ProxyIdentity,
  RegisterResponse,
  Registration,
  Snapshot,
  SnapshotFrame,
} from "../model/mod.ts";
import { loadLastSnapshot, saveLastSnapshot } from "./last_snapshot.ts";
import type { ApplySnapshot, ConfigSource, SourceStatus } from "./source.ts";
import { SseParser } from "./sse.ts";

/** Options of {@link DiscoveryClient}. */
export interface DiscoveryClientOptions {
  /** The control plane's URL, e.g. `http://127.0.0.1:15010`. */
  control: string;
  /** Bearer token the control plane requires. */
  token?: string;
  identity: ProxyIdentity;
  /** Compiles and swaps in a snapshot; throwing rejects it (NACK). */
  apply: ApplySnapshot;
  /** Where `last-snapshot.json` lives; no persistence when absent. */
  stateDir?: string;
  /** Sidecars: the instance to register, heartbeat and deregister. */
  registration?: Registration;
  /** First reconnect delay in milliseconds (default 250); doubles per failure. */
  initialBackoffMs?: number;
  /** Longest reconnect delay in milliseconds (default 10000). */
  maxBackoffMs?: number;
  /** Where operational messages go (default stderr). */
  log?: (line: string) => void;
}

/** A failed HTTP call: `status` 0 when the control plane could not be reached. */
class CallError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** Follows the control plane for one proxy. */
export class DiscoveryClient implements ConfigSource {
  readonly #options: DiscoveryClientOptions;
  readonly #url: string;
  readonly #log: (line: string) => void;
  readonly #stop = new AbortController();
  #stream?: AbortController;
  #loops: Promise<void>[] = [];
  #current?: Snapshot;
  #appliedAt?: number;
  #origin?: SourceStatus["origin"];
  #connected = false;
  #lastError?: string;
  #registration?: Registration;
  #registeredId?: string;
  #persisting: Promise<void> = Promise.resolve();
  #ready = Promise.withResolvers<void>();
  #started = false;

  constructor(options: DiscoveryClientOptions) {
    this.#options = options;
    this.#url = options.control.replace(/\/+$/, "");
    this.#log = options.log ?? ((line) => console.error(line));
    this.#registration = options.registration;
  }

  /** Resolves once a snapshot has been applied (persisted or received). */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The snapshot applied now, if any. */
  get snapshot(): Snapshot | undefined {
    return this.#current;
  }

  /**
   * Applies the persisted last good snapshot when there is one, then starts
   * the stream (and registration) in the background. Resolves after the
   * persisted snapshot was applied, without waiting for the control plane.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { stateDir, identity } = this.#options;
    if (stateDir !== undefined) {
      try {
        const saved = await loadLastSnapshot(stateDir, identity);
        if (saved) {
          await this.#options.apply(saved);
          this.#accepted(saved, "cache");
          this.#log(`mesh: serving the last good snapshot ${saved.version} from ${stateDir}`);
        }
      } catch (error) {
        this.#lastError = messageOf(error);
        this.#log(`mesh: not using the persisted snapshot: ${this.#lastError}`);
      }
    }
    this.#loops.push(this.#streamLoop());
    if (this.#registration) this.#loops.push(this.#registrationLoop());
  }

  /**
   * Starts registering `registration` (and heartbeating) now, for a sidecar that registers only
   * once its application accepts connections. Ignored when a registration is already active.
   */
  register(registration: Registration): void {
    if (this.#registration !== undefined || this.#stop.signal.aborted) return;
    this.#registration = registration;
    if (this.#started) this.#loops.push(this.#registrationLoop());
  }

  /**
   * Removes the sidecar's registration (before draining on SIGTERM) and
   * stops heartbeating; the stream stays open. Best effort, bounded by 2 s.
   */
  async deregister(): Promise<void> {
    const id = this.#registeredId;
    this.#registeredId = undefined;
    this.#registration = undefined;
    if (id === undefined) return;
    await this.#call("POST", "/v1/registry/deregister", { id }, AbortSignal.timeout(2000))
      .catch(() => {});
  }

  /** Deregisters (when registered), closes the stream and ends every loop. */
  async stop(): Promise<void> {
    await this.deregister();
    this.#stop.abort();
    this.#stream?.abort();
    await Promise.allSettled(this.#loops);
    await this.#persisting;
  }

  /** The client's state. */
  status(): SourceStatus {
    const status: SourceStatus = { kind: "control", connected: this.#connected };
    if (this.#current) status.version = this.#current.version;
    if (this.#appliedAt !== undefined) status.appliedAt = new Date(this.#appliedAt).toISOString();
    if (this.#origin) status.origin = this.#origin;
    if (this.#lastError !== undefined) status.lastError = this.#lastError;
    return status;
  }

  // ------------------------------------------------------------ stream

  async #streamLoop(): Promise<void> {
    let failures = 0;
    let reported = false;
    while (!this.#stop.signal.aborted) {
      let helloSeen = false;
      try {
        await this.#runStream(() => {
          helloSeen = true;
          failures = 0;
          if (reported) this.#log(`mesh: reconnected to the control plane at ${this.#url}`);
          reported = false;
        });
        if (!this.#stop.signal.aborted) this.#lastError = "the control plane closed the stream";
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        this.#lastError = messageOf(error);
      }
      this.#connected = false;
      if (this.#stop.signal.aborted) break;
      if (!reported) {
        const serving = this.#current
          ? `serving snapshot ${this.#current.version}`
          : "no snapshot yet";
        this.#log(
          `mesh: lost the control plane at ${this.#url} (${this.#lastError}); ${serving}; ` +
            "reconnecting",
        );
        reported = true;
      }
      if (!helloSeen) failures++;
      await sleep(this.#backoff(failures), this.#stop.signal);
    }
  }

  /** Delay before the next attempt: exponential, capped, with jitter (half fixed, half random). */
  #backoff(failures: number): number {
    const initial = this.#options.initialBackoffMs ?? 250;
    const max = this.#options.maxBackoffMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** Math.min(20, Math.max(0, failures - 1)));
    return base / 2 + Math.random() * base / 2;
  }

  async #runStream(onHello: () => void): Promise<void> {
    const stream = new AbortController();
    this.#stream = stream;
    const request: DiscoveryRequest = { proxy: this.#options.identity, encoding: "gzip" };
    if (this.#current) request.version = this.#current.version;
    const response = await this.#fetch("POST", "/v1/discovery", request, stream.signal);
    if (!response.ok || !response.body) {
      throw new CallError(await errorText(response, "/v1/discovery"), response.status);
    }
    let connection = "";
    let idleMs = 45_000;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => stream.abort(new Error("no data from the control plane")), idleMs);
    };
    touch();
    const parser = new SseParser();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        touch();
        for (const event of parser.push(value)) {
          if (event.event === "hello") {
            const hello = JSON.parse(event.data) as DiscoveryHello;
            connection = hello.connection;
            idleMs = Math.max(1000, hello.keepaliveMs * 3);
            touch();
            this.#connected = true;
            this.#lastError = undefined;
            onHello();
          } else if (event.event === "snapshot") {
            await this.#onSnapshot(connection, event.data, stream);
            touch();
          }
        }
      }
    } finally {
      if (idle !== undefined) clearTimeout(idle);
      reader.cancel().catch(() => {});
      stream.abort();
    }
  }

  async #onSnapshot(connection: string, data: string, stream: AbortController): Promise<void> {
    let snapshot: Snapshot;
    try {
      snapshot = decodeFrame(JSON.parse(data) as SnapshotFrame);
    } catch (error) {
      throw new Error(`the control plane sent a snapshot that cannot be read: ${messageOf(error)}`);
    }
    const ack: AckRequest = { connection, version: snapshot.version };
    if (snapshot.version !== this.#current?.version) {
      try {
        await this.#options.apply(snapshot);
        this.#accepted(snapshot, "control");
        if (this.#options.stateDir !== undefined) this.#persist(JSON.stringify(snapshot));
      } catch (error) {
        ack.error = messageOf(error);
        this.#lastError = `rejected snapshot ${snapshot.version}: ${ack.error}`;
        this.#log(`mesh: ${this.#lastError}; keeping ${this.#current?.version ?? "nothing"}`);
      }
    }
    try {
      await this.#call("POST", "/v1/discovery/ack", ack, stream.signal);
    } catch (error) {
      // The stream is gone or was replaced: reconnect, announcing the version served.
      stream.abort();
      throw error;
    }
  }

  #accepted(snapshot: Snapshot, origin: SourceStatus["origin"]): void {
    this.#current = snapshot;
    this.#appliedAt = Date.now();
    this.#origin = origin;
    this.#ready.resolve();
  }

  #persist(text: string): void {
    const dir = this.#options.stateDir!;
    this.#persisting = this.#persisting.then(() => saveLastSnapshot(dir, text)).catch((error) =>
      this.#log(`mesh: cannot persist the snapshot in ${dir}: ${messageOf(error)}`)
    );
  }

  // ------------------------------------------------------------ registration

  async #registrationLoop(): Promise<void> {
    let failures = 0;
    let intervalMs = 10_000;
    let reported = false;
    while (!this.#stop.signal.aborted && this.#registration) {
      try {
        if (this.#registeredId === undefined) {
          const answer = await this.#call<RegisterResponse>(
            "POST",
            "/v1/registry/register",
            this.#registration,
            this.#stop.signal,
          );
          if (!this.#registration) {
            // Deregistered while the call was in flight.
            this.#registeredId = answer.instance.id;
            await this.deregister();
            return;
          }
          this.#registeredId = answer.instance.id;
          intervalMs = answer.heartbeatIntervalMs;
        } else {
          const answer = await this.#call<RegisterResponse>(
            "POST",
            "/v1/registry/heartbeat",
            { id: this.#registeredId },
            this.#stop.signal,
          );
          intervalMs = answer.heartbeatIntervalMs;
        }
        failures = 0;
        reported = false;
        await sleep(intervalMs, this.#stop.signal);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        if (error instanceof CallError && error.status === 404) {
          // Expired or forgotten: register again at once.
          this.#registeredId = undefined;
          continue;
        }
        if (error instanceof CallError && error.status === 400) {
          this.#log(`mesh: the control plane refused the registration: ${error.message}`);
        } else if (!reported) {
          this.#log(
            `mesh: cannot register/heartbeat: ${error instanceof Error ? error.message : error}`,
          );
          reported = true;
        }
        failures++;
        await sleep(Math.min(this.#backoff(failures), intervalMs), this.#stop.signal);
      }
    }
  }

  // ------------------------------------------------------------ http

  #fetch(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    if (this.#options.token) headers.authorization = `Bearer ${this.#options.token}`;
    return fetch(this.#url + path, { method, headers, body: JSON.stringify(body), signal }).catch(
      (error) => {
        throw new CallError(`cannot reach ${this.#url}: ${messageOf(error)}`, 0);
      },
    );
  }

  async #call<T>(method: string, path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const response = await this.#fetch(method, path, body, signal);
    if (!response.ok) throw new CallError(await errorText(response, path), response.status);
    return await response.json() as T;
  }
}

/** The snapshot of a stream frame, decompressing `content` when the frame is gzip-encoded. */
export function decodeFrame(frame: SnapshotFrame): Snapshot {
  if (frame.encoding !== "gzip") return frame;
  const { encoding: _, content, ...rest } = frame;
  const inner = JSON.parse(gunzipSync(Buffer.from(content, "base64")).toString("utf8")) as Pick<
    Snapshot,
    "resources" | "instances"
  >;
  return { ...rest, resources: inner.resources, instances: inner.instances };
}

async function errorText(response: Response, path: string): Promise<string> {
  const text = await response.text().catch(() => "");
  let message = `${path} answered ${response.status}`;
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === "string") message = `${message}: ${body.error}`;
  } catch {
    // Not JSON: keep the status.
  }
  return message;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves after `ms`, or early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
