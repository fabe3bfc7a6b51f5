/**
 * The byte-stream interface the HTTP engine runs over, and adapters for Deno
 * TCP/TLS sockets and `node:tls`/`node:net` sockets.
 *
 * The engine only needs to read into a caller-owned buffer, write, close and
 * know the peer, so the same code serves plain TCP, TLS and mutual TLS.
 *
 * @module
 */

import nodeTls from "node:tls";

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
  /**
   * The verified peer certificate of a TLS connection that asked for one
   * (mutual TLS through {@link listenNodeTls}); null or absent otherwise.
   */
  peerCertificate?(): PeerCertificate | null;
}

/** What the engine exposes of a peer's TLS certificate (for authentication). */
export interface PeerCertificate {
  /** Subject as `CN=...` style text. */
  subject: string;
  /** Subject alternative names as OpenSSL prints them (`URI:spiffe://..., DNS:...`). */
  subjectAltName: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
  /** Whether the chain verified against the configured CA. */
  authorized: boolean;
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
  /** `node:tls`: whether the peer certificate verified. */
  readonly authorized?: boolean;
  /** `node:tls`: the peer certificate (empty object when none). */
  getPeerCertificate?(): {
    subject?: Record<string, string | string[]>;
    subjectaltname?: string;
    fingerprint256?: string;
  } | null;
}

/** Bytes queued from data events before the socket is paused (backpressure). */
const NODE_HIGH_WATER = 64 * 1024;

/**
 * Adapts an event-based `node:net`/`node:tls` socket (used for mutual TLS) to
 * {@link ByteConn}. Data events are queued (up to 64 KiB, then the socket is
 * paused, so backpressure still reaches the peer); a read with data queued
 * resolves without waiting for an event.
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
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #waitBuf: Uint8Array | null = null;
  #waitResolve: ((n: number | null) => void) | null = null;
  #waitReject: ((err: Error) => void) | null = null;

  /** Wraps `sock`; `secure` tells whether it is a TLS socket. */
  constructor(sock: NodeSocketLike, secure = true) {
    this.#sock = sock;
    this.remoteHost = sock.remoteAddress ?? "";
    this.remotePort = sock.remotePort ?? 0;
    this.localPort = sock.localPort ?? 0;
    this.secure = secure;
    sock.on("data", ((chunk: Uint8Array) => this.#onData(chunk)) as (...args: never[]) => void);
    const onEnd = () => {
      this.#ended = true;
      this.#settle();
    };
    sock.on("end", onEnd);
    sock.on("close", onEnd);
    sock.on(
      "error",
      ((err: Error) => {
        this.#error = err;
        this.#settle();
      }) as (...args: never[]) => void,
    );
  }

  #onData(chunk: Uint8Array): void {
    const buf = this.#waitBuf;
    if (buf !== null && this.#chunks.length === 0) {
      // a read is waiting: hand the bytes straight over
      const resolve = this.#waitResolve!;
      this.#clearWait();
      const n = chunk.length <= buf.length ? chunk.length : buf.length;
      buf.set(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n < chunk.length) this.#enqueue(chunk.subarray(n));
      resolve(n);
      return;
    }
    this.#enqueue(chunk);
  }

  #enqueue(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (!this.#paused && this.#queued >= NODE_HIGH_WATER) {
      this.#paused = true;
      this.#sock.pause();
    }
  }

  #clearWait(): void {
    this.#waitBuf = null;
    this.#waitResolve = null;
    this.#waitReject = null;
  }

  /** Completes a waiting read after end, close or error. */
  #settle(): void {
    if (this.#waitBuf === null) return;
    const resolve = this.#waitResolve!;
    const reject = this.#waitReject!;
    this.#clearWait();
    if (this.#error !== null) reject(this.#error);
    else resolve(null);
  }

  /** Copies queued bytes into `buf`; returns the count. */
  #take(buf: Uint8Array): number {
    const chunks = this.#chunks;
    let n = 0;
    while (chunks.length > 0 && n < buf.length) {
      const c = chunks[0];
      const k = Math.min(c.length, buf.length - n);
      buf.set(k === c.length ? c : c.subarray(0, k), n);
      n += k;
      if (k === c.length) chunks.shift();
      else chunks[0] = c.subarray(k);
    }
    this.#queued -= n;
    if (this.#paused && this.#queued < NODE_HIGH_WATER / 2) {
      this.#paused = false;
      this.#sock.resume();
    }
    return n;
  }

  /** @inheritdoc */
  read(buf: Uint8Array): Promise<number | null> {
    if (this.#queued > 0) return Promise.resolve(this.#take(buf));
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#waitBuf !== null) return Promise.reject(new Error("concurrent read on a connection"));
    return new Promise((resolve, reject) => {
      this.#waitBuf = buf;
      this.#waitResolve = resolve;
      this.#waitReject = reject;
    });
  }

  /** @inheritdoc */
  write(data: Uint8Array): Promise<number> {
    if (this.#error !== null) return Promise.reject(this.#error);
    // node keeps a reference until flushed, and callers reuse their buffers: copy.
    // Below the socket's high-water mark node has taken the bytes, so resolve at
    // once (a later failure surfaces as an error event); above it, wait for the
    // flush so a fast writer cannot queue without bound.
    const copy = data.slice();
    const n = copy.length;
    return new Promise((resolve, reject) => {
      const ok = this.#sock.write(copy, (err) => err ? reject(err) : resolve(n));
      if (ok) resolve(n);
    });
  }

  /** @inheritdoc */
  close(): void {
    this.#ended = true;
    this.#sock.destroy();
    this.#settle();
  }

  /** @inheritdoc */
  setNoDelay(on: boolean): void {
    this.#sock.setNoDelay(on);
  }

  /** @inheritdoc */
  peerCertificate(): PeerCertificate | null {
    const get = this.#sock.getPeerCertificate;
    if (typeof get !== "function") return null;
    const c = get.call(this.#sock);
    if (c === null || c === undefined || c.fingerprint256 === undefined) return null;
    const subject = c.subject === undefined
      ? ""
      : Object.entries(c.subject).map(([k, v]) => `${k}=${v}`).join(", ");
    return {
      subject,
      subjectAltName: c.subjectaltname ?? "",
      fingerprint256: c.fingerprint256,
      authorized: this.#sock.authorized === true,
    };
  }
}

/** Options for {@link connectTcp}. */
export interface ConnectOptions {
  /** Gives up after this many milliseconds (0 = no limit). */
  timeoutMs?: number;
  /** Use TLS (`Deno.connectTls`). */
  tls?: boolean;
  /** CA certificates (PEM) for TLS; the peer's chain must verify against them (or the web roots). */
  caCerts?: string[];
  /**
   * Server name for SNI and verification when it differs from `host` (e.g.
   * connecting to an IP); then the connection goes through `node:tls`.
   */
  serverName?: string;
  /** Client certificate chain (PEM) for mutual TLS; needs `key`. */
  cert?: string;
  /** Private key (PEM) for `cert`. */
  key?: string;
}

/** Raised when a connect attempt did not finish within its timeout. */
export class ConnectTimeoutError extends Error {
  /** Builds the error for `host:port`. */
  constructor(host: string, port: number, ms: number) {
    super(`connect to ${host}:${port} timed out after ${ms} ms`);
    this.name = "ConnectTimeoutError";
  }
}

function openConn(host: string, port: number, options: ConnectOptions): Promise<ByteConn> {
  if (options.tls !== true) {
    return Deno.connect({ hostname: host, port }).then((c) => new DenoByteConn(c, false));
  }
  if (options.serverName !== undefined && options.serverName !== host) {
    return connectNodeTls(host, port, options);
  }
  const tlsOptions: Deno.ConnectTlsOptions & Partial<Deno.TlsCertifiedKeyPem> = {
    hostname: host,
    port,
    caCerts: options.caCerts,
  };
  if (options.cert !== undefined && options.key !== undefined) {
    tlsOptions.cert = options.cert;
    tlsOptions.key = options.key;
  }
  return Deno.connectTls(tlsOptions as Deno.ConnectTlsOptions).then((c) =>
    new DenoByteConn(c, true)
  );
}

/**
 * Opens a TCP (or TLS, optionally with a client certificate) connection to
 * `host:port` with TCP_NODELAY set.
 */
export async function connectTcp(
  host: string,
  port: number,
  options: ConnectOptions = {},
): Promise<ByteConn> {
  const p = openConn(host, port, options);
  const ms = options.timeoutMs ?? 0;
  let conn: ByteConn;
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
  conn.setNoDelay(true);
  return conn;
}

/**
 * Opens a TLS connection through `node:tls`: SNI and verification use
 * `options.serverName` (default `host`), and a client certificate is sent
 * when `cert`/`key` are given. The chain must verify against `caCerts`.
 */
export function connectNodeTls(
  host: string,
  port: number,
  options: ConnectOptions = {},
): Promise<ByteConn> {
  return new Promise((resolve, reject) => {
    const sock = nodeTls.connect({
      host,
      port,
      servername: options.serverName ?? host,
      ca: options.caCerts,
      cert: options.cert,
      key: options.key,
      rejectUnauthorized: true,
    });
    const onError = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    sock.once("error", onError);
    sock.once("secureConnect", () => {
      sock.off("error", onError);
      resolve(new NodeByteConn(sock as unknown as NodeSocketLike, true));
    });
  });
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

/** Options for {@link listenNodeTls}. */
export interface NodeTlsListenOptions {
  /** Address to bind; default 127.0.0.1. */
  hostname?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key for `cert`. */
  key: string;
  /**
   * CA certificates (PEM) client certificates must chain to. When given, a
   * client certificate is required: a client without a valid one fails the
   * handshake and never reaches the server.
   */
  clientCa?: string[];
}

/**
 * A TLS listener over `node:tls`, for what `Deno.listenTls` cannot do in Deno
 * 2.9: requesting and verifying client certificates (mutual TLS). Accepted
 * connections are {@link NodeByteConn}s exposing `peerCertificate()`.
 */
export class NodeTlsListener implements ByteListener {
  /** @inheritdoc */
  readonly hostname: string;
  /** @inheritdoc */
  port = 0;
  /** Handshakes that failed (no or bad client certificate, protocol errors). */
  handshakeFailures = 0;
  #server: nodeTls.Server;
  #ready: NodeByteConn[] = [];
  #waiters: { resolve: (c: ByteConn) => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  /** Creates the server; call {@link listen} (or use {@link listenNodeTls}). */
  constructor(options: NodeTlsListenOptions) {
    this.hostname = options.hostname ?? "127.0.0.1";
    const mutual = options.clientCa !== undefined;
    this.#server = nodeTls.createServer({
      cert: options.cert,
      key: options.key,
      ca: options.clientCa,
      requestCert: mutual,
      rejectUnauthorized: mutual,
    }, (sock) => {
      const c = new NodeByteConn(sock as unknown as NodeSocketLike, true);
      c.setNoDelay(true);
      const w = this.#waiters.shift();
      if (w !== undefined) w.resolve(c);
      else this.#ready.push(c);
    });
    this.#server.on("tlsClientError", (_err: Error, sock: { destroy(): void }) => {
      this.handshakeFailures++;
      sock.destroy();
    });
  }

  /** Binds; resolves once listening (`port` is then the bound one). */
  listen(port: number): Promise<this> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, this.hostname, () => {
        this.#server.off("error", reject);
        const a = this.#server.address();
        this.port = typeof a === "object" && a !== null ? a.port : port;
        resolve(this);
      });
    });
  }

  /** @inheritdoc */
  accept(): Promise<ByteConn> {
    const c = this.#ready.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("listener closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** @inheritdoc */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const c of this.#ready.splice(0)) c.close();
    for (const w of this.#waiters.splice(0)) {
      w.reject(new Deno.errors.BadResource("listener closed"));
    }
  }
}

/** Listens with TLS through `node:tls`, requiring client certificates when `clientCa` is given. */
export function listenNodeTls(options: NodeTlsListenOptions): Promise<NodeTlsListener> {
  return new NodeTlsListener(options).listen(options.port);
}
