/**
 * Byte helpers for the codec: a growable output buffer that gathers a head and
 * small bodies into one `write`, and Latin-1 string conversion (HTTP field
 * values are octets; decoding them as UTF-8 would not round-trip).
 *
 * @module
 */

import { type ByteConn, writeAll } from "./conn.ts";

/** Decodes `buf[start, end)` as Latin-1 (one char per byte). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n <= 8192) {
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 8192) {
    const e = Math.min(end, i + 8192);
    s += String.fromCharCode.apply(null, buf.subarray(i, e) as unknown as number[]);
  }
  return s;
}

/** Encodes a Latin-1 string into bytes (chars above 0xFF become `?`). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c > 0xff ? 0x3f : c;
  }
  return out;
}

/** Compares `buf[start, end)` with a lowercase ASCII `name`, ignoring ASCII case. */
export function equalsLower(buf: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = buf[start + i];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

const CRLF_BYTES = new Uint8Array([13, 10]);
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A reusable output buffer. A connection keeps one and builds each response
 * head (plus a small body) in it, then flushes it with a single write.
 */
export class ByteWriter {
  /** Backing storage; grows on demand. */
  buf: Uint8Array;
  /** Bytes currently held. */
  len = 0;

  /** Creates a writer with `size` bytes of initial capacity. */
  constructor(size = 4096) {
    this.buf = new Uint8Array(size);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Appends a Latin-1/ASCII string. */
  str(s: string): void {
    const n = s.length;
    this.reserve(n);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      b[p++] = c > 0xff ? 0x3f : c;
    }
    this.len = p;
  }

  /** Appends a decimal non-negative integer. */
  int(v: number): void {
    this.str(String(v));
  }

  /** Appends `src[start, end)`. */
  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.reserve(n);
    const b = this.buf;
    if (n < 64) {
      let p = this.len;
      for (let i = start; i < end; i++) b[p++] = src[i];
    } else {
      b.set(src.subarray(start, end), this.len);
    }
    this.len += n;
  }

  /** Appends CR LF. */
  crlf(): void {
    this.bytes(CRLF_BYTES, 0, 2);
  }

  /** Appends `name: value` CR LF. */
  field(name: string, value: string): void {
    this.str(name);
    this.reserve(2);
    this.buf[this.len++] = 0x3a;
    this.buf[this.len++] = 0x20;
    this.str(value);
    this.crlf();
  }

  /** The bytes held, as a view (valid until the next append or reset). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Empties the writer, keeping its storage. */
  reset(): void {
    this.len = 0;
  }

  /** Writes everything held to `conn` and empties the writer. */
  flush(conn: ByteConn): Promise<void> {
    if (this.len === 0) return RESOLVED;
    const v = this.buf.subarray(0, this.len);
    this.len = 0;
    return writeAll(conn, v);
  }
}
