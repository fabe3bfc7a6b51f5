/**
 * Benchmark upstream: answers every request with `200` and a fixed body of `--size` bytes, keeping
 * connections alive. Two implementations: `raw` (a `Deno.listen` loop that finds the end of each
 * request and writes a prebuilt response; the default because it measured faster, see
 * tests/bench/README.md) and `serve` (`Deno.serve`), selectable with `--impl`.
 *
 * Usage: `deno run -A tests/bench/upstream.ts --port 0 --size 1024 [--impl raw|serve]`;
 * prints `listening on 127.0.0.1:<port>` once it accepts connections.
 *
 * @module
 */

const CRLFCRLF = [13, 10, 13, 10];

/** Options of {@linkcode startUpstream}. */
export interface UpstreamOptions {
  /** Port on 127.0.0.1; 0 lets the OS choose. */
  port: number;
  /** Response body size in bytes. */
  size: number;
  /** `raw` (default) or `serve`. */
  impl?: "raw" | "serve";
}

/** A running upstream server. */
export interface Upstream {
  /** The bound port. */
  port: number;
  /** Stops accepting and closes the listener. */
  close(): Promise<void>;
}

/** Builds the complete HTTP/1.1 response sent for every request. */
export function buildResponse(size: number): Uint8Array {
  const head = `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n` +
    `content-length: ${size}\r\n\r\n`;
  const headBytes = new TextEncoder().encode(head);
  const out = new Uint8Array(headBytes.length + size);
  out.set(headBytes, 0);
  out.fill(120, headBytes.length); // 'x'
  return out;
}

/**
 * Scans `buf[from, end)` for complete requests; returns how many ended and where the first
 * incomplete one starts. Bodies are honoured only through `content-length` (no chunked uploads:
 * the benchmark sends GETs).
 */
export function scanRequests(
  buf: Uint8Array,
  range: { from: number; end: number },
): { count: number; next: number } {
  let pos = range.from;
  let count = 0;
  for (;;) {
    const headEnd = indexOfCrlfCrlf(buf, pos, range.end);
    if (headEnd < 0) break;
    const bodyLen = contentLength(buf, pos, headEnd);
    const reqEnd = headEnd + 4 + bodyLen;
    if (reqEnd > range.end) break;
    count++;
    pos = reqEnd;
  }
  return { count, next: pos };
}

function indexOfCrlfCrlf(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (
      buf[i] === CRLFCRLF[0] && buf[i + 1] === CRLFCRLF[1] && buf[i + 2] === CRLFCRLF[2] &&
      buf[i + 3] === CRLFCRLF[3]
    ) return i;
  }
  return -1;
}

const CL = "content-length:";

function contentLength(buf: Uint8Array, from: number, end: number): number {
  // Looks for "\ncontent-length:" case-insensitively; requests without it have no body.
  for (let i = from; i + CL.length < end; i++) {
    if (buf[i] !== 10) continue;
    let j = 0;
    while (j < CL.length && (buf[i + 1 + j] | 0x20) === CL.charCodeAt(j)) j++;
    if (j < CL.length) continue;
    let k = i + 1 + CL.length;
    let n = 0;
    while (k < end && buf[k] === 32) k++;
    while (k < end && buf[k] >= 48 && buf[k] <= 57) n = n * 10 + buf[k++] - 48;
    return n;
  }
  return 0;
}

async function serveRawConn(conn: Deno.TcpConn, response: Uint8Array): Promise<void> {
  let buf = new Uint8Array(16 * 1024);
  let end = 0;
  try {
    conn.setNoDelay(true);
    for (;;) {
      if (end === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) return;
      end += n;
      const { count, next } = scanRequests(buf, { from: 0, end });
      if (count === 0) continue;
      if (next < end) buf.copyWithin(0, next, end);
      end -= next;
      for (let i = 0; i < count; i++) await writeAll(conn, response);
    }
  } catch {
    // The client went away; nothing to report in a benchmark upstream.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Starts an upstream on 127.0.0.1 and resolves once it accepts connections. */
export function startUpstream(options: UpstreamOptions): Upstream {
  if ((options.impl ?? "raw") === "serve") {
    const bytes = new Uint8Array(options.size).fill(120);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
      () =>
        new Response(bytes, {
          headers: { "content-type": "application/octet-stream" },
        }),
    );
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  const response = buildResponse(options.size);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port });
  const conns = new Set<Deno.TcpConn>();
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        serveRawConn(conn, response).finally(() => conns.delete(conn));
      }
    } catch { /* listener closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
    },
  };
}

function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const port = Number(flagValue(Deno.args, "--port") ?? "0");
  const size = Number(flagValue(Deno.args, "--size") ?? "16");
  const impl = (flagValue(Deno.args, "--impl") ?? "raw") as "raw" | "serve";
  if (!Number.isInteger(port) || !Number.isInteger(size) || size < 0) {
    console.error("upstream.ts: --port and --size take non-negative integers");
    Deno.exit(1);
  }
  if (impl !== "raw" && impl !== "serve") {
    console.error(`upstream.ts: --impl must be raw or serve, got ${impl}`);
    Deno.exit(1);
  }
  const up = startUpstream({ port, size, impl });
  console.log(`listening on 127.0.0.1:${up.port}`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
