/**
 * A pass-through proxy: every request goes to one upstream. It exercises the
 * whole engine (server, pool, forwarding, proxy headers) until the routing
 * pipeline exists, and is what the data-plane benchmark measures.
 *
 * With `workers > 1` the same accept loop runs in N Web Workers, each with its
 * own SO_REUSEPORT listener on the same port, so the kernel spreads
 * connections over N event loops (one core each).
 *
 * @module
 */

import { type ByteListener, listenTcp, reusePortAvailable } from "./conn.ts";
import { forward } from "./forward.ts";
import { ConnectionPool, type PoolOptions } from "./pool.ts";
import { type Handler, HttpServer, type ServerOptions } from "./server.ts";

/** Configuration of a pass-through proxy. */
export interface PassthroughOptions {
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  /** Listen port; 0 picks one. */
  port: number;
  /** Upstream host. */
  upstreamHost: string;
  /** Upstream port. */
  upstreamPort: number;
  /** Event loops (1 = this thread only). Needs `--unstable-net` for more than 1. */
  workers?: number;
  /** Upstream exchange timeout in ms (0 = none); default 15 000 as Istio's route default. */
  timeoutMs?: number;
  /** Upstream pool settings. */
  pool?: PoolOptions;
  /** Server settings (limits, timeouts). */
  server?: ServerOptions;
}

/** A running pass-through proxy. */
export interface Passthrough {
  /** The bound port. */
  readonly port: number;
  /** Stops listening, finishes in-flight requests, closes pools and workers. */
  close(): Promise<void>;
}

/** A handler forwarding every request to `pool`. */
export function passthroughHandler(pool: ConnectionPool, timeoutMs = 15_000): Handler {
  const options = { pool, timeoutMs };
  return (req, res) => forward(req, res, options);
}

/** Runs one event loop of a pass-through proxy on `listener`. */
export function runPassthroughLoop(
  listener: ByteListener,
  options: PassthroughOptions,
): Passthrough {
  const pool = new ConnectionPool(options.upstreamHost, options.upstreamPort, options.pool);
  const server = new HttpServer(passthroughHandler(pool, options.timeoutMs), options.server);
  server.serve(listener);
  return {
    port: listener.port,
    async close() {
      await server.close(1000);
      pool.close();
    },
  };
}

/** Serializable part of {@link PassthroughOptions} sent to workers. */
type WorkerConfig = PassthroughOptions;

/**
 * Starts a pass-through proxy. With `workers > 1`, this thread serves too and
 * `workers - 1` Web Workers join on the same port via SO_REUSEPORT.
 */
export async function startPassthrough(options: PassthroughOptions): Promise<Passthrough> {
  const workers = Math.max(1, Math.floor(options.workers ?? 1));
  if (workers === 1) {
    const listener = listenTcp({ hostname: options.hostname, port: options.port });
    return runPassthroughLoop(listener, options);
  }
  if (!reusePortAvailable()) {
    throw new Error(
      "--workers > 1 needs SO_REUSEPORT, which Deno 2.9 gates behind --unstable-net; " +
        "run deno with --unstable-net",
    );
  }
  const listener = listenTcp({ hostname: options.hostname, port: options.port, reusePort: true });
  const main = runPassthroughLoop(listener, options);
  const config: WorkerConfig = {
    hostname: options.hostname,
    port: listener.port,
    upstreamHost: options.upstreamHost,
    upstreamPort: options.upstreamPort,
    timeoutMs: options.timeoutMs,
    pool: options.pool === undefined ? undefined : withoutFunctions(options.pool),
    server: options.server === undefined ? undefined : withoutFunctions(options.server),
  };
  const started: Worker[] = [];
  try {
    for (let i = 1; i < workers; i++) {
      const wk = new Worker(new URL("./passthrough_worker.ts", import.meta.url), {
        type: "module",
      });
      started.push(wk);
      await new Promise<void>((resolve, reject) => {
        wk.onmessage = (e: MessageEvent) => {
          if (e.data?.type === "ready") resolve();
          else if (e.data?.type === "error") reject(new Error(String(e.data.message)));
        };
        wk.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
        wk.postMessage({ type: "start", config });
      });
    }
  } catch (err) {
    for (const wk of started) wk.terminate();
    await main.close();
    throw err;
  }
  return {
    port: listener.port,
    async close() {
      for (const wk of started) wk.terminate();
      await main.close();
    },
  };
}

/** Drops function-valued options, which cannot cross to a worker. */
function withoutFunctions<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v !== "function") out[k] = v;
  return out as T;
}
