/**
 * HTTP/1.1 server over {@link ByteConn}s: accept loop, keep-alive,
 * pipelining, head limits, header-read (slowloris) and idle timeouts, and a
 * handler call per request.
 *
 * One connection is served by one async loop that owns a reused read buffer,
 * parser, output buffer and response sink; requests on it are handled one at
 * a time, which is what makes pipelined responses come out in order.
 *
 * @module
 */

import { BodyReader, CHUNKED_END, EMPTY_BODY, encodeChunk } from "./body.ts";
import { ByteWriter } from "./buffer.ts";
import { type ByteConn, type ByteListener, writeAll } from "./conn.ts";
import { ProtocolError } from "./errors.ts";
import type { HeadLimits } from "./fields.ts";
import { writeResponseHead } from "./headers.ts";
import { BufferedReader } from "./reader.ts";
import { Framing, RequestHead, RequestParser } from "./request_parser.ts";

/** Handles one request; must finish the response (or take the connection over). */
export type Handler = (req: IncomingRequest, res: ResponseSink) => Promise<unknown>;

/** Server options. */
export interface ServerOptions {
  /** Head limits (431/414). */
  limits?: Partial<HeadLimits>;
  /** Time allowed from the first byte of a head to its end; default 10 s (0 = none). */
  headerTimeoutMs?: number;
  /** Time an idle keep-alive connection is kept; default 1 h, as Envoy (0 = none). */
  idleTimeoutMs?: number;
  /** Read buffer size per connection; default 16 KiB. */
  readBufferSize?: number;
  /** Unread request body discarded to keep a connection after an early response; default 64 KiB. */
  drainLimit?: number;
  /** Called with errors thrown by the handler (after the client got its 500). */
  onError?: (err: unknown) => void;
}

/** A request being served. */
export class IncomingRequest {
  /**
   * The parsed head. Its storage is reused for the connection's next request:
   * it is valid until the handler's promise settles (`head.clone()` keeps one).
   */
  readonly head: RequestHead;
  /** The body, streamed (sends `100 Continue` on first read when the client expects it). */
  readonly body: BodyReader;
  /** The downstream connection. */
  readonly conn: ByteConn;
  /** `Date.now()` when the head was parsed. */
  readonly startTime: number;
  /** A per-connection scratch buffer (e.g. for the upstream request head); reset before use. */
  readonly scratch: ByteWriter;

  /** Wraps a parsed request. */
  constructor(
    head: RequestHead,
    body: BodyReader,
    conn: ByteConn,
    options: { startTime: number; scratch: ByteWriter },
  ) {
    this.head = head;
    this.body = body;
    this.conn = conn;
    this.startTime = options.startTime;
    this.scratch = options.scratch;
  }

  /** The downstream peer's IP address. */
  get remoteHost(): string {
    return this.conn.remoteHost;
  }

  /** Whether the downstream connection is TLS. */
  get secure(): boolean {
    return this.conn.secure;
  }
}

/** A connection handed over after a `101 Switching Protocols`. */
export interface TakenConnection {
  /** The raw connection. */
  conn: ByteConn;
  /** Bytes the client already sent after the request head. */
  buffered: Uint8Array;
}

/**
 * Writes one response. A head is gathered in `writer` and goes out with the
 * first body piece (or alone at `end`) in one write.
 */
export class ResponseSink {
  /** Output buffer; a proxy may build a head in it directly and call {@link commitHead}. */
  readonly writer: ByteWriter = new ByteWriter(4096);
  /** Whether the connection stays open after this response; a handler may clear it. */
  keepAlive = true;
  /** Status sent (0 until a head is committed). */
  status = 0;
  /** Body bytes written. */
  bodyBytes = 0;
  /** Whether the head has been committed. */
  started = false;
  /** Whether the response is complete. */
  finished = false;
  /** Whether the connection was taken over (upgrade) or aborted. */
  detached = false;
  /** Whether the request was HEAD (body writes are dropped). */
  headOnly = false;
  #conn: ByteConn;
  #reader: BufferedReader;
  #framing = 0;
  #remaining = 0;

  /** A sink writing to `conn`; `reader` is handed over on upgrade. */
  constructor(conn: ByteConn, reader: BufferedReader) {
    this.#conn = conn;
    this.#reader = reader;
  }

  /** Prepares for the next request on the connection. */
  reset(keepAlive: boolean, headOnly: boolean): void {
    this.keepAlive = keepAlive;
    this.headOnly = headOnly;
    this.status = 0;
    this.bodyBytes = 0;
    this.started = false;
    this.finished = false;
    this.#framing = 0;
    this.writer.reset();
  }

  /**
   * Marks a head the caller appended to {@link writer} as the response head.
   * `framing` says how the body follows; LENGTH needs `contentLength`.
   */
  commitHead(status: number, framing: number, contentLength = 0): void {
    if (this.started) throw new Error("response head already sent");
    this.started = true;
    this.status = status;
    this.#framing = this.headOnly ? Framing.NONE : framing;
    this.#remaining = contentLength;
    if (framing === Framing.CLOSE) this.keepAlive = false;
  }

  /**
   * Starts a response. `contentLength` ≥ 0 sends that length, -1 sends chunked,
   * -2 sends a body delimited by closing the connection.
   */
  writeHead(status: number, headers: readonly string[], contentLength: number): void {
    const framing = contentLength >= 0
      ? (contentLength === 0 ? Framing.NONE : Framing.LENGTH)
      : contentLength === -1
      ? Framing.CHUNKED
      : Framing.CLOSE;
    const close = !this.keepAlive || framing === Framing.CLOSE;
    writeResponseHead(this.writer, status, {
      headers,
      contentLength: framing === Framing.CLOSE ? -2 : contentLength,
      close,
    });
    this.commitHead(status, framing, contentLength);
  }

  /** Writes a body piece (copied into the pending write when small). */
  async write(chunk: Uint8Array): Promise<void> {
    if (!this.started) throw new Error("write before writeHead");
    const w = this.writer;
    const n = chunk.length;
    switch (this.#framing) {
      case Framing.NONE:
        return;
      case Framing.CHUNKED:
        encodeChunk(w, chunk);
        this.bodyBytes += n;
        await w.flush(this.#conn);
        return;
      case Framing.LENGTH:
        if (n > this.#remaining) throw new RangeError("body longer than its content-length");
        this.#remaining -= n;
        break;
    }
    this.bodyBytes += n;
    if (w.len > 0 && n <= 16384) {
      w.bytes(chunk);
      await w.flush(this.#conn);
    } else {
      await w.flush(this.#conn);
      await writeAll(this.#conn, chunk);
    }
  }

  /** Finishes the response (writing `chunk` first when given). */
  end(chunk?: Uint8Array): Promise<void> {
    if (chunk !== undefined && chunk.length > 0) {
      const w = this.writer;
      if (this.#framing === Framing.CHUNKED) {
        encodeChunk(w, chunk);
        this.bodyBytes += chunk.length;
      } else if (this.#framing !== Framing.NONE) {
        if (this.#framing === Framing.LENGTH) {
          if (chunk.length > this.#remaining) {
            return Promise.reject(new RangeError("body longer than its length"));
          }
          this.#remaining -= chunk.length;
        }
        w.bytes(chunk);
        this.bodyBytes += chunk.length;
      }
    }
    if (this.#framing === Framing.CHUNKED) this.writer.bytes(CHUNKED_END);
    if (this.#framing === Framing.LENGTH && this.#remaining > 0) {
      // the promised length was not delivered: the client can only notice if we close
      this.keepAlive = false;
    }
    this.finished = true;
    return this.writer.flush(this.#conn);
  }

  /** Sends a complete response in one write. */
  async respond(
    status: number,
    headers: readonly string[],
    body?: Uint8Array | string,
  ): Promise<void> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const len = bytes === undefined ? 0 : bytes.length;
    writeResponseHead(this.writer, status, {
      headers,
      contentLength: status === 204 || status === 304 || status < 200 ? -2 : len,
      close: !this.keepAlive,
    });
    this.commitHead(status, len > 0 ? Framing.LENGTH : Framing.NONE, len);
    await this.end(bytes);
  }

  /**
   * Flushes a committed `101` head and hands the raw connection to the caller;
   * the server stops serving it.
   */
  async takeOver(): Promise<TakenConnection> {
    await this.writer.flush(this.#conn);
    this.detached = true;
    this.finished = true;
    return { conn: this.#conn, buffered: this.#reader.drain() };
  }

  /** Closes the connection without completing the response (e.g. upstream reset mid-body). */
  abort(): void {
    this.detached = true;
    this.keepAlive = false;
    this.#conn.close();
  }
}

const WAIT_NONE = 0;
const WAIT_IDLE = 1;
const WAIT_HEAD = 2;

class ServerConnection {
  readonly conn: ByteConn;
  readonly reader: BufferedReader;
  readonly parser: RequestParser;
  readonly sink: ResponseSink;
  readonly server: HttpServer;
  readonly scratch: ByteWriter = new ByteWriter(2048);
  readonly head: RequestHead = RequestHead.empty();
  deadline = 0;
  waiting = WAIT_NONE;
  busy = false;
  closed = false;

  constructor(server: HttpServer, conn: ByteConn) {
    this.server = server;
    this.conn = conn;
    this.reader = new BufferedReader(conn, server.readBufferSize);
    this.parser = new RequestParser(server.limits);
    this.sink = new ResponseSink(conn, this.reader);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
  }

  /** Parses a head from what is buffered, without I/O; null when more bytes are needed. */
  tryHead(): RequestHead | null {
    const reader = this.reader;
    if (reader.end === reader.start) {
      if (this.waiting !== WAIT_IDLE) this.#markWaiting();
      return null;
    }
    const head = this.parser.parse(reader, this.head);
    if (head === null) this.#markWaiting();
    return head;
  }

  /** Starts the idle or header timeout clock for the state the parser is in. */
  #markWaiting(): void {
    const server = this.server;
    if (this.parser.started) {
      if (this.waiting !== WAIT_HEAD) {
        this.waiting = WAIT_HEAD;
        this.deadline = server.headerTimeoutMs > 0 ? Date.now() + server.headerTimeoutMs : 0;
      }
    } else if (this.waiting !== WAIT_IDLE) {
      this.waiting = WAIT_IDLE;
      this.deadline = server.idleTimeoutMs > 0 ? Date.now() + server.idleTimeoutMs : 0;
    }
  }

  async readHead(): Promise<RequestHead | null> {
    const reader = this.reader;
    const parser = this.parser;
    const server = this.server;
    for (;;) {
      if (reader.end > reader.start) {
        const head = parser.parse(reader, this.head);
        if (head !== null) {
          this.waiting = WAIT_NONE;
          return head;
        }
      }
      if (reader.end === reader.buf.length) {
        reader.compact();
        if (reader.end === reader.buf.length) {
          reader.grow(server.limits.maxHeadBytes + 1024);
        }
      }
      if (parser.started) {
        if (this.waiting !== WAIT_HEAD) {
          this.waiting = WAIT_HEAD;
          this.deadline = server.headerTimeoutMs > 0 ? Date.now() + server.headerTimeoutMs : 0;
        }
      } else if (this.waiting !== WAIT_IDLE) {
        this.waiting = WAIT_IDLE;
        this.deadline = server.idleTimeoutMs > 0 ? Date.now() + server.idleTimeoutMs : 0;
      }
      if (reader.commit(await reader.readRaw()) === 0) return null;
    }
  }

  async run(): Promise<void> {
    const server = this.server;
    const sink = this.sink;
    try {
      for (;;) {
        if (server.draining && !this.busy && this.reader.end === this.reader.start) break;
        let head: RequestHead | null;
        try {
          // fast path: a pipelined head already buffered, or one read brings a whole head
          head = this.tryHead();
          if (head === null) {
            const r = this.reader;
            if (r.end === r.buf.length) head = await this.readHead();
            else if (r.commit(await r.readRaw()) === 0) head = null;
            else head = this.tryHead() ?? await this.readHead();
            if (head === null) break;
          }
          this.waiting = WAIT_NONE;
        } catch (err) {
          if (err instanceof ProtocolError && !this.closed) await this.reject(err);
          break;
        }
        if (head === null) break;
        this.busy = true;
        const body = head.framing === Framing.NONE
          ? EMPTY_BODY
          : new BodyReader(head.framing, this.reader, head.contentLength);
        if (head.expectContinue && body !== EMPTY_BODY) body.continueTo = this.conn;
        sink.reset(head.keepAlive && !server.draining, head.method === "HEAD");
        const req = new IncomingRequest(head, body, this.conn, {
          startTime: Date.now(),
          scratch: this.scratch,
        });
        try {
          await server.handler(req, sink);
        } catch (err) {
          if (sink.detached) return;
          if (!sink.started && !this.closed) {
            const status = err instanceof ProtocolError ? err.status : 500;
            if (!(err instanceof ProtocolError)) server.onError?.(err);
            sink.keepAlive = false;
            await sink.respond(status, ["content-type", "text/plain"], statusText(status, err))
              .catch(() => {});
          } else {
            server.onError?.(err);
          }
          break;
        }
        if (sink.detached) return;
        if (!sink.finished) {
          if (!sink.started) {
            sink.keepAlive = false;
            await sink.respond(500, [], "handler did not respond");
          }
          break;
        }
        this.busy = false;
        if (!sink.keepAlive) break;
        if (!body.done) {
          let ok = false;
          try {
            ok = await body.discard(server.drainLimit);
          } catch {
            ok = false;
          }
          if (!ok) break;
        }
      }
    } catch {
      // connection-level I/O failure: nothing more to say to this peer
    } finally {
      if (!sink.detached) this.close();
      server.forget(this);
    }
  }

  async reject(err: ProtocolError): Promise<void> {
    this.sink.reset(false, false);
    try {
      await this.sink.respond(err.status, ["content-type", "text/plain"], statusText(err.status));
    } catch {
      // peer gone
    }
  }

  /** Called by the sweeper. */
  expire(now: number): void {
    if (this.deadline === 0 || now < this.deadline || this.waiting === WAIT_NONE) return;
    this.deadline = 0;
    if (this.waiting === WAIT_HEAD) {
      // a slow head: answer 408 (best effort) and close
      const bytes = new TextEncoder().encode(
        "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
      );
      this.conn.write(bytes).catch(() => {}).finally(() => this.close());
    } else {
      this.close();
    }
  }
}

function statusText(status: number, err?: unknown): string {
  if (err instanceof ProtocolError) return err.message;
  switch (status) {
    case 400:
      return "Bad Request";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

/** An HTTP/1.1 server running `handler` for every request. */
export class HttpServer {
  /** The request handler. */
  readonly handler: Handler;
  /** Head limits. */
  readonly limits: HeadLimits;
  /** Header-read timeout (ms, 0 = none). */
  readonly headerTimeoutMs: number;
  /** Idle connection timeout (ms, 0 = none). */
  readonly idleTimeoutMs: number;
  /** Read buffer size per connection. */
  readonly readBufferSize: number;
  /** Unread request-body bytes discarded to keep a connection. */
  readonly drainLimit: number;
  /** Error callback for handler failures. */
  readonly onError: ((err: unknown) => void) | undefined;
  /** Set by {@link close}: finish current requests, then close. */
  draining = false;
  #conns = new Set<ServerConnection>();
  #listeners = new Set<ByteListener>();
  #accepting = new Set<Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates a server; call {@link serve} with listeners. */
  constructor(handler: Handler, options: ServerOptions = {}) {
    this.handler = handler;
    this.limits = {
      maxHeadBytes: options.limits?.maxHeadBytes ?? 60 * 1024,
      maxHeaders: options.limits?.maxHeaders ?? 100,
      maxStartLine: options.limits?.maxStartLine ?? 16 * 1024,
    };
    this.headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 3_600_000;
    this.readBufferSize = options.readBufferSize ?? 16384;
    this.drainLimit = options.drainLimit ?? 64 * 1024;
    this.onError = options.onError;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Accepts connections from `listener` until it (or the server) is closed. */
  serve(listener: ByteListener): Promise<void> {
    this.#listeners.add(listener);
    this.#startTimer();
    const p = this.#acceptLoop(listener);
    this.#accepting.add(p);
    return p;
  }

  async #acceptLoop(listener: ByteListener): Promise<void> {
    for (;;) {
      let conn: ByteConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.draining || !this.#listeners.has(listener)) return;
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return;
        }
        // transient accept failure (EMFILE, handshake error): keep accepting
        continue;
      }
      this.handle(conn);
    }
  }

  /** Serves one already-accepted connection. */
  handle(conn: ByteConn): void {
    const sc = new ServerConnection(this, conn);
    this.#conns.add(sc);
    sc.run();
  }

  /** @internal */
  forget(sc: ServerConnection): void {
    this.#conns.delete(sc);
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    const shortest = Math.min(
      this.headerTimeoutMs > 0 ? this.headerTimeoutMs : Infinity,
      this.idleTimeoutMs > 0 ? this.idleTimeoutMs : Infinity,
    );
    if (shortest === Infinity) return;
    const period = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#conns) c.expire(now);
    }, period);
    Deno.unrefTimer(this.#timer);
  }

  /**
   * Stops accepting, closes idle connections and lets busy ones finish their
   * current exchange (answered with `connection: close`). Resolves when all
   * connections are gone or `graceMs` passed (then the rest are closed).
   */
  async close(graceMs = 5000): Promise<void> {
    this.draining = true;
    for (const l of this.#listeners) l.close();
    this.#listeners.clear();
    await Promise.allSettled([...this.#accepting]);
    for (const c of this.#conns) if (!c.busy) c.close();
    const until = Date.now() + graceMs;
    while (this.#conns.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of this.#conns) c.close();
    this.#conns.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Starts an {@link HttpServer} for `handler` on `listener`. */
export function serve(listener: ByteListener, handler: Handler, options: ServerOptions = {}) {
  const server = new HttpServer(handler, options);
  server.serve(listener);
  return server;
}
