/**
 * Strict HTTP/1.1 request-head parsing (untrusted input).
 *
 * The parser decides message framing once — no body, `Content-Length` or
 * chunked — and rejects every ambiguity that could let two parties delimit the
 * request differently (request smuggling): CL with TE, differing CLs, TE other
 * than exactly `chunked`, obs-fold, bare LF, CTLs, whitespace before colon.
 *
 * @module
 */

import { equalsLower, latin1 } from "./buffer.ts";
import { ProtocolError } from "./errors.ts";
import {
  DEFAULT_LIMITS,
  forEachToken,
  H,
  HeaderFields,
  type HeadLimits,
  HeadScanner,
  markConnectionNominated,
  parseContentLength,
  parseFieldLines,
  TCHAR,
} from "./fields.ts";
import type { BufferedReader } from "./reader.ts";

/** How a message body is delimited. */
export const Framing = {
  /** No body. */
  NONE: 0,
  /** `Content-Length` bytes. */
  LENGTH: 1,
  /** Chunked transfer coding. */
  CHUNKED: 2,
  /** Until the connection closes (responses only). */
  CLOSE: 3,
} as const;

/** The form of the request target (RFC 9112 §3.2). */
export const TargetForm = {
  /** `/path?query` */
  ORIGIN: 0,
  /** `http://host/path` (explicit proxy, `HTTP_PROXY`) */
  ABSOLUTE: 1,
  /** `host:port` (CONNECT) */
  AUTHORITY: 2,
  /** `*` (OPTIONS) */
  ASTERISK: 3,
} as const;

/** A parsed request head. Strings are decoded on first use. */
export class RequestHead extends HeaderFields {
  /** Request method (interned for common methods). */
  method = "";
  /** HTTP minor version: 0 or 1. */
  minor = 1;
  /** One of {@link TargetForm}. */
  targetForm = 0;
  /** Offsets of the request target in `raw`. */
  targetStart = 0;
  /** @see targetStart */
  targetEnd = 0;
  /** Offsets of the path+query in `raw` (empty for absolute-form without path). */
  pathStart = 0;
  /** @see pathStart */
  pathEnd = 0;
  /** Offsets of the authority from an absolute- or authority-form target, else 0/0. */
  authorityStart = 0;
  /** @see authorityStart */
  authorityEnd = 0;
  /** Index of the Host field, or -1. */
  hostIndex = -1;
  /** One of {@link Framing}: NONE, LENGTH or CHUNKED. */
  framing = 0;
  /** Body length when `framing` is LENGTH. */
  contentLength = 0;
  /** Whether the connection may stay open after this exchange. */
  keepAlive = true;
  /** `Expect: 100-continue` was sent. */
  expectContinue = false;
  /** A protocol upgrade was requested (`Connection: upgrade` plus `Upgrade`). */
  upgrade = false;
  /** Index of the Upgrade field, or -1. */
  upgradeIndex = -1;
  /** Index of the first X-Request-Id field, or -1. */
  requestIdIndex = -1;
  #target: string | undefined;
  #path: string | undefined;
  #authority: string | undefined;
  // The previous request's strings on this (reused) head: a keep-alive client sends the same
  // Host and often the same path again, and reusing the string skips decoding it and lets
  // lookups keyed by it reuse its cached hash.
  #lastPath = "";
  #lastAuthority = "";

  /** An empty head, to be filled by {@link RequestParser.parse}. */
  static empty(): RequestHead {
    return new RequestHead(new Uint8Array(1024), 32);
  }

  /** Clears per-request state before reuse. */
  clear(): void {
    this.method = "";
    this.minor = 1;
    this.targetForm = 0;
    this.targetStart = 0;
    this.targetEnd = 0;
    this.pathStart = 0;
    this.pathEnd = 0;
    this.authorityStart = 0;
    this.authorityEnd = 0;
    this.hostIndex = -1;
    this.framing = 0;
    this.contentLength = 0;
    this.keepAlive = true;
    this.expectContinue = false;
    this.upgrade = false;
    this.upgradeIndex = -1;
    this.requestIdIndex = -1;
    this.#target = undefined;
    this.#path = undefined;
    this.#authority = undefined;
  }

  /** An independent copy that stays valid after the exchange. */
  clone(): RequestHead {
    return parseRequestHead(this.raw.slice(0, this.length), this.count);
  }

  /** The request target as sent. */
  get target(): string {
    return this.#target ??= latin1(this.raw, this.targetStart, this.targetEnd);
  }

  /** The origin-form path and query (`/` when an absolute-form target has none). */
  get path(): string {
    if (this.#path !== undefined) return this.#path;
    if (sameBytes(this.raw, this.pathStart, this.pathEnd, this.#lastPath)) {
      return this.#path = this.#lastPath;
    }
    let p = latin1(this.raw, this.pathStart, this.pathEnd);
    // Only a string equal to its bytes is kept (one starting with `/`, so never prefixed).
    if (p.charCodeAt(0) === 47) this.#lastPath = p;
    else if (this.targetForm === TargetForm.ABSOLUTE) p = "/" + p;
    return this.#path = p;
  }

  /** The authority: from an absolute-form target, else the Host field, else "". */
  get authority(): string {
    if (this.#authority !== undefined) return this.#authority;
    let start = this.authorityStart;
    let end = this.authorityEnd;
    if (end <= start) {
      if (this.hostIndex < 0) return this.#authority = "";
      start = this.pos[this.hostIndex * 4 + 2];
      end = this.pos[this.hostIndex * 4 + 3];
    }
    if (sameBytes(this.raw, start, end, this.#lastAuthority)) {
      return this.#authority = this.#lastAuthority;
    }
    return this.#authority = this.#lastAuthority = latin1(this.raw, start, end);
  }

  /** `http` or `https` for an absolute-form target, else undefined. */
  get scheme(): string | undefined {
    if (this.targetForm !== TargetForm.ABSOLUTE) return undefined;
    return (this.raw[this.targetStart + 4] | 0x20) === 0x73 ? "https" : "http";
  }
}

/** Whether `raw[start, end)` holds exactly the (Latin-1) string `s`; false for an empty range. */
function sameBytes(raw: Uint8Array, start: number, end: number, s: string): boolean {
  const n = s.length;
  if (n === 0 || end - start !== n) return false;
  for (let i = 0; i < n; i++) if (raw[start + i] !== s.charCodeAt(i)) return false;
  return true;
}

function internMethod(raw: Uint8Array, e: number): string {
  switch (e) {
    case 3:
      if (raw[0] === 71 && raw[1] === 69 && raw[2] === 84) return "GET";
      if (raw[0] === 80 && raw[1] === 85 && raw[2] === 84) return "PUT";
      break;
    case 4:
      if (raw[0] === 80 && raw[1] === 79 && raw[2] === 83 && raw[3] === 84) return "POST";
      if (raw[0] === 72 && raw[1] === 69 && raw[2] === 65 && raw[3] === 68) return "HEAD";
      break;
    case 6:
      if (equalsLower(raw, 0, 6, "delete") && raw[0] === 68) return "DELETE";
      break;
  }
  return latin1(raw, 0, e);
}

/**
 * Parses a complete request head `raw` (request line through the empty line)
 * holding at most `maxFields` header lines. Throws {@link ProtocolError}.
 */
export function parseRequestHead(raw: Uint8Array, maxFields: number): RequestHead {
  const h = new RequestHead(raw, maxFields);
  parseInto(h);
  return h;
}

/** Parses the head loaded in `h` (see {@link HeaderFields.load}). */
function parseInto(h: RequestHead): void {
  const raw = h.raw;
  // request line: method SP target SP version CRLF
  let p = 0;
  let c = raw[0];
  while (TCHAR[c] === 1) c = raw[++p];
  if (p === 0 || c !== 32) throw new ProtocolError(400, "invalid method in request line");
  for (let i = 0; i < p; i++) {
    // methods are case-sensitive; accept upper-case tokens only (as Envoy's codec does)
    const m = raw[i];
    if (m >= 0x61 && m <= 0x7a) throw new ProtocolError(400, "invalid method in request line");
  }
  h.method = internMethod(raw, p);
  const ts = ++p;
  c = raw[p];
  while (c > 0x20 && c !== 0x7f) c = raw[++p];
  if (p === ts || c !== 32) throw new ProtocolError(400, "invalid request target");
  h.targetStart = ts;
  h.targetEnd = p;
  p++;
  // version: exactly HTTP/1.0 or HTTP/1.1
  if (
    raw[p] !== 72 || raw[p + 1] !== 84 || raw[p + 2] !== 84 || raw[p + 3] !== 80 ||
    raw[p + 4] !== 47 || raw[p + 6] !== 46 || raw[p + 8] !== 13 || raw[p + 9] !== 10
  ) {
    throw new ProtocolError(400, "invalid HTTP version in request line");
  }
  const major = raw[p + 5];
  const minor = raw[p + 7];
  if (major < 48 || major > 57 || minor < 48 || minor > 57) {
    throw new ProtocolError(400, "invalid HTTP version in request line");
  }
  if (major !== 49 || minor > 49) throw new ProtocolError(505, "HTTP version not supported");
  h.minor = minor - 48;
  parseFieldLines(h, p + 10);
  classifyTarget(h);
  decideFraming(h);
}

function classifyTarget(h: RequestHead): void {
  const raw = h.raw;
  const ts = h.targetStart;
  const te = h.targetEnd;
  const first = raw[ts];
  if (first === 47) {
    h.targetForm = TargetForm.ORIGIN;
    h.pathStart = ts;
    h.pathEnd = te;
    return;
  }
  if (h.method === "CONNECT") {
    h.targetForm = TargetForm.AUTHORITY;
    h.authorityStart = ts;
    h.authorityEnd = te;
    return;
  }
  if (first === 42 && te - ts === 1) {
    if (h.method !== "OPTIONS") throw new ProtocolError(400, "asterisk target outside OPTIONS");
    h.targetForm = TargetForm.ASTERISK;
    h.pathStart = ts;
    h.pathEnd = te;
    return;
  }
  let as = -1;
  if (equalsLower(raw, ts, Math.min(te, ts + 7), "http://")) as = ts + 7;
  else if (equalsLower(raw, ts, Math.min(te, ts + 8), "https://")) as = ts + 8;
  if (as < 0) throw new ProtocolError(400, "invalid request target form");
  let ae = as;
  while (ae < te && raw[ae] !== 47 && raw[ae] !== 63 && raw[ae] !== 35) {
    if (raw[ae] === 64) throw new ProtocolError(400, "userinfo in request target");
    ae++;
  }
  if (ae === as) throw new ProtocolError(400, "empty authority in request target");
  h.targetForm = TargetForm.ABSOLUTE;
  h.authorityStart = as;
  h.authorityEnd = ae;
  h.pathStart = ae;
  h.pathEnd = te;
}

function decideFraming(h: RequestHead): void {
  const raw = h.raw;
  const pos = h.pos;
  const ids = h.ids;
  let cl = -1;
  let te = 0;
  let hosts = 0;
  let connClose = false;
  let connKeepAlive = false;
  let connUpgrade = false;
  let hasConnection = false;
  for (let i = 0; i < h.count; i++) {
    const id = ids[i];
    if (id === 0) continue;
    const vs = pos[i * 4 + 2];
    const ve = pos[i * 4 + 3];
    switch (id) {
      case H.HOST:
        hosts++;
        h.hostIndex = i;
        break;
      case H.CONTENT_LENGTH: {
        const v = parseContentLength(raw, vs, ve);
        if (v < 0) throw new ProtocolError(400, "invalid Content-Length");
        if (cl >= 0 && v !== cl) throw new ProtocolError(400, "conflicting Content-Length fields");
        cl = v;
        break;
      }
      case H.TRANSFER_ENCODING:
        te++;
        if (!equalsLower(raw, vs, ve, "chunked")) {
          throw new ProtocolError(400, "Transfer-Encoding other than chunked");
        }
        h.hop[i] = 1;
        break;
      case H.CONNECTION:
        hasConnection = true;
        h.hop[i] = 1;
        break;
      case H.TE:
        // "te: trailers" is end-to-end for gRPC, as in Envoy
        if (!equalsLower(raw, vs, ve, "trailers")) h.hop[i] = 1;
        break;
      case H.EXPECT:
        if (!equalsLower(raw, vs, ve, "100-continue")) {
          throw new ProtocolError(417, "unsupported Expect value");
        }
        if (h.minor === 1) h.expectContinue = true;
        h.hop[i] = 1;
        break;
      case H.UPGRADE:
        h.upgradeIndex = i;
        h.hop[i] = 1;
        break;
      case H.KEEP_ALIVE:
      case H.PROXY_CONNECTION:
      case H.TRAILER:
        h.hop[i] = 1;
        break;
      case H.X_REQUEST_ID:
        if (h.requestIdIndex < 0) h.requestIdIndex = i;
        break;
    }
  }
  if (te > 0) {
    if (cl >= 0) throw new ProtocolError(400, "both Content-Length and Transfer-Encoding");
    if (te > 1) throw new ProtocolError(400, "repeated Transfer-Encoding");
    if (h.minor === 0) throw new ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request");
    h.framing = Framing.CHUNKED;
  } else if (cl > 0) {
    h.framing = Framing.LENGTH;
    h.contentLength = cl;
  }
  if (hosts > 1) throw new ProtocolError(400, "repeated Host field");
  if (hosts === 0 && h.minor === 1) throw new ProtocolError(400, "missing Host field");
  if (hasConnection) {
    for (let i = 0; i < h.count; i++) {
      if (ids[i] !== H.CONNECTION) continue;
      forEachToken(h, i, (r, s, e) => {
        if (equalsLower(r, s, e, "close")) connClose = true;
        else if (equalsLower(r, s, e, "keep-alive")) connKeepAlive = true;
        else if (equalsLower(r, s, e, "upgrade")) connUpgrade = true;
        else markConnectionNominated(h, r, s, e);
      });
    }
  }
  h.keepAlive = h.minor === 1 ? !connClose : connKeepAlive && !connClose;
  if (connUpgrade && h.upgradeIndex >= 0 && h.minor === 1) h.upgrade = true;
}

/**
 * Incremental request-head reader for one connection: call {@link parse}
 * after every read; it returns a head once the empty line has arrived.
 */
export class RequestParser {
  /** Limits in force. */
  readonly limits: HeadLimits;
  #scanner = new HeadScanner();

  /** Creates a parser with `limits` (defaults: {@link DEFAULT_LIMITS}). */
  constructor(limits: Partial<HeadLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Whether part of a head has been received (used to pick header vs idle timeout). */
  get started(): boolean {
    return this.#scanner.scanned > this.#scanner.headStart;
  }

  /**
   * Looks for a complete head in `reader`; consumes it and parses it into
   * `into` (returned), or returns null when more bytes are needed. Throws
   * {@link ProtocolError}.
   */
  parse(reader: BufferedReader, into: RequestHead = RequestHead.empty()): RequestHead | null {
    const sc = this.#scanner;
    const len = sc.scan(reader.buf, reader.start, reader.end, this.limits, true);
    if (len === 0) return null;
    into.load(reader.buf, reader.start + sc.headStart, reader.start + len, sc.lines - 1);
    reader.consume(len);
    sc.reset();
    into.clear();
    parseInto(into);
    return into;
  }

  /** Forgets a partly scanned head. */
  reset(): void {
    this.#scanner.reset();
  }
}

/**
 * Parses one request head from the start of `bytes` (leading CRLFs allowed).
 * Returns the head and the bytes it used, or null if the head is incomplete.
 */
export function parseRequest(
  bytes: Uint8Array,
  limits: Partial<HeadLimits> = {},
): { head: RequestHead; consumed: number } | null {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const sc = new HeadScanner();
  const len = sc.scan(bytes, 0, bytes.length, lim, true);
  if (len === 0) return null;
  return { head: parseRequestHead(bytes.slice(sc.headStart, len), sc.lines - 1), consumed: len };
}
