/**
 * Test helpers for the pipeline over real loopback sockets: scriptable upstream servers
 * (Deno.serve), a raw keep-alive HTTP/1.1 client that can set `Host` (fetch cannot), a proxy
 * harness (YAML → snapshot → Pipeline → HttpServer on port 0), and small polling utilities.
 *
 * @module
 */

import { HttpServer, listenTcp } from "../../mesh/http/mod.ts";
import type { ProxyIdentity, ServiceInstance, Snapshot } from "../../mesh/model/mod.ts";
import { seededRandom } from "../../mesh/pipeline/balance/mod.ts";
import {
  type HandlerOptions,
  Pipeline,
  type PipelineOptions,
} from "../../mesh/pipeline/pipeline.ts";
import type { RequestRecord } from "../../mesh/pipeline/request_context.ts";
import { parseResources, sidecar } from "./snapshot_fixture.ts";

/** How an upstream answers; every field may be changed while it runs. */
export interface Behaviour {
  /** Status of ordinary requests; default 200. */
  status?: number;
  /** Delay before answering, ms. */
  delayMs?: number;
  /** Status of `GET <healthPath>`; default 200. */
  healthStatus?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** A recorded request. */
export interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A running upstream. */
export interface Upstream {
  /** Name echoed in `x-upstream` and the body. */
  readonly name: string;
  /** Bound port on 127.0.0.1. */
  readonly port: number;
  /** Mutable behaviour. */
  behaviour: Behaviour;
  /** Ordinary requests answered (health checks excluded). */
  count: number;
  /** Health checks answered. */
  healthChecks: number;
  /** The last 200 requests. */
  readonly seen: Seen[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Paths answered as health checks. */
export const HEALTH_PATH = "/healthz/ready";

/**
 * Starts an upstream on 127.0.0.1:0 that answers `{"upstream": name, "path", "headers"}` with
 * `x-upstream: name`, after `delayMs`, with `status`.
 */
export function startUpstream(name: string, behaviour: Behaviour = {}): Upstream {
  const seen: Seen[] = [];
  const up = {
    name,
    port: 0,
    behaviour,
    count: 0,
    healthChecks: 0,
    seen,
    close: async () => {},
  };
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const b = up.behaviour;
      if (url.pathname === HEALTH_PATH) {
        up.healthChecks++;
        return new Response("ok", { status: b.healthStatus ?? 200, headers: b.headers });
      }
      up.count++;
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => headers[k] = v);
      const body = req.body ? await req.text() : "";
      seen.push({ method: req.method, path: url.pathname + url.search, headers, body });
      if (seen.length > 200) seen.shift();
      if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
      return new Response(
        JSON.stringify({ upstream: name, path: url.pathname + url.search, headers, body }),
        {
          status: b.status ?? 200,
          headers: { "content-type": "application/json", "x-upstream": name, ...b.headers },
        },
      );
    },
  );
  up.port = server.addr.port;
  up.close = async () => {
    ac.abort();
    await server.finished.catch(() => {});
  };
  return up;
}

/** A port nothing listens on (bound, then closed): connecting is refused. */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** An upstream that accepts, reads the request head and closes without answering (UC). */
export function startClosingUpstream(): { port: number; count: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = {
    port: (listener.addr as Deno.NetAddr).port,
    count: 0,
    close: () => listener.close(),
  };
  (async () => {
    for await (const conn of listener) {
      state.count++;
      conn.read(new Uint8Array(4096)).catch(() => null).finally(() => conn.close());
    }
  })().catch(() => {});
  return state;
}

// ------------------------------------------------------------------ client

/** A parsed response. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw keep-alive HTTP/1.1 client for one connection (requests are serialized). */
export class Client {
  #port: number;
  #conn: Deno.TcpConn | undefined;
  #buf = new Uint8Array(0);
  #busy: Promise<unknown> = Promise.resolve();

  /** A client for 127.0.0.1:`port`. */
  constructor(port: number) {
    this.#port = port;
  }

  /** Sends one request; `host` defaults to `localhost`. */
  request(
    path: string,
    options: {
      host?: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      timeoutMs?: number;
    } = {},
  ): Promise<Reply> {
    const run = this.#busy.then(() => this.#request(path, options));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #request(
    path: string,
    options: {
      host?: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      timeoutMs?: number;
    },
  ): Promise<Reply> {
    const body = options.body === undefined ? undefined : enc.encode(options.body);
    let head = `${options.method ?? "GET"} ${path} HTTP/1.1\r\nhost: ${
      options.host ?? "localhost"
    }\r\n`;
    for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
    if (body !== undefined) head += `content-length: ${body.length}\r\n`;
    head += "\r\n";
    for (let attempt = 0;; attempt++) {
      const fresh = this.#conn === undefined;
      this.#conn ??= await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
      this.#buf = new Uint8Array(0);
      try {
        const bytes = enc.encode(head);
        const all = body ? new Uint8Array([...bytes, ...body]) : bytes;
        let off = 0;
        while (off < all.length) off += await this.#conn.write(all.subarray(off));
        const timer = setTimeout(() => this.close(), options.timeoutMs ?? 20_000);
        try {
          return await this.#readResponse(options.method === "HEAD");
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        this.close();
        // a kept-alive connection the proxy closed meanwhile: once more on a new one
        if (!fresh && attempt === 0) continue;
        throw err;
      }
    }
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(65536);
    const n = await this.#conn!.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  async #line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(10);
      if (i >= 0) {
        const line = dec.decode(this.#buf.subarray(0, i)).replace(/\r$/, "");
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      await this.#fill();
    }
  }

  async #bytes(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#fill();
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async #readResponse(headOnly: boolean): Promise<Reply> {
    const status = Number((await this.#line()).split(" ")[1]);
    const headers: Record<string, string> = {};
    for (;;) {
      const line = await this.#line();
      if (line === "") break;
      const c = line.indexOf(":");
      const k = line.slice(0, c).toLowerCase();
      const v = line.slice(c + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
    }
    let body = "";
    if (!headOnly && status !== 204 && status !== 304) {
      if (headers["transfer-encoding"] === "chunked") {
        for (;;) {
          const size = parseInt(await this.#line(), 16);
          if (size === 0) {
            while ((await this.#line()) !== "");
            break;
          }
          body += dec.decode(await this.#bytes(size));
          await this.#line();
        }
      } else if (headers["content-length"] !== undefined) {
        body = dec.decode(await this.#bytes(Number(headers["content-length"])));
      }
    }
    if (headers["connection"] === "close") this.close();
    return { status, headers, body };
  }

  /** Closes the connection (the next request opens a new one). */
  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = undefined;
  }
}

/** One request on a fresh connection. */
export async function request(
  port: number,
  path: string,
  options: Parameters<Client["request"]>[1] = {},
): Promise<Reply> {
  const c = new Client(port);
  try {
    return await c.request(path, options);
  } finally {
    c.close();
  }
}

/** Sends `total` requests over `concurrency` keep-alive connections; returns the replies. */
export async function load(
  port: number,
  total: number,
  options: { concurrency?: number; path?: string } & Parameters<Client["request"]>[1] = {},
): Promise<Reply[]> {
  const concurrency = options.concurrency ?? 8;
  const out: Reply[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const c = new Client(port);
      try {
        while (next < total) {
          next++;
          out.push(await c.request(options.path ?? "/", options));
        }
      } finally {
        c.close();
      }
    }),
  );
  return out;
}

// ------------------------------------------------------------------ proxy harness

/** An instance of `<name>.<ns>.svc.cluster.local` served by `upstream` (or a bare port). */
export function instance(
  name: string,
  target: Upstream | number,
  labels: Record<string, string> = {},
  extra: Partial<ServiceInstance> = {},
): ServiceInstance {
  const ns = extra.namespace ?? "default";
  return {
    host: `${name}.${ns}.svc.cluster.local`,
    namespace: ns,
    address: "127.0.0.1",
    port: typeof target === "number" ? target : target.port,
    labels: { app: name, ...labels },
    source: "registry",
    ...extra,
  };
}

/** A snapshot of YAML resources and instances for `proxy` (a sidecar by default). */
export function makeSnapshot(
  yaml: string,
  instances: ServiceInstance[],
  options: { proxy?: ProxyIdentity; version?: string; outbound?: "ALLOW_ANY" | "REGISTRY_ONLY" } =
    {},
): Snapshot {
  return {
    version: options.version ?? "v1",
    proxy: options.proxy ?? sidecar(),
    mesh: { domain: "cluster.local", outboundTrafficPolicy: options.outbound ?? "ALLOW_ANY" },
    resources: yaml.trim() ? parseResources(yaml) : [],
    instances,
  };
}

/** A pipeline served on 127.0.0.1:0. */
export interface Proxy {
  /** The pipeline. */
  pipeline: Pipeline;
  /** The listener's port. */
  port: number;
  /** Request records seen by `onRequest`. */
  records: RequestRecord[];
  /** Stops the server and the pipeline. */
  close(): Promise<void>;
}

/** Starts a pipeline for `snapshot` behind an {@linkcode HttpServer} on port 0. */
export function startProxy(
  snapshot: Snapshot,
  options: { handler?: Partial<HandlerOptions>; pipeline?: PipelineOptions; seed?: number } = {},
): Proxy {
  const records: RequestRecord[] = [];
  const pipeline = new Pipeline(snapshot, {
    random: seededRandom(options.seed ?? 11),
    onRequest: (r) => {
      records.push({ ...r, pathAndQuery: r.pathAndQuery });
      if (records.length > 5000) records.shift();
    },
    ...options.pipeline,
  });
  const server = new HttpServer(
    pipeline.handler({ internal: true, port: 80, ...options.handler }),
  );
  const listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
  server.serve(listener);
  return {
    pipeline,
    port: listener.port,
    records,
    async close() {
      await server.close(500);
      await pipeline.close();
    },
  };
}

/** Polls `check` every 20 ms until it returns true or `ms` pass; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts replies by the `x-upstream` header (or `status:<n>` when absent). */
export function tally(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.headers["x-upstream"] ?? `status:${r.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
