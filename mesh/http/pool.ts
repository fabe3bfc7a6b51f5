/**
 * Per-endpoint keep-alive connection pools for upstream HTTP/1.1.
 *
 * An idle pooled connection keeps one read outstanding, so a peer close is
 * seen at once and the connection leaves the pool; when the connection is
 * reused, that same read becomes the first read of the response.
 *
 * @module
 */

import { ByteWriter } from "./buffer.ts";
import { type ByteConn, type ConnectOptions, connectTcp } from "./conn.ts";
import { ResponseFlag, UpstreamError } from "./errors.ts";
import { BufferedReader } from "./reader.ts";
import { ResponseHead, ResponseParser } from "./response_parser.ts";

/** Pool limits and timeouts (Istio/Envoy defaults). */
export interface PoolOptions {
  /** Maximum connections open to the endpoint; default 4294967295 as Istio (effectively none). */
  maxConnections?: number;
  /** Requests waiting for a connection before overflow (UO); default 4294967295. */
  maxPending?: number;
  /** Requests per connection before it is closed; 0 = unlimited (default). */
  maxRequestsPerConnection?: number;
  /** Idle connections are closed after this; default 1 h (0 = never). */
  idleTimeoutMs?: number;
  /** Connect timeout; default 10 s (Istio). */
  connectTimeoutMs?: number;
  /** TLS settings for the upstream (omit for plain TCP). */
  tls?: Omit<ConnectOptions, "timeoutMs">;
  /** Read buffer size per connection; default 16 KiB. */
  readBufferSize?: number;
  /** Opens a connection (tests, mTLS adapters); default {@link connectTcp}. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
}

/** One pooled upstream connection. */
export class UpstreamConn {
  /** The connection. */
  readonly conn: ByteConn;
  /** Buffered reader for responses. */
  readonly reader: BufferedReader;
  /** Response-head parser. */
  readonly parser: ResponseParser = new ResponseParser();
  /** Reused response head (valid until the exchange is released). */
  readonly head: ResponseHead = ResponseHead.empty();
  /** Exchange deadline (`Date.now()` ms, 0 = none); see client.ts. */
  deadline = 0;
  /** Set when the exchange deadline passed and the connection was closed. */
  timedOut = false;
  /** Output buffer for request heads and small bodies. */
  readonly writer: ByteWriter = new ByteWriter(2048);
  /** The owning pool. */
  readonly pool: ConnectionPool;
  /** Requests sent on this connection. */
  requests = 0;
  /** Whether this use is a reuse of an earlier connection. */
  reused = false;
  /** Sitting in the idle list. */
  idle = false;
  /** Closed or known unusable. */
  dead = false;
  /** When it became idle. */
  idleSince = 0;
  readonly #onWatch: (n: number | null) => void;
  readonly #onWatchError: () => void;

  /** Wraps an open connection for `pool`. */
  constructor(pool: ConnectionPool, conn: ByteConn, bufferSize: number) {
    this.pool = pool;
    this.conn = conn;
    this.reader = new BufferedReader(conn, bufferSize);
    this.#onWatch = (n) => {
      // data or EOF while idle: the peer closed or misbehaved; either way unusable
      if (this.idle && !this.dead) this.pool.evict(this);
      else if (n === null) this.dead = true;
    };
    this.#onWatchError = () => {
      if (this.idle && !this.dead) this.pool.evict(this);
      else this.dead = true;
    };
  }

  /** Starts the idle watch read. */
  watch(): void {
    this.reader.watch().then(this.#onWatch, this.#onWatchError);
  }

  /** Closes the connection. */
  close(): void {
    this.dead = true;
    this.conn.close();
  }
}

interface Waiter {
  resolve: (c: UpstreamConn) => void;
  reject: (e: unknown) => void;
}

/** Keep-alive pool for one endpoint `host:port`. */
export class ConnectionPool {
  /** Endpoint host. */
  readonly host: string;
  /** Endpoint port. */
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** Limits in force. */
  readonly options: Required<Omit<PoolOptions, "tls" | "connect">> & Pick<PoolOptions, "tls">;
  #connect: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
  #idle: UpstreamConn[] = [];
  #waiters: Waiter[] = [];
  #open = 0;
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates an empty pool for `host:port`. */
  constructor(host: string, port: number, options: PoolOptions = {}) {
    this.host = host;
    this.port = port;
    this.address = `${host}:${port}`;
    this.options = {
      maxConnections: options.maxConnections ?? 4294967295,
      maxPending: options.maxPending ?? 4294967295,
      maxRequestsPerConnection: options.maxRequestsPerConnection ?? 0,
      idleTimeoutMs: options.idleTimeoutMs ?? 3_600_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      readBufferSize: options.readBufferSize ?? 16384,
      tls: options.tls,
    };
    this.#connect = options.connect ?? connectTcp;
  }

  /** Open connections (idle and busy). */
  get open(): number {
    return this.#open;
  }

  /** Idle connections. */
  get idleCount(): number {
    return this.#idle.length;
  }

  /** Requests waiting for a connection. */
  get pending(): number {
    return this.#waiters.length;
  }

  /** Takes an idle connection without waiting, or returns null. */
  takeIdle(): UpstreamConn | null {
    const idle = this.#idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      c.idle = false;
      if (c.dead) continue;
      c.reused = true;
      return c;
    }
    return null;
  }

  /**
   * Gets a connection: an idle one, a new one, or the next released one.
   * Throws {@link UpstreamError} UF (connect failed/timed out) or UO (overflow).
   * `fresh` skips idle connections.
   */
  acquire(fresh = false): Promise<UpstreamConn> {
    if (this.#closed) return Promise.reject(new UpstreamError("UF", "connection pool closed"));
    if (!fresh) {
      const c = this.takeIdle();
      if (c !== null) return Promise.resolve(c);
    }
    if (this.#open < this.options.maxConnections) return this.#newConn();
    if (this.#waiters.length >= this.options.maxPending) {
      return Promise.reject(
        new UpstreamError(ResponseFlag.UO, `connection pool for ${this.address} overflowed`),
      );
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async #newConn(): Promise<UpstreamConn> {
    this.#open++;
    let conn: ByteConn;
    try {
      conn = await this.#connect(this.host, this.port, {
        ...this.options.tls,
        timeoutMs: this.options.connectTimeoutMs,
      });
    } catch (err) {
      this.#open--;
      this.#serveWaiter();
      throw new UpstreamError(
        ResponseFlag.UF,
        `connect to ${this.address} failed: ${message(err)}`,
        {
          retriable: true,
          cause: err,
        },
      );
    }
    if (this.#closed) {
      conn.close();
      this.#open--;
      throw new UpstreamError(ResponseFlag.UF, "connection pool closed");
    }
    return new UpstreamConn(this, conn, this.options.readBufferSize);
  }

  /**
   * Returns `c` after an exchange. Only a connection whose response was read
   * completely (and nothing more arrived) may be `reusable`.
   */
  release(c: UpstreamConn, reusable: boolean): void {
    c.requests++;
    const max = this.options.maxRequestsPerConnection;
    if (
      !reusable || c.dead || this.#closed || (max > 0 && c.requests >= max) ||
      c.reader.end !== c.reader.start || c.reader.eof
    ) {
      this.#drop(c);
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) {
      c.reused = true;
      w.resolve(c);
      return;
    }
    c.idle = true;
    c.idleSince = Date.now();
    this.#idle.push(c);
    c.watch();
    this.#startTimer();
  }

  /** Removes an idle connection the peer closed. */
  evict(c: UpstreamConn): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    c.idle = false;
    this.#drop(c);
  }

  #drop(c: UpstreamConn): void {
    c.close();
    this.#open--;
    this.#serveWaiter();
  }

  #serveWaiter(): void {
    if (this.#waiters.length === 0 || this.#open >= this.options.maxConnections) return;
    const w = this.#waiters.shift()!;
    this.#newConn().then(w.resolve, w.reject);
  }

  #startTimer(): void {
    if (this.#timer !== undefined || this.options.idleTimeoutMs <= 0) return;
    const period = Math.max(10, Math.min(5000, Math.floor(this.options.idleTimeoutMs / 2)));
    this.#timer = setInterval(() => this.#sweep(), period);
    Deno.unrefTimer(this.#timer);
  }

  #sweep(): void {
    const limit = Date.now() - this.options.idleTimeoutMs;
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const c = idle[i];
      if (c.idleSince <= limit) this.evict(c);
    }
    if (idle.length === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Closes idle connections and refuses new requests; busy ones close on release. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) {
      c.idle = false;
      this.#drop(c);
    }
    for (const w of this.#waiters.splice(0)) {
      w.reject(new UpstreamError(ResponseFlag.UF, "connection pool closed"));
    }
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
