/**
 * A buffered reader over a {@link ByteConn} and one reused `Uint8Array`.
 * Parsers look at `buf[start, end)` directly; body readers hand out views of
 * it that stay valid until the next `fill`.
 *
 * @module
 */

import type { ByteConn } from "./conn.ts";

const EOF: Promise<null> = Promise.resolve(null);

/** Buffered reader; fields are public so parsers can scan without calls. */
export class BufferedReader {
  /** The connection read from. */
  readonly conn: ByteConn;
  /** The buffer; replaced (grown) only while a head does not fit. */
  buf: Uint8Array;
  /** First unconsumed byte. */
  start = 0;
  /** One past the last byte read. */
  end = 0;
  /** Set once the peer closed its side. */
  eof = false;
  /** Total bytes read so far. */
  bytesRead = 0;
  #pending: Promise<number | null> | null = null;

  /** Creates a reader over `conn` with a `size`-byte buffer. */
  constructor(conn: ByteConn, size = 16384) {
    this.conn = conn;
    this.buf = new Uint8Array(size);
  }

  /** Bytes buffered and not consumed. */
  get available(): number {
    return this.end - this.start;
  }

  /** Marks `n` buffered bytes as consumed. */
  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
  }

  /**
   * Reads more bytes after `end`, moving unconsumed bytes to the front first
   * when the tail is full. Resolves the number of new bytes, 0 at end of stream.
   */
  async fill(): Promise<number> {
    if (this.eof) return 0;
    let p = this.#pending;
    if (p === null) {
      if (this.end === this.buf.length) this.compact();
      if (this.end === this.buf.length) throw new RangeError("read buffer full");
      p = this.conn.read(this.buf.subarray(this.end));
    } else {
      this.#pending = null;
    }
    const n = await p;
    if (n === null || n === 0) {
      this.eof = true;
      return 0;
    }
    this.end += n;
    this.bytesRead += n;
    return n;
  }

  /**
   * The raw read behind {@link fill}, for hot loops that want one promise
   * less: `r.commit(await r.readRaw())` is `await r.fill()`. Returns the
   * pending {@link watch} read when there is one.
   */
  readRaw(): Promise<number | null> {
    const p = this.#pending;
    if (p !== null) {
      this.#pending = null;
      return p;
    }
    if (this.eof) return EOF;
    if (this.end === this.buf.length) this.compact();
    if (this.end === this.buf.length) throw new RangeError("read buffer full");
    return this.conn.read(this.buf.subarray(this.end));
  }

  /** Accounts for a read returned by {@link readRaw}; returns the new byte count (0 at EOF). */
  commit(n: number | null): number {
    if (n === null || n === 0) {
      this.eof = true;
      return 0;
    }
    this.end += n;
    this.bytesRead += n;
    return n;
  }

  /**
   * Starts a read while the connection sits idle (in a pool or between
   * requests) so a peer close is noticed at once; the next {@link fill}
   * takes over that read. Returns the pending read.
   */
  watch(): Promise<number | null> {
    if (this.#pending !== null) return this.#pending;
    if (this.end === this.buf.length) this.compact();
    this.#pending = this.conn.read(this.buf.subarray(this.end));
    return this.#pending;
  }

  /** Whether a {@link watch} read is outstanding. */
  get watching(): boolean {
    return this.#pending !== null;
  }

  /** Moves unconsumed bytes to the front of the buffer. */
  compact(): void {
    if (this.start === 0) return;
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }

  /** Replaces the buffer with a larger one (up to `max` bytes); false if already at `max`. */
  grow(max: number): boolean {
    if (this.#pending !== null) return false;
    const cur = this.buf.length;
    if (cur >= max) return false;
    const next = new Uint8Array(Math.min(max, cur * 2));
    next.set(this.buf.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    this.buf = next;
    return true;
  }

  /** Takes the unconsumed bytes out (copied), leaving the reader empty. */
  drain(): Uint8Array {
    const out = this.buf.slice(this.start, this.end);
    this.start = 0;
    this.end = 0;
    return out;
  }
}
