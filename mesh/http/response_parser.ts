/**
 * Strict HTTP/1.1 response-head parsing (upstream input). A response the
 * proxy cannot delimit exactly is a protocol error (flag UPE): the connection
 * is closed and never reused.
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
} from "./fields.ts";
import type { BufferedReader } from "./reader.ts";
import { Framing } from "./request_parser.ts";

/** A parsed response head. */
export class ResponseHead extends HeaderFields {
  /** Status code, 100-999. */
  status = 0;
  /** HTTP minor version: 0 or 1. */
  minor = 1;
  /** Offsets of the reason phrase in `raw`. */
  reasonStart = 0;
  /** @see reasonStart */
  reasonEnd = 0;
  /** One of {@link Framing}. */
  framing = 0;
  /** Body length when `framing` is LENGTH. */
  contentLength = 0;
  /** Whether the upstream connection may be reused after this response. */
  keepAlive = true;

  /** An empty head, to be filled by {@link ResponseParser.parse}. */
  static empty(): ResponseHead {
    return new ResponseHead(new Uint8Array(1024), 32);
  }

  /** Clears per-response state before reuse. */
  clear(): void {
    this.status = 0;
    this.minor = 1;
    this.reasonStart = 0;
    this.reasonEnd = 0;
    this.framing = 0;
    this.contentLength = 0;
    this.keepAlive = true;
  }

  /** An independent copy that stays valid after the exchange. */
  clone(): ResponseHead {
    const method = this.framing === 0 && this.status >= 200 && this.status !== 204 &&
        this.status !== 304
      ? "HEAD"
      : "GET";
    return parseResponseHead(this.raw.slice(0, this.length), {
      maxFields: this.count,
      requestMethod: method,
    });
  }

  /** The reason phrase. */
  get reason(): string {
    return latin1(this.raw, this.reasonStart, this.reasonEnd);
  }
}

/**
 * Parses a complete response head. `requestMethod` decides whether a body
 * follows (HEAD never has one). Throws {@link ProtocolError}.
 */
export function parseResponseHead(
  raw: Uint8Array,
  options: { maxFields: number; requestMethod: string },
): ResponseHead {
  const maxFields = options.maxFields;
  const requestMethod = options.requestMethod;
  const h = new ResponseHead(raw, maxFields);
  parseInto(h, requestMethod);
  return h;
}

function parseInto(h: ResponseHead, requestMethod: string): void {
  const raw = h.raw;
  if (
    raw[0] !== 72 || raw[1] !== 84 || raw[2] !== 84 || raw[3] !== 80 || raw[4] !== 47 ||
    raw[5] !== 49 || raw[6] !== 46 || (raw[7] !== 48 && raw[7] !== 49) || raw[8] !== 32
  ) {
    throw new ProtocolError(502, "invalid status line");
  }
  h.minor = raw[7] - 48;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = raw[i] - 48;
    if (d < 0 || d > 9) throw new ProtocolError(502, "invalid status code");
    status = status * 10 + d;
  }
  if (status < 100) throw new ProtocolError(502, "invalid status code");
  h.status = status;
  let p = 12;
  if (raw[p] === 32) {
    p++;
    h.reasonStart = p;
    while (raw[p] !== 13) {
      const c = raw[p];
      if ((c < 0x20 && c !== 9) || c === 0x7f) {
        throw new ProtocolError(502, "invalid reason phrase");
      }
      p++;
    }
    h.reasonEnd = p;
  } else if (raw[p] !== 13) {
    throw new ProtocolError(502, "invalid status line");
  }
  if (raw[p + 1] !== 10) throw new ProtocolError(502, "bare CR in status line");
  parseFieldLines(h, p + 2);
  decideResponseFraming(h, requestMethod);
}

function decideResponseFraming(h: ResponseHead, method: string): void {
  const raw = h.raw;
  const pos = h.pos;
  let cl = -1;
  let te = -1;
  let connClose = false;
  let connKeepAlive = false;
  let hasConnection = false;
  for (let i = 0; i < h.count; i++) {
    const id = h.ids[i];
    if (id === 0) continue;
    const vs = pos[i * 4 + 2];
    const ve = pos[i * 4 + 3];
    switch (id) {
      case H.CONTENT_LENGTH: {
        const v = parseContentLength(raw, vs, ve);
        if (v < 0) throw new ProtocolError(502, "invalid Content-Length in response");
        if (cl >= 0 && v !== cl) throw new ProtocolError(502, "conflicting Content-Length fields");
        cl = v;
        break;
      }
      case H.TRANSFER_ENCODING:
        if (te >= 0) throw new ProtocolError(502, "repeated Transfer-Encoding in response");
        te = i;
        h.hop[i] = 1;
        break;
      case H.CONNECTION:
        hasConnection = true;
        h.hop[i] = 1;
        break;
      case H.KEEP_ALIVE:
      case H.PROXY_CONNECTION:
      case H.TRAILER:
      case H.TE:
      case H.UPGRADE:
        h.hop[i] = 1;
        break;
    }
  }
  if (hasConnection) {
    for (let i = 0; i < h.count; i++) {
      if (h.ids[i] !== H.CONNECTION) continue;
      forEachToken(h, i, (r, s, e) => {
        if (equalsLower(r, s, e, "close")) connClose = true;
        else if (equalsLower(r, s, e, "keep-alive")) connKeepAlive = true;
        else if (!equalsLower(r, s, e, "upgrade")) markConnectionNominated(h, r, s, e);
      });
    }
  }
  h.keepAlive = h.minor === 1 ? !connClose : connKeepAlive && !connClose;
  const status = h.status;
  if (status < 200 || status === 204 || status === 304 || method === "HEAD") {
    h.framing = Framing.NONE;
    // a 204/1xx must not carry framing fields; anything else may describe the HEAD/304 body
    if ((status < 200 || status === 204) && te >= 0) {
      throw new ProtocolError(502, "Transfer-Encoding on a response without body");
    }
    return;
  }
  if (te >= 0) {
    if (cl >= 0) throw new ProtocolError(502, "both Content-Length and Transfer-Encoding");
    if (!finalCodingIsChunked(raw, pos[te * 4 + 2], pos[te * 4 + 3])) {
      throw new ProtocolError(502, "response Transfer-Encoding does not end in chunked");
    }
    h.framing = Framing.CHUNKED;
  } else if (cl >= 0) {
    h.framing = cl === 0 ? Framing.NONE : Framing.LENGTH;
    h.contentLength = cl;
  } else {
    h.framing = Framing.CLOSE;
    h.keepAlive = false;
  }
}

function finalCodingIsChunked(raw: Uint8Array, s: number, e: number): boolean {
  let i = e;
  while (i > s && raw[i - 1] !== 44) i--;
  let a = i;
  while (a < e && (raw[a] === 32 || raw[a] === 9)) a++;
  return equalsLower(raw, a, e, "chunked");
}

/** Incremental response-head reader for one upstream connection. */
export class ResponseParser {
  /** Limits in force. */
  readonly limits: HeadLimits;
  #scanner = new HeadScanner();

  /** Creates a parser with `limits`. */
  constructor(limits: Partial<HeadLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Consumes a head from `reader` and parses it into `into` (returned), or
   * returns null when more bytes are needed.
   */
  parse(
    reader: BufferedReader,
    requestMethod: string,
    into: ResponseHead = ResponseHead.empty(),
  ): ResponseHead | null {
    const sc = this.#scanner;
    let len: number;
    try {
      len = sc.scan(reader.buf, reader.start, reader.end, this.limits, false);
    } catch (err) {
      sc.reset();
      if (err instanceof ProtocolError) throw new ProtocolError(502, err.message);
      throw err;
    }
    if (len === 0) return null;
    into.load(reader.buf, reader.start, reader.start + len, sc.lines - 1);
    reader.consume(len);
    sc.reset();
    try {
      into.clear();
      parseInto(into, requestMethod);
      return into;
    } catch (err) {
      if (err instanceof ProtocolError && err.status !== 502) {
        throw new ProtocolError(502, err.message);
      }
      throw err;
    }
  }

  /** Forgets a partly scanned head. */
  reset(): void {
    this.#scanner.reset();
  }
}

/** Parses one response head from the start of `bytes`, or null if incomplete. */
export function parseResponse(
  bytes: Uint8Array,
  requestMethod = "GET",
): { head: ResponseHead; consumed: number } | null {
  const sc = new HeadScanner();
  const len = sc.scan(bytes, 0, bytes.length, DEFAULT_LIMITS, false);
  if (len === 0) return null;
  return {
    head: parseResponseHead(bytes.slice(0, len), {
      maxFields: sc.lines - 1,
      requestMethod,
    }),
    consumed: len,
  };
}
