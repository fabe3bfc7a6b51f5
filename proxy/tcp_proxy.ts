/**
 * L4 proxying (SEMANTICS §2.14): each accepted connection gets one destination of the listener's
 * current `tcp` route (weighted, picked per connection), one endpoint of its cluster (balanced,
 * outlier-aware), and a raw byte tunnel in both directions. An end of stream on one side is
 * passed on as a half-close (`closeWrite`) where the transport allows it, so request/response
 * protocols that signal "done" by shutting their write side keep working; the tunnel ends when
 * both directions have ended or either side fails.
 *
 * Failures close the downstream connection, as Envoy's TCP proxy does: no route (NR), unknown
 * cluster (NC), no endpoint (UH), `tcp.maxConnections` reached (UO), connect failure or
 * timeout (UF; fed to outlier detection).
 *
 * @module
 */

import { type ByteConn, type ByteListener, type ConnectOptions, tunnel } from "../mesh/http/mod.ts";
import { connectUpstream, pickTcpDestination, type TcpRoute } from "../mesh/pipeline/mod.ts";

/** One finished connection, for logs and metrics. */
export interface TcpConnectionRecord {
  /** Listener port. */
  port: number;
  /** Downstream peer address. */
  downstream: string;
  /** Route name, `""` when none applied. */
  route: string;
  /** Cluster name, `""` before one was chosen. */
  cluster: string;
  /** Upstream `host:port`, `""` when none was reached. */
  upstream: string;
  /** Envoy response flag (`NR`, `NC`, `UH`, `UO`, `UF`) or `-`. */
  flag: string;
  /** Bytes received from downstream and sent upstream. */
  receivedBytes: number;
  /** Bytes received from upstream and sent downstream. */
  sentBytes: number;
  /** Connection lifetime in milliseconds. */
  durationMs: number;
}

/** Options of {@linkcode TcpProxy}. */
export interface TcpProxyOptions {
  /** The listener's route now (read per connection, so snapshot swaps apply at once). */
  route: () => TcpRoute | undefined;
  /** Opens upstream connections; default plain TCP. */
  connect?: (host: string, port: number, options: ConnectOptions) => Promise<ByteConn>;
  /** Called once per connection when it ends. Must not throw. */
  onConnection?: (record: TcpConnectionRecord) => void;
  /** Random source for the weighted pick. */
  random?: () => number;
}

/** Serves one listener's connections as L4 tunnels. */
export class TcpProxy {
  readonly #listener: ByteListener;
  readonly #options: TcpProxyOptions;
  readonly #active = new Set<ByteConn>();
  #serving: Promise<void> | undefined;
  #closed = false;

  /** A proxy for `listener`; call {@linkcode TcpProxy.serve}. */
  constructor(listener: ByteListener, options: TcpProxyOptions) {
    this.#listener = listener;
    this.#options = options;
  }

  /** Open downstream connections. */
  get connections(): number {
    return this.#active.size;
  }

  /** Accepts until {@linkcode TcpProxy.close}. */
  serve(): Promise<void> {
    this.#serving ??= this.#acceptLoop();
    return this.#serving;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: ByteConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        if (this.#closed) return;
        // A failed handshake or a transient accept error: keep serving.
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      this.#active.add(conn);
      this.#tunnel(conn).finally(() => this.#active.delete(conn));
    }
  }

  async #tunnel(down: ByteConn): Promise<void> {
    const start = Date.now();
    const record: TcpConnectionRecord = {
      port: this.#listener.port,
      downstream: `${down.remoteHost}:${down.remotePort}`,
      route: "",
      cluster: "",
      upstream: "",
      flag: "-",
      receivedBytes: 0,
      sentBytes: 0,
      durationMs: 0,
    };
    try {
      await this.#run(down, record);
    } finally {
      down.close();
      record.durationMs = Date.now() - start;
      try {
        this.#options.onConnection?.(record);
      } catch {
        // an observer's failure must not break the data path
      }
    }
  }

  async #run(down: ByteConn, record: TcpConnectionRecord): Promise<void> {
    const route = this.#options.route();
    if (route === undefined) {
      record.flag = "NR";
      return;
    }
    record.route = route.name;
    const destination = pickTcpDestination(route, { random: this.#options.random });
    const cluster = destination.cluster;
    record.cluster = cluster.name;
    if (cluster.notFound || cluster.passthrough) {
      // A passthrough cluster needs the original destination address, which a gateway lacks.
      record.flag = "NC";
      return;
    }
    const upstream = await connectUpstream(cluster, { connect: this.#options.connect });
    if (typeof upstream === "string") {
      record.flag = upstream;
      return;
    }
    record.upstream = upstream.endpoint.key;
    try {
      const [received, sent] = await tunnel(down, upstream.conn, {
        stopped: () => this.#closed,
      });
      record.receivedBytes = received;
      record.sentBytes = sent;
    } finally {
      upstream.conn.close();
      upstream.release();
    }
  }

  /**
   * Stops accepting, waits up to `graceMs` for open tunnels to end by themselves, then closes
   * what is left.
   */
  async close(graceMs = 0): Promise<void> {
    this.#closed = true;
    this.#listener.close();
    const deadline = Date.now() + graceMs;
    while (this.#active.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    for (const conn of this.#active) conn.close();
    await this.#serving;
  }
}
