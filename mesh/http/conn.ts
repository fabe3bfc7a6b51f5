/**
 * The byte-stream interface the HTTP engine runs over, and adapters for Deno
 * TCP/TLS sockets and `node:tls`/`node:net` sockets.
 *
 * The engine only needs to read into a caller-owned buffer, write, close and
 * know the peer, so the same code serves plain TCP, TLS and mutual TLS.
 *
 * @module
 */

/** A connected byte stream. `read` fills the given buffer like `Deno.Conn.read`. */
export interface ByteConn {
  /** Reads into `buf`; resolves the number of bytes read, or `null` at end of stream. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes `data` (possibly partially); resolves the number of bytes written. */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions; idempotent, never throws. */
  close(): void;
  /** Enables or disables Nagle's algorithm where the transport supports it. */
  setNoDelay(on: boolean): void;
  /** The peer's IP address (no port). */
  readonly remoteHost: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** The local port the connection is bound to. */
  readonly localPort: number;
  /** Whether the stream is encrypted (feeds `x-forwarded-proto`). */
  readonly secure: boolean;
}

/** Writes all of `data`, looping over partial writes. */
export async function writeAll(conn: ByteConn, data: Uint8Array): Promise<void> {
  let n = await conn.write(data);
  while (n < data.length) {
    n += await conn.write(data.subarray(n));
  }
}

/** Adapts a `Deno.Conn` (from `Deno.listen`, `Deno.connect`, `Deno.listenTls`, `Deno.connectTls`). */
export class DenoByteConn implements ByteConn {
  /** The wrapped Deno connection. */
  readonly inner: Deno.Conn;
  /** @inheritdoc */
  readonly remoteHost: string;
  /** @inheritdoc */
  readonly remotePort: number;
  /** @inheritdoc */
  readonly localPort: number;
  /** @inheritdoc */
  readonly secure: boolean;
  #closed = false;

  /** Wraps `inner`; `secure` tells whether it is a TLS connection. */
  constructor(inner: Deno.Conn, secure = false) {
    this.inner = inner;
    const r = inner.remoteAddr as Deno.NetAddr;
    const l = inner.localAddr as Deno.NetAddr;
    this.remoteHost = r.hostname ?? "";
    this.remotePort = r.port ?? 0;
    this.localPort = l.port ?? 0;
    this.secure = secure;
  }

  /** @inheritdoc */
  read(buf: Uint8Array): Promise<number | null> {
    return this.inner.read(buf);
  }

  /** @inheritdoc */
  write(data: Uint8Array): Promise<number> {
    return this.inner.write(data);
  }

  /** @inheritdoc */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.inner.close();
    } catch {
      // already closed by the runtime
    }
  }

  /** @inheritdoc */
  setNoDelay(on: boolean): void {
    const c = this.inner as Partial<Deno.TcpConn>;
    if (typeof c.setNoDelay === "function") {
      try {
        c.setNoDelay(on);
      } catch {
        // not a TCP socket underneath
      }
    }
  }
}

/** The subset of a `node:net`/`node:tls` socket the adapter uses. */
export interface NodeSocketLike {
  /** Registers an event listener. */
  on(event: string, fn: (...args: never[]) => void): unknown;
  /** Writes; calls `cb` when flushed. */
  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean;
  /** Pauses data events. */
  pause(): unknown;
  /** Resumes data events. */
  resume(): unknown;
  /** Destroys the socket. */
  destroy(): unknown;
  /** Sets TCP_NODELAY. */
  setNoDelay(on?: boolean): unknown;
  /** Peer address. */
  readonly remoteAddress?: string;
  /** Peer port. */
  readonly remotePort?: number;
  /** Local port. */
  readonly localPort?: number;
}

/**
 * Adapts an event-based `node:net`/`node:tls` socket (used for mutual TLS) to
 * {@link ByteConn}. Data events are queued and the socket paused while a chunk
 * waits, so backpressure still reaches the peer.
 */
export class NodeByteConn implements ByteConn {
  /** @inheritdoc */
  readonly remoteHost: string;
  /** @inheritdoc */
  readonly remotePort: number;
  /** @inheritdoc */
  readonly localPort: number;
  /** @inheritdoc */
  readonly secure: boolean;
  #sock: NodeSocketLike;
  #pending: Uint8Array | null = null;
  #ended = false;
  #error: Error | null = null;
  #waiter: (() => void) | null = null;

  /** Wraps `sock`; `secure` tells whether it is a TLS socket. */
  constructor(sock: NodeSocketLike, secure = true) {
    this.#sock = sock;
    this.remoteHost = sock.remoteAddress ?? "";
    this.remotePort = sock.remotePort ?? 0;
    this.localPort = sock.localPort ?? 0;
    this.secure = secure;
    sock.on(
      "data",
      ((chunk: Uint8Array) => {
        this.#pending = this.#pending === null ? chunk : concat(this.#pending, chunk);
        sock.pause();
        this.#wake();
      }) as (...args: never[]) => void,
    );
    sock.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    sock.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    sock.on(
      "error",
      ((err: Error) => {
        this.#error = err;
        this.#wake();
      }) as (...args: never[]) => void,
    );
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (w !== null) w();
  }

  /** @inheritdoc */
  async read(buf: Uint8Array): Promise<number | null> {
    while (this.#pending === null) {
      if (this.#error !== null) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    const p = this.#pending;
    const n = Math.min(p.length, buf.length);
    buf.set(n === p.length ? p : p.subarray(0, n));
    if (n === p.length) {
      this.#pending = null;
      this.#sock.resume();
    } else {
      this.#pending = p.subarray(n);
    }
    return n;
  }

  /** @inheritdoc */
  write(data: Uint8Array): Promise<number> {
    if (this.#error !== null) return Promise.reject(this.#error);
    // node may keep a reference to the buffer until flushed; callers reuse theirs
    const copy = data.slice();
    return new Promise((resolve, reject) => {
      this.#sock.write(copy, (err) => err ? reject(err) : resolve(copy.length));
    });
  }

  /** @inheritdoc */
  close(): void {
    this.#ended = true;
    this.#sock.destroy();
    this.#wake();
  }

  /** @inheritdoc */
  setNoDelay(on: boolean): void {
    this.#sock.setNoDelay(on);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Options for {@link connectTcp}. */
export interface ConnectOptions {
  /** Gives up after this many milliseconds (0 = no limit). */
  timeoutMs?: number;
  /** Use TLS (`Deno.connectTls`). */
  tls?: boolean;
  /** CA certificates (PEM) for TLS. */
  caCerts?: string[];
  /** Server name for TLS verification; defaults to `host`. */
  serverName?: string;
}

/** Raised when a connect attempt did not finish within its timeout. */
export class ConnectTimeoutError extends Error {
  /** Builds the error for `host:port`. */
  constructor(host: string, port: number, ms: number) {
    super(`connect to ${host}:${port} timed out after ${ms} ms`);
    this.name = "ConnectTimeoutError";
  }
}

/** Opens a TCP (or TLS) connection to `host:port` with TCP_NODELAY set. */
export async function connectTcp(
  host: string,
  port: number,
  options: ConnectOptions = {},
): Promise<ByteConn> {
  const tls = options.tls === true;
  const p: Promise<Deno.Conn> = tls
    ? Deno.connectTls({ hostname: host, port, caCerts: options.caCerts })
    : Deno.connect({ hostname: host, port });
  const ms = options.timeoutMs ?? 0;
  let conn: Deno.Conn;
  if (ms > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectTimeoutError(host, port, ms)), ms);
    });
    try {
      conn = await Promise.race([p, timeout]);
    } catch (err) {
      // a connect that completes after the timeout must not leak its socket
      p.then((c) => c.close(), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  } else {
    conn = await p;
  }
  const bc = new DenoByteConn(conn, tls);
  bc.setNoDelay(true);
  return bc;
}

/** A source of accepted connections. */
export interface ByteListener {
  /** Waits for the next connection; rejects once the listener is closed. */
  accept(): Promise<ByteConn>;
  /** Stops listening. Idempotent. */
  close(): void;
  /** The bound address. */
  readonly hostname: string;
  /** The bound port (the OS-assigned one when 0 was asked). */
  readonly port: number;
}

/** Adapts a `Deno.Listener` (TCP or TLS). */
export class DenoByteListener implements ByteListener {
  /** The wrapped listener. */
  readonly inner: Deno.Listener;
  /** @inheritdoc */
  readonly hostname: string;
  /** @inheritdoc */
  readonly port: number;
  #secure: boolean;
  #closed = false;

  /** Wraps `inner`; `secure` marks a TLS listener. */
  constructor(inner: Deno.Listener, secure = false) {
    this.inner = inner;
    const a = inner.addr as Deno.NetAddr;
    this.hostname = a.hostname;
    this.port = a.port;
    this.#secure = secure;
  }

  /** @inheritdoc */
  async accept(): Promise<ByteConn> {
    const c = await this.inner.accept();
    const bc = new DenoByteConn(c, this.#secure);
    bc.setNoDelay(true);
    return bc;
  }

  /** @inheritdoc */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.inner.close();
    } catch {
      // already closed
    }
  }
}

/** Options for {@link listenTcp}. */
export interface ListenOptions {
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /**
   * Set SO_REUSEPORT so several workers can accept on the same port. Needs
   * Deno's `--unstable-net` (see {@link reusePortAvailable}).
   */
  reusePort?: boolean;
  /** PEM certificate chain: listen with TLS. */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
}

/**
 * Whether `Deno.listen({reusePort: true})` may be used in this process. Deno
 * 2.9 gates it behind `--unstable-net` and exits the process (uncatchably) if
 * it is used without; `Deno.listenDatagram` exists exactly when the flag is on.
 */
export function reusePortAvailable(): boolean {
  return typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function";
}

/** Listens on TCP (or TLS when `cert`/`key` are given). */
export function listenTcp(options: ListenOptions): ByteListener {
  const hostname = options.hostname ?? "127.0.0.1";
  if (options.cert !== undefined && options.key !== undefined) {
    const l = Deno.listenTls({
      hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
    });
    return new DenoByteListener(l, true);
  }
  if (options.reusePort === true) {
    if (!reusePortAvailable()) {
      throw new Error("reusePort needs Deno's --unstable-net flag; run with --unstable-net");
    }
    return new DenoByteListener(Deno.listen({ hostname, port: options.port, reusePort: true }));
  }
  return new DenoByteListener(Deno.listen({ hostname, port: options.port }));
}
