/**
 * Header-field storage shared by request and response heads, the incremental
 * head scanner, and the strict field-line parser.
 *
 * A head is kept as its raw bytes plus offsets; names and values become
 * strings only when asked for, and a proxy copies kept lines byte for byte.
 *
 * @module
 */

import { equalsLower, latin1 } from "./buffer.ts";
import { ProtocolError } from "./errors.ts";

/** Well-known header names, classified once while parsing (see {@link HeaderFields.ids}). */
export const H = {
  OTHER: 0,
  HOST: 1,
  CONTENT_LENGTH: 2,
  TRANSFER_ENCODING: 3,
  CONNECTION: 4,
  KEEP_ALIVE: 5,
  PROXY_CONNECTION: 6,
  TE: 7,
  TRAILER: 8,
  UPGRADE: 9,
  EXPECT: 10,
  X_FORWARDED_FOR: 11,
  X_FORWARDED_PROTO: 12,
  X_REQUEST_ID: 13,
  X_ENVOY_ATTEMPT_COUNT: 14,
} as const;

/** tchar per RFC 9110 §5.6.2. */
export const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const extra = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1;
  return t;
})();

/** Bytes allowed inside a field value: HTAB, SP, VCHAR, obs-text. */
const VALUE_OK: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[9] = 1;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) t[c] = 1;
  return t;
})();

/** Classifies the lowercase-insensitive name `buf[s, e)` into an {@link H} id. */
export function classify(buf: Uint8Array, s: number, e: number): number {
  switch (e - s) {
    case 2:
      return equalsLower(buf, s, e, "te") ? H.TE : H.OTHER;
    case 4:
      return equalsLower(buf, s, e, "host") ? H.HOST : H.OTHER;
    case 6:
      return equalsLower(buf, s, e, "expect") ? H.EXPECT : H.OTHER;
    case 7:
      if (equalsLower(buf, s, e, "upgrade")) return H.UPGRADE;
      return equalsLower(buf, s, e, "trailer") ? H.TRAILER : H.OTHER;
    case 10:
      if (equalsLower(buf, s, e, "connection")) return H.CONNECTION;
      return equalsLower(buf, s, e, "keep-alive") ? H.KEEP_ALIVE : H.OTHER;
    case 12:
      return equalsLower(buf, s, e, "x-request-id") ? H.X_REQUEST_ID : H.OTHER;
    case 14:
      return equalsLower(buf, s, e, "content-length") ? H.CONTENT_LENGTH : H.OTHER;
    case 15:
      return equalsLower(buf, s, e, "x-forwarded-for") ? H.X_FORWARDED_FOR : H.OTHER;
    case 16:
      return equalsLower(buf, s, e, "proxy-connection") ? H.PROXY_CONNECTION : H.OTHER;
    case 17:
      if (equalsLower(buf, s, e, "transfer-encoding")) return H.TRANSFER_ENCODING;
      return equalsLower(buf, s, e, "x-forwarded-proto") ? H.X_FORWARDED_PROTO : H.OTHER;
    case 21:
      return equalsLower(buf, s, e, "x-envoy-attempt-count") ? H.X_ENVOY_ATTEMPT_COUNT : H.OTHER;
    default:
      return H.OTHER;
  }
}

/** Limits applied while reading a head. */
export interface HeadLimits {
  /** Maximum bytes of the whole head (→ 431). */
  maxHeadBytes: number;
  /** Maximum number of header lines (→ 431). */
  maxHeaders: number;
  /** Maximum bytes of the request line (→ 414; responses: 502 by the caller). */
  maxStartLine: number;
}

/** Defaults close to Envoy's: 60 KiB heads, 100 headers; 16 KiB request line. */
export const DEFAULT_LIMITS: HeadLimits = {
  maxHeadBytes: 60 * 1024,
  maxHeaders: 100,
  maxStartLine: 16 * 1024,
};

/**
 * Finds the end of a head as bytes arrive. State is kept relative to the
 * reader's `start`, so the reader may compact or grow between calls and bytes
 * already scanned are never scanned twice (byte-by-byte arrival stays linear).
 */
export class HeadScanner {
  /** Bytes (relative) already scanned. */
  scanned = 0;
  /** Start (relative) of the line being scanned. */
  lineStart = 0;
  /** Complete non-empty lines seen. */
  lines = 0;
  /** Relative offset where the start line begins (after skipped empty lines). */
  headStart = 0;

  /** Forgets all state, for the next head. */
  reset(): void {
    this.scanned = 0;
    this.lineStart = 0;
    this.lines = 0;
    this.headStart = 0;
  }

  /**
   * Scans `buf[start + scanned, end)`. Returns the relative end of the head
   * (just past the empty line) or 0 if more bytes are needed. Throws
   * {@link ProtocolError} on a bare LF or an exceeded limit.
   * `skipLeadingEmpty` tolerates CRLFs before a request line (RFC 9112 §2.2).
   */
  scan(
    buf: Uint8Array,
    start: number,
    end: number,
    limits: HeadLimits,
    skipLeadingEmpty: boolean,
  ): number {
    let i = start + this.scanned;
    let lineStart = this.lineStart;
    for (; i < end; i++) {
      if (buf[i] !== 10) continue;
      const rel = i - start;
      if (rel === lineStart || buf[i - 1] !== 13) {
        throw new ProtocolError(400, "bare LF line ending (lines must end with CRLF)");
      }
      if (rel - 1 === lineStart) {
        if (this.lines === 0) {
          if (!skipLeadingEmpty) throw new ProtocolError(400, "empty start line");
          lineStart = rel + 1;
          this.headStart = lineStart;
          if (lineStart > limits.maxStartLine) throw new ProtocolError(400, "too many empty lines");
          continue;
        }
        this.lineStart = lineStart;
        this.scanned = rel + 1;
        if (rel + 1 - this.headStart > limits.maxHeadBytes) {
          throw new ProtocolError(431, "request header section too large");
        }
        return rel + 1;
      }
      this.lines++;
      if (this.lines === 1) {
        if (rel - 1 - lineStart > limits.maxStartLine) {
          throw new ProtocolError(414, "request line too long");
        }
      } else if (this.lines - 1 > limits.maxHeaders) {
        throw new ProtocolError(431, `more than ${limits.maxHeaders} header fields`);
      }
      lineStart = rel + 1;
    }
    this.lineStart = lineStart;
    const rel = end - start;
    this.scanned = rel;
    if (this.lines === 0 && rel - lineStart > limits.maxStartLine) {
      throw new ProtocolError(414, "request line too long");
    }
    if (rel - this.headStart > limits.maxHeadBytes) {
      throw new ProtocolError(431, "request header section too large");
    }
    return 0;
  }
}

/**
 * Header fields of one head: raw bytes plus per-field offsets. Names compare
 * case-insensitively; `name()` returns lowercase.
 *
 * Servers and pools reuse one instance per connection (typed-array
 * allocation costs about a microsecond each), so a head is valid only for the
 * exchange it belongs to; use `clone()` to keep one longer.
 */
export class HeaderFields {
  /** Buffer holding the head's bytes in `[0, length)` (owned, never the read buffer). */
  raw: Uint8Array;
  /** Bytes of the head in `raw`. */
  length = 0;
  /** Number of fields. */
  count = 0;
  /** Four offsets per field into `raw`: name start, name end, value start, value end. */
  pos: Int32Array;
  /** Per field: an {@link H} id. */
  ids: Uint8Array;
  /** Per field: 1 when the field is hop-by-hop and must not be forwarded as is. */
  hop: Uint8Array;

  /** Creates storage for up to `capacity` fields holding `raw`. */
  constructor(raw: Uint8Array, capacity: number) {
    this.raw = raw;
    this.length = raw.length;
    this.pos = new Int32Array(capacity * 4);
    this.ids = new Uint8Array(capacity);
    this.hop = new Uint8Array(capacity);
  }

  /**
   * Copies `src[start, end)` in as the new head bytes and makes room for
   * `capacity` fields, reusing storage when it is large enough.
   */
  load(src: Uint8Array, start: number, end: number, capacity: number): void {
    const n = end - start;
    if (this.raw.length < n) this.raw = new Uint8Array(Math.max(n, this.raw.length * 2));
    const raw = this.raw;
    if (n <= 512) {
      for (let i = 0; i < n; i++) raw[i] = src[start + i];
    } else {
      raw.set(src.subarray(start, end));
    }
    this.length = n;
    this.count = 0;
    if (this.ids.length < capacity) {
      const c = Math.max(capacity, this.ids.length * 2);
      this.pos = new Int32Array(c * 4);
      this.ids = new Uint8Array(c);
      this.hop = new Uint8Array(c);
    } else {
      this.hop.fill(0, 0, capacity);
    }
  }

  /** The lowercase name of field `i`. */
  name(i: number): string {
    return latin1(this.raw, this.pos[i * 4], this.pos[i * 4 + 1]).toLowerCase();
  }

  /** The value of field `i` (surrounding whitespace removed). */
  value(i: number): string {
    return latin1(this.raw, this.pos[i * 4 + 2], this.pos[i * 4 + 3]);
  }

  /** Index of the first field named `name` (case-insensitive), or -1. */
  indexOf(name: string, from = 0): number {
    const lower = name.toLowerCase();
    const pos = this.pos;
    for (let i = from; i < this.count; i++) {
      if (equalsLower(this.raw, pos[i * 4], pos[i * 4 + 1], lower)) return i;
    }
    return -1;
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const i = this.indexOf(name);
    return i < 0 ? undefined : this.value(i);
  }

  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const out: string[] = [];
    for (let i = this.indexOf(name); i >= 0; i = this.indexOf(name, i + 1)) out.push(this.value(i));
    return out;
  }

  /** Whether a field named `name` is present. */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** All fields as a flat `[name, value, name, value, ...]` list with lowercase names. */
  list(): string[] {
    const out: string[] = new Array(this.count * 2);
    for (let i = 0; i < this.count; i++) {
      out[i * 2] = this.name(i);
      out[i * 2 + 1] = this.value(i);
    }
    return out;
  }
}

/**
 * Parses field lines of `f.raw` from `p` up to and including the final empty
 * line, strictly: no obs-fold, no whitespace before the colon, no CTL or NUL
 * in names or values. Returns the offset after the head.
 */
export function parseFieldLines(f: HeaderFields, p: number): number {
  const raw = f.raw;
  const pos = f.pos;
  let n = 0;
  for (;;) {
    let c = raw[p];
    if (c === 13) {
      if (raw[p + 1] !== 10) throw new ProtocolError(400, "bare CR in header section");
      f.count = n;
      return p + 2;
    }
    if (c === 32 || c === 9) {
      throw new ProtocolError(400, "obsolete line folding (header line starts with whitespace)");
    }
    const ns = p;
    while (TCHAR[c] === 1) c = raw[++p];
    if (c !== 58) {
      if (c === 32 || c === 9) {
        throw new ProtocolError(400, "whitespace before colon in header name");
      }
      throw new ProtocolError(400, "invalid character in header name");
    }
    if (p === ns) throw new ProtocolError(400, "empty header name");
    const ne = p;
    c = raw[++p];
    while (c === 32 || c === 9) c = raw[++p];
    const vs = p;
    while (c !== 13) {
      if (VALUE_OK[c] !== 1) {
        throw new ProtocolError(400, "invalid character (CTL or NUL) in header value");
      }
      c = raw[++p];
    }
    if (raw[p + 1] !== 10) throw new ProtocolError(400, "bare CR in header value");
    let ve = p;
    while (ve > vs && (raw[ve - 1] === 32 || raw[ve - 1] === 9)) ve--;
    if (n >= f.ids.length) throw new ProtocolError(431, "too many header fields");
    const k = n * 4;
    pos[k] = ns;
    pos[k + 1] = ne;
    pos[k + 2] = vs;
    pos[k + 3] = ve;
    f.ids[n] = classify(raw, ns, ne);
    n++;
    p += 2;
  }
}

/** Parses a Content-Length value: 1-15 digits. Returns -1 when invalid. */
export function parseContentLength(raw: Uint8Array, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = raw[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Walks the comma-separated tokens of field `i` and calls `fn(start, end)`
 * for each non-empty token (OWS trimmed).
 */
export function forEachToken(
  f: HeaderFields,
  i: number,
  fn: (raw: Uint8Array, s: number, e: number) => void,
): void {
  const raw = f.raw;
  const end = f.pos[i * 4 + 3];
  let s = f.pos[i * 4 + 2];
  while (s < end) {
    let e = s;
    while (e < end && raw[e] !== 44) e++;
    let a = s;
    let b = e;
    while (a < b && (raw[a] === 32 || raw[a] === 9)) a++;
    while (b > a && (raw[b - 1] === 32 || raw[b - 1] === 9)) b--;
    if (b > a) fn(raw, a, b);
    s = e + 1;
  }
}

/** Marks fields named by `Connection` tokens (other than close/keep-alive/upgrade) as hop-by-hop. */
export function markConnectionNominated(f: HeaderFields, raw: Uint8Array, s: number, e: number) {
  const pos = f.pos;
  for (let j = 0; j < f.count; j++) {
    const ns = pos[j * 4];
    const ne = pos[j * 4 + 1];
    if (ne - ns !== e - s) continue;
    let same = true;
    for (let k = 0; k < e - s; k++) {
      if (lower(raw[ns + k]) !== lower(raw[s + k])) {
        same = false;
        break;
      }
    }
    // end-to-end framing and routing fields cannot be nominated away
    const id = f.ids[j];
    if (same && id !== H.HOST && id !== H.CONTENT_LENGTH && id !== H.TRANSFER_ENCODING) {
      f.hop[j] = 1;
    }
  }
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}
