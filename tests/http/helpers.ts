/**
 * Test helpers: raw-socket clients, recording upstreams and an in-process
 * pass-through proxy, all on 127.0.0.1 with OS-assigned ports.
 *
 * @module
 */

import {
  listenTcp,
  type Passthrough,
  type PassthroughOptions,
  runPassthroughLoop,
} from "../../mesh/http/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes a string as bytes (Latin-1 safe for ASCII test data). */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** Decodes bytes as UTF-8 text. */
export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Reads from `conn` until EOF or `ms` of silence; returns all bytes. */
export async function readAll(conn: Deno.Conn, ms = 3000): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
    let n: number | null | "timeout";
    try {
      n = await Promise.race([conn.read(buf), t]);
    } catch {
      n = null;
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout" || n === null) break;
    parts.push(buf.slice(0, n));
  }
  return concat(parts);
}

/** Reads until `pred(text so far)` holds, EOF, or `ms` pass. */
export async function readUntil(
  conn: Deno.Conn,
  pred: (s: string) => boolean,
  ms = 5000,
): Promise<string> {
  let acc = "";
  const buf = new Uint8Array(65536);
  const until = Date.now() + ms;
  while (!pred(acc)) {
    const left = until - Date.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left));
    let n: number | null | "timeout";
    try {
      n = await Promise.race([conn.read(buf), t]);
    } catch {
      n = null;
    } finally {
      clearTimeout(timer);
    }
    if (n === "timeout" || n === null) break;
    acc += dec.decode(buf.subarray(0, n));
  }
  return acc;
}

/** Opens a TCP connection to 127.0.0.1:`port`. */
export function dial(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Sends `request` on a new connection and returns everything read until close/silence. */
export async function rawExchange(port: number, request: string | Uint8Array, ms = 3000) {
  const c = await dial(port);
  try {
    await writeFully(c, typeof request === "string" ? bytes(request) : request);
    return text(await readAll(c, ms));
  } finally {
    try {
      c.close();
    } catch {
      // closed by the peer
    }
  }
}

/** Writes all bytes. */
export async function writeFully(c: Deno.Conn, b: Uint8Array): Promise<void> {
  let n = 0;
  while (n < b.length) n += await c.write(b.subarray(n));
}

/** Status codes of all responses in `s`, in order. */
export function statuses(s: string): number[] {
  return [...s.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/** A raw upstream that records every byte it receives and answers via `respond`. */
export interface RecordingUpstream {
  /** Port it listens on. */
  port: number;
  /** All bytes received, per connection, as text. */
  received: string[];
  /** Connections accepted. */
  connections: number;
  /** Stops it. */
  close(): void;
}

/**
 * Starts a raw upstream: for each complete request head (no body support
 * beyond Content-Length), `respond(headText, body)` gives the raw response
 * bytes, or null to close the connection without answering.
 */
export function recordingUpstream(
  respond: (head: string, body: string) => string | Uint8Array | null = () =>
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
): RecordingUpstream {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const rec: RecordingUpstream = {
    port: (l.addr as Deno.NetAddr).port,
    received: [],
    connections: 0,
    close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // gone
        }
      }
    },
  };
  (async () => {
    for await (const c of l) {
      conns.add(c);
      const idx = rec.received.length;
      rec.received.push("");
      rec.connections++;
      (async () => {
        const buf = new Uint8Array(65536);
        let pending = "";
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            const s = new TextDecoder("latin1").decode(buf.subarray(0, n));
            rec.received[idx] += s;
            pending += s;
            for (;;) {
              const end = pending.indexOf("\r\n\r\n");
              if (end < 0) break;
              const head = pending.slice(0, end + 4);
              const m = /\r\ncontent-length: *(\d+)/i.exec(head);
              const len = m ? Number(m[1]) : 0;
              if (pending.length < end + 4 + len) break;
              const body = pending.slice(end + 4, end + 4 + len);
              pending = pending.slice(end + 4 + len);
              const r = respond(head, body);
              if (r === null) {
                c.close();
                return;
              }
              await writeFully(c, typeof r === "string" ? bytes(r) : r);
            }
          }
        } catch {
          // reset
        }
        conns.delete(c);
        try {
          c.close();
        } catch {
          // closed
        }
      })();
    }
  })().catch(() => {});
  return rec;
}

/** Starts an in-process pass-through proxy to `upstreamPort` on an OS-assigned port. */
export function startProxy(
  upstreamPort: number,
  options: Partial<PassthroughOptions> = {},
): Passthrough {
  const listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
  return runPassthroughLoop(listener, {
    port: 0,
    upstreamHost: "127.0.0.1",
    upstreamPort,
    ...options,
  });
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Integration tests leave pooled reads and sockets settling after close. */
export const IO = { sanitizeOps: false, sanitizeResources: false } as const;
