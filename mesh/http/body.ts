/**
 * Body framing: fixed-length, chunked (strict decoder and encoder) and
 * read-until-close bodies, streamed from a {@link BufferedReader}.
 *
 * `read()` returns views into the reader's buffer, valid until the next
 * `read()`: the caller writes each piece on before asking for the next, which
 * is also what gives backpressure (nothing is read ahead of the writer).
 *
 * @module
 */

import type { ByteWriter } from "./buffer.ts";
import { type ByteConn, writeAll } from "./conn.ts";
import { ProtocolError } from "./errors.ts";
import type { BufferedReader } from "./reader.ts";
import { Framing } from "./request_parser.ts";

/** The peer closed the connection before the body was complete. */
export class PrematureEndError extends Error {
  /** Builds the error. */
  constructor(message = "connection closed before the message body was complete") {
    super(message);
    this.name = "PrematureEndError";
  }
}

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const CONTINUE_100 = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

const S_SIZE = 0;
const S_DATA = 1;
const S_DATA_END = 2;
const S_TRAILER = 3;
const S_DONE = 4;

/** Hex digit values, -1 for non-hex bytes. */
const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/** A streaming message body. */
export class BodyReader {
  /** One of {@link Framing}. */
  readonly framing: number;
  /** Whether the whole body has been read. */
  done: boolean;
  /** Body bytes delivered so far (decoded). */
  bytes = 0;
  /** HTTP status used for framing errors (400 downstream, 502 upstream). */
  errorStatus = 400;
  /** When set, `HTTP/1.1 100 Continue` is written here before the first read. */
  continueTo: ByteConn | null = null;
  #reader: BufferedReader | null;
  #remaining: number;
  #state = S_SIZE;
  #trailerBytes = 0;

  /** A body of the given framing read from `reader` (`length` for LENGTH). */
  constructor(framing: number, reader: BufferedReader | null, length = 0) {
    this.framing = framing;
    this.#reader = reader;
    this.#remaining = length;
    this.done = framing === Framing.NONE || (framing === Framing.LENGTH && length === 0);
  }

  /**
   * The next piece if it can be had without I/O: a view, null at the end of
   * the body, or undefined when {@link read} must wait for bytes. Saves a
   * promise per piece on the hot path (small fixed-length bodies).
   */
  readBuffered(): Uint8Array | null | undefined {
    if (this.done) return null;
    if (this.framing !== Framing.LENGTH || this.continueTo !== null) return undefined;
    const r = this.#reader!;
    const avail = r.end - r.start;
    if (avail === 0) return undefined;
    const n = avail < this.#remaining ? avail : this.#remaining;
    const v = r.buf.subarray(r.start, r.start + n);
    r.consume(n);
    this.#remaining -= n;
    this.bytes += n;
    if (this.#remaining === 0) this.done = true;
    return v;
  }

  /** Reads the next piece of the body; null once the body is complete. */
  async read(): Promise<Uint8Array | null> {
    if (this.done) return null;
    if (this.continueTo !== null) {
      const c = this.continueTo;
      this.continueTo = null;
      await writeAll(c, CONTINUE_100);
    }
    const r = this.#reader!;
    switch (this.framing) {
      case Framing.LENGTH: {
        if (r.end === r.start && (await r.fill()) === 0) throw new PrematureEndError();
        const n = Math.min(r.end - r.start, this.#remaining);
        const v = r.buf.subarray(r.start, r.start + n);
        r.consume(n);
        this.#remaining -= n;
        this.bytes += n;
        if (this.#remaining === 0) this.done = true;
        return v;
      }
      case Framing.CLOSE: {
        if (r.end === r.start && (await r.fill()) === 0) {
          this.done = true;
          return null;
        }
        const v = r.buf.subarray(r.start, r.end);
        this.bytes += v.length;
        r.consume(v.length);
        return v;
      }
      default:
        return await this.#readChunked(r);
    }
  }

  async #readChunked(r: BufferedReader): Promise<Uint8Array | null> {
    for (;;) {
      switch (this.#state) {
        case S_SIZE: {
          const lf = await this.#line(r);
          this.#chunkSize(r.buf, r.start, lf);
          r.consume(lf + 1 - r.start);
          break;
        }
        case S_DATA: {
          if (r.end === r.start && (await r.fill()) === 0) throw new PrematureEndError();
          const n = Math.min(r.end - r.start, this.#remaining);
          const v = r.buf.subarray(r.start, r.start + n);
          r.consume(n);
          this.#remaining -= n;
          this.bytes += n;
          if (this.#remaining === 0) this.#state = S_DATA_END;
          return v;
        }
        case S_DATA_END: {
          while (r.end - r.start < 2) {
            if ((await r.fill()) === 0) throw new PrematureEndError();
          }
          if (r.buf[r.start] !== 13 || r.buf[r.start + 1] !== 10) {
            throw new ProtocolError(this.errorStatus, "chunk data not followed by CRLF");
          }
          r.consume(2);
          this.#state = S_SIZE;
          break;
        }
        case S_TRAILER: {
          const lf = await this.#line(r);
          const len = lf + 1 - r.start;
          this.#trailerBytes += len;
          if (this.#trailerBytes > MAX_TRAILER_BYTES) {
            throw new ProtocolError(this.errorStatus, "chunked trailer section too large");
          }
          this.#trailerLine(r.buf, r.start, lf);
          r.consume(len);
          if (len === 2) {
            this.#state = S_DONE;
            this.done = true;
            return null;
          }
          break;
        }
        default:
          return null;
      }
    }
  }

  /** Waits for a full line; returns the absolute index of its LF (checked: CR before it). */
  async #line(r: BufferedReader): Promise<number> {
    let from = r.start;
    for (;;) {
      const buf = r.buf;
      for (let i = from; i < r.end; i++) {
        if (buf[i] === 10) {
          if (i === r.start || buf[i - 1] !== 13) {
            throw new ProtocolError(this.errorStatus, "bare LF in chunked framing");
          }
          if (i - r.start > MAX_CHUNK_LINE) {
            throw new ProtocolError(this.errorStatus, "chunk size line too long");
          }
          return i;
        }
      }
      if (r.end - r.start > MAX_CHUNK_LINE) {
        throw new ProtocolError(this.errorStatus, "chunk size line too long");
      }
      const off = r.end - r.start;
      if (r.end === r.buf.length) {
        r.compact();
        if (r.end === r.buf.length) r.grow(MAX_CHUNK_LINE * 2);
      }
      if ((await r.fill()) === 0) throw new PrematureEndError();
      from = r.start + off;
    }
  }

  #chunkSize(buf: Uint8Array, s: number, lf: number): void {
    const end = lf - 1; // the CR
    let size = 0;
    let i = s;
    for (; i < end; i++) {
      const d = HEX[buf[i]];
      if (d < 0) break;
      size = size * 16 + d;
    }
    const digits = i - s;
    if (digits === 0 || digits > 13) {
      throw new ProtocolError(this.errorStatus, "invalid chunk size");
    }
    if (i < end) {
      // only chunk extensions may follow: ";" name ["=" value], no CTLs, no bare CR
      if (buf[i] !== 59) throw new ProtocolError(this.errorStatus, "invalid chunk size");
      for (; i < end; i++) {
        const c = buf[i];
        if ((c < 0x20 && c !== 9) || c === 0x7f) {
          throw new ProtocolError(this.errorStatus, "invalid character in chunk extension");
        }
      }
    }
    if (size === 0) {
      this.#state = S_TRAILER;
    } else {
      this.#remaining = size;
      this.#state = S_DATA;
    }
  }

  #trailerLine(buf: Uint8Array, s: number, lf: number): void {
    const end = lf - 1;
    if (end === s) return;
    const first = buf[s];
    if (first === 32 || first === 9) {
      throw new ProtocolError(this.errorStatus, "obsolete line folding in trailer");
    }
    let colon = false;
    for (let i = s; i < end; i++) {
      const c = buf[i];
      if (c === 58) colon = true;
      if ((c < 0x20 && c !== 9) || c === 0x7f) {
        throw new ProtocolError(this.errorStatus, "invalid character in trailer");
      }
    }
    if (!colon) throw new ProtocolError(this.errorStatus, "malformed trailer field");
  }

  /**
   * Reads and discards up to `limit` more body bytes so the connection can be
   * reused; resolves true when the body ended within the limit.
   */
  async discard(limit: number): Promise<boolean> {
    if (this.continueTo !== null) {
      // the client waits for 100-continue: never sent, so it may not send the body
      return false;
    }
    let n = 0;
    while (!this.done) {
      const v = await this.read();
      if (v === null) break;
      n += v.length;
      if (n > limit) return false;
    }
    return true;
  }

  /** Reads the whole body into one array (up to `limit` bytes; throws 413 beyond). */
  async readAll(limit = 16 * 1024 * 1024): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const v = await this.read();
      if (v === null) break;
      total += v.length;
      if (total > limit) throw new ProtocolError(413, "request body too large");
      parts.push(v.slice());
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** An empty, finished body. */
export const EMPTY_BODY: BodyReader = new BodyReader(Framing.NONE, null);

/** The last chunk and an empty trailer section. */
export const CHUNKED_END: Uint8Array = new TextEncoder().encode("0\r\n\r\n");

/** Appends `data` as one chunk (size line, data, CRLF) to `w`; empty data appends nothing. */
export function encodeChunk(w: ByteWriter, data: Uint8Array): void {
  if (data.length === 0) return;
  w.str(data.length.toString(16));
  w.crlf();
  w.bytes(data);
  w.crlf();
}
