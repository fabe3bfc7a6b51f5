/**
 * Client side of the engine: send a request head and streamed body on a
 * pooled upstream connection and read the response head, with strict framing
 * and failure classification (UF, UC, UPE, UT).
 *
 * @module
 */

import { BodyReader, CHUNKED_END, encodeChunk, PrematureEndError } from "./body.ts";
import { writeAll } from "./conn.ts";
import { DownstreamError, ProtocolError, ResponseFlag, UpstreamError } from "./errors.ts";
import type { ConnectionPool, UpstreamConn } from "./pool.ts";
import { Framing } from "./request_parser.ts";
import type { ResponseHead } from "./response_parser.ts";

/** Options for {@link exchange}. */
export interface ExchangeOptions {
  /** The request body to stream after the head (use `EMPTY_BODY` for none). */
  body: BodyReader;
  /** Request method (a HEAD response has no body). */
  method: string;
  /** How the request body is sent: NONE, LENGTH (as read) or CHUNKED (re-encoded). */
  framing: number;
  /**
   * Time for the whole exchange, until {@link UpstreamResponse.release}; on
   * expiry the upstream connection is closed and the failure is UT. 0 = none.
   */
  timeoutMs?: number;
}

/**
 * Exchange deadlines. A per-request `setTimeout` costs ~3 µs in Deno 2.9, so
 * busy connections with a deadline sit in one set swept every 10 ms.
 */
class Deadlines {
  #busy = new Set<UpstreamConn>();
  #timer: ReturnType<typeof setInterval> | undefined;

  add(c: UpstreamConn, ms: number): void {
    c.deadline = Date.now() + ms;
    c.timedOut = false;
    this.#busy.add(c);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), 10);
      Deno.unrefTimer(this.#timer);
    }
  }

  remove(c: UpstreamConn): void {
    if (c.deadline === 0) return;
    c.deadline = 0;
    this.#busy.delete(c);
  }

  #sweep(): void {
    if (this.#busy.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const c of this.#busy) {
      if (c.deadline <= now) {
        this.#busy.delete(c);
        c.deadline = 0;
        c.timedOut = true;
        c.close();
      }
    }
  }
}

const deadlines = new Deadlines();

/** A response head from upstream, with its streaming body. */
export class UpstreamResponse {
  /** The response head (reused storage: valid until {@link release}/{@link abort}). */
  readonly head: ResponseHead;
  /**
   * The response body. Its errors are raw (ProtocolError with status 502,
   * PrematureEndError, I/O errors): classify them with {@link classifyUpstreamError}.
   */
  readonly body: BodyReader;
  /** The connection it came on. */
  readonly conn: UpstreamConn;
  #done = false;

  /** @internal */
  constructor(head: ResponseHead, conn: UpstreamConn) {
    this.head = head;
    this.conn = conn;
    this.body = new BodyReader(head.framing, conn.reader, head.contentLength);
    this.body.errorStatus = 502;
  }

  /** Whether the exchange timed out. */
  get timedOut(): boolean {
    return this.conn.timedOut;
  }

  /**
   * Ends the exchange: the connection returns to the pool when the response
   * was read completely and may be kept alive, else it is closed.
   */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    deadlines.remove(this.conn);
    const reusable = this.head.keepAlive && this.body.done && !this.conn.timedOut;
    this.conn.pool.release(this.conn, reusable);
  }

  /** Ends the exchange and closes the connection (e.g. the downstream went away). */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    deadlines.remove(this.conn);
    this.conn.pool.release(this.conn, false);
  }
}

/** Classifies a failure while reading an upstream response body (UT, UPE or UC). */
export function classifyUpstreamError(err: unknown, timedOut: boolean): UpstreamError {
  return classifyUpstream(err, timedOut, "reading the response body");
}

function classifyUpstream(err: unknown, timedOut: boolean, during: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (timedOut) return new UpstreamError(ResponseFlag.UT, "upstream request timeout");
  if (err instanceof ProtocolError) {
    return new UpstreamError(ResponseFlag.UPE, `upstream protocol error ${during}: ${err.message}`);
  }
  if (err instanceof PrematureEndError) {
    return new UpstreamError(ResponseFlag.UC, `upstream closed the connection ${during}`);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new UpstreamError(ResponseFlag.UC, `upstream connection failed ${during}: ${msg}`, {
    cause: err,
  });
}

const MAX_RESPONSE_HEAD_BUFFER = 64 * 1024 + 1024;

class EmptyBeforeResponse extends Error {}

async function readResponseHead(
  c: UpstreamConn,
  method: string,
  got: boolean,
): Promise<ResponseHead> {
  const r = c.reader;
  for (;;) {
    if (r.end > r.start) {
      got = true;
      const h = c.parser.parse(r, method, c.head);
      if (h !== null) {
        // interim responses (100, 103) are not relayed; 101 ends the exchange
        if (h.status < 200 && h.status !== 101) continue;
        return h;
      }
    }
    if (r.end === r.buf.length) {
      r.compact();
      if (r.end === r.buf.length && !r.grow(MAX_RESPONSE_HEAD_BUFFER)) {
        throw new ProtocolError(502, "response head too large");
      }
    }
    if (r.commit(await r.readRaw()) === 0) {
      if (!got) throw new EmptyBeforeResponse("upstream closed before sending a response");
      throw new PrematureEndError("upstream closed in the middle of the response head");
    }
  }
}

async function sendBody(c: UpstreamConn, body: BodyReader, framing: number): Promise<void> {
  const w = c.writer;
  const conn = c.conn;
  for (;;) {
    let v: Uint8Array | null | undefined;
    try {
      v = body.readBuffered();
      if (v === undefined) v = await body.read();
    } catch (err) {
      if (err instanceof ProtocolError) {
        throw new DownstreamError(ResponseFlag.DPE, err.message, 400);
      }
      throw new DownstreamError(ResponseFlag.DC, "downstream closed while sending its body", 0);
    }
    if (v === null) break;
    if (framing === Framing.CHUNKED) {
      encodeChunk(w, v);
      await w.flush(conn);
    } else if (w.len > 0 && v.length <= 16384) {
      w.bytes(v);
      await w.flush(conn);
    } else {
      await w.flush(conn);
      await writeAll(conn, v);
    }
  }
  if (framing === Framing.CHUNKED) w.bytes(CHUNKED_END);
  await w.flush(conn);
}

/** Writes the head (and the body, streamed) to `c`; the head goes out with the first body piece. */
function sendRequest(
  c: UpstreamConn,
  head: Uint8Array,
  body: BodyReader,
  framing: number,
): Promise<void> {
  const w = c.writer;
  w.reset();
  w.bytes(head);
  if (framing === Framing.NONE || body.done) {
    if (framing === Framing.CHUNKED) w.bytes(CHUNKED_END);
    return w.flush(c.conn);
  }
  return sendBody(c, body, framing);
}

/**
 * Sends `head` (a serialized request head) and `body` on a connection from
 * `pool` and waits for the response head.
 *
 * When a reused keep-alive connection turns out closed by the peer before any
 * response byte arrived and nothing of the body was consumed, the request is
 * sent once more on a fresh connection (the peer may close an idle connection
 * at any moment; RFC 9112 §9.3.1 allows retrying such requests).
 *
 * Throws {@link UpstreamError} (UF, UO, UC, UPE, UT) or {@link DownstreamError}.
 */
export async function exchange(
  pool: ConnectionPool,
  head: Uint8Array,
  options: ExchangeOptions,
): Promise<UpstreamResponse> {
  const body = options.body;
  let c = pool.takeIdle() ?? await pool.acquire();
  const ms = options.timeoutMs ?? 0;
  const started = ms > 0 ? Date.now() : 0;
  for (let attempt = 0;; attempt++) {
    if (ms > 0) {
      const left = ms - (Date.now() - started);
      if (left <= 0) {
        pool.release(c, true);
        throw new UpstreamError(ResponseFlag.UT, "upstream request timeout");
      }
      deadlines.add(c, left);
    } else {
      c.timedOut = false;
    }
    const mayRetry = c.reused && attempt === 0;
    try {
      if (options.framing === Framing.NONE) {
        // no body: the head goes out as is, awaited here rather than through helpers
        const n = await c.conn.write(head);
        if (n < head.length) await writeAll(c.conn, head.subarray(n));
      } else {
        await sendRequest(c, head, body, options.framing);
      }
    } catch (err) {
      if (err instanceof DownstreamError) {
        deadlines.remove(c);
        pool.release(c, false);
        throw err;
      }
      // the response may still be readable (upstream answered early and closed)
      if (!(c.reader.end > c.reader.start)) {
        deadlines.remove(c);
        pool.release(c, false);
        if (mayRetry && body.bytes === 0 && !c.timedOut) {
          c = await pool.acquire(true);
          continue;
        }
        throw classifyUpstream(err, c.timedOut, "sending the request");
      }
    }
    try {
      // fast path: one read brings the whole head (the usual case), no extra async frame
      const r = c.reader;
      let rh: ResponseHead | null = null;
      let got = false;
      if (r.end === r.start && r.end < r.buf.length && r.commit(await r.readRaw()) > 0) {
        got = true;
        rh = c.parser.parse(r, options.method, c.head);
        if (rh !== null && rh.status < 200 && rh.status !== 101) rh = null;
      }
      return new UpstreamResponse(rh ?? await readResponseHead(c, options.method, got), c);
    } catch (err) {
      deadlines.remove(c);
      pool.release(c, false);
      if (c.timedOut) throw new UpstreamError(ResponseFlag.UT, "upstream request timeout");
      if (err instanceof EmptyBeforeResponse || isReset(err)) {
        if (mayRetry && body.bytes === 0 && options.framing === Framing.NONE) {
          c = await pool.acquire(true);
          continue;
        }
        throw new UpstreamError(
          ResponseFlag.UC,
          "upstream closed the connection before sending a response",
          { retriable: options.framing === Framing.NONE, cause: err },
        );
      }
      throw classifyUpstream(err, false, "reading the response head");
    }
  }
}

function isReset(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted;
}
