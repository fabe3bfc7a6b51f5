/**
 * Head serialization: the forwarded request head (hop-by-hop fields removed,
 * proxy headers added), the relayed response head, and local responses.
 *
 * Kept field lines are copied from the received bytes in runs, so an ordinary
 * request costs a handful of `set` calls and no per-field strings.
 *
 * @module
 */

import { ByteWriter, equalsLower } from "./buffer.ts";
import { H, type HeaderFields } from "./fields.ts";
import { Framing, type RequestHead, TargetForm } from "./request_parser.ts";
import type { ResponseHead } from "./response_parser.ts";

/** Options for {@link writeForwardRequestHead}. */
export interface ForwardHeadOptions {
  /** Downstream peer address, appended to `x-forwarded-for` (omit to leave it untouched). */
  remoteHost?: string;
  /** Whether the downstream connection was TLS (for `x-forwarded-proto` when absent). */
  secure?: boolean;
  /** Attempt number for `x-envoy-attempt-count` (omit: not sent). */
  attempt?: number;
  /** `x-request-id` to send when the request has none. */
  requestId?: string;
  /** Replacement authority (Host); default: the request's (absolute-form URI wins over Host). */
  authority?: string;
  /** Replacement path and query; default: the request's. */
  path?: string;
  /** Lowercase names of further fields to drop. */
  remove?: readonly string[];
  /** Fields to add, flat `[name, value, ...]`. */
  add?: readonly string[];
  /** Framing of the body as it will be sent upstream (default: the request's). */
  framing?: number;
}

/** Generates a request id (UUID v4), as Envoy does when `x-request-id` is absent. */
export function newRequestId(): string {
  return crypto.randomUUID();
}

const HTTP11_CRLF = new TextEncoder().encode(" HTTP/1.1\r\n");

function removed(f: HeaderFields, i: number, names: readonly string[] | undefined): boolean {
  if (names === undefined || names.length === 0) return false;
  const s = f.pos[i * 4];
  const e = f.pos[i * 4 + 1];
  for (let k = 0; k < names.length; k++) if (equalsLower(f.raw, s, e, names[k])) return true;
  return false;
}

/**
 * Appends the upstream request head for `h` to `w`: HTTP/1.1, origin-form
 * target, hop-by-hop fields removed, `x-forwarded-for` appended,
 * `x-forwarded-proto` (when absent or removed) and `x-request-id` (when absent) set,
 * `x-envoy-attempt-count` set, no `via`. Returns the request id in effect.
 */
export function writeForwardRequestHead(
  w: ByteWriter,
  h: RequestHead,
  o: ForwardHeadOptions,
): string {
  const raw = h.raw;
  const pos = h.pos;
  // request line
  if (o.path !== undefined) {
    w.str(h.method);
    w.str(" ");
    w.str(o.path);
    w.bytes(HTTP11_CRLF, 0, HTTP11_CRLF.length);
  } else if (h.targetForm === TargetForm.ABSOLUTE) {
    w.str(h.method);
    w.str(" ");
    if (h.pathEnd === h.pathStart || raw[h.pathStart] !== 47) w.str("/");
    w.bytes(raw, h.pathStart, h.pathEnd);
    w.bytes(HTTP11_CRLF, 0, HTTP11_CRLF.length);
  } else {
    w.bytes(raw, 0, h.targetEnd);
    w.bytes(HTTP11_CRLF, 0, HTTP11_CRLF.length);
  }
  const replaceHost = o.authority !== undefined || h.authorityEnd > h.authorityStart;
  let xff = -1;
  let xffMore = false;
  let hasXfp = false;
  let requestId = "";
  let run = -1;
  const remove = o.remove;
  const framing = o.framing ?? h.framing;
  if (framing === Framing.LENGTH && h.framing !== Framing.LENGTH) {
    throw new RangeError("a LENGTH framing needs the caller to add content-length");
  }
  for (let i = 0; i < h.count; i++) {
    const id = h.ids[i];
    let keep = h.hop[i] === 0;
    if (keep) {
      switch (id) {
        case H.CONTENT_LENGTH:
          // re-framed bodies must not carry the original length
          keep = framing === h.framing;
          break;
        case H.HOST:
          keep = !replaceHost;
          break;
        case H.X_FORWARDED_FOR:
          if (o.remoteHost !== undefined) {
            if (xff < 0) xff = i;
            else xffMore = true;
            keep = false;
          }
          break;
        case H.X_REQUEST_ID:
          if (requestId === "") requestId = h.value(i);
          break;
        case H.X_ENVOY_ATTEMPT_COUNT:
          keep = o.attempt === undefined;
          break;
      }
      if (keep && remove !== undefined && removed(h, i, remove)) keep = false;
      // A removed x-forwarded-proto (an edge proxy distrusting its client) is
      // replaced by the connection's own scheme below.
      if (keep && id === H.X_FORWARDED_PROTO) hasXfp = true;
    }
    if (keep) {
      if (run < 0) run = pos[i * 4];
    } else if (run >= 0) {
      w.bytes(raw, run, pos[i * 4]);
      run = -1;
    }
  }
  if (run >= 0) w.bytes(raw, run, h.length - 2);
  if (replaceHost) w.field("host", o.authority ?? h.authority);
  if (o.remoteHost !== undefined) {
    w.str("x-forwarded-for: ");
    if (xff >= 0) {
      w.bytes(raw, pos[xff * 4 + 2], pos[xff * 4 + 3]);
      if (xffMore) {
        for (let i = xff + 1; i < h.count; i++) {
          if (h.ids[i] !== H.X_FORWARDED_FOR) continue;
          w.str(", ");
          w.bytes(raw, pos[i * 4 + 2], pos[i * 4 + 3]);
        }
      }
      w.str(", ");
    }
    w.str(o.remoteHost);
    w.crlf();
  }
  if (!hasXfp) w.field("x-forwarded-proto", o.secure ? "https" : "http");
  if (requestId === "") {
    requestId = o.requestId ?? newRequestId();
    w.field("x-request-id", requestId);
  }
  if (o.attempt !== undefined) w.field("x-envoy-attempt-count", String(o.attempt));
  if (framing === Framing.CHUNKED) w.str("transfer-encoding: chunked\r\n");
  if (h.upgrade) {
    w.str("connection: upgrade\r\n");
    const u = h.upgradeIndex;
    w.bytes(raw, pos[u * 4], pos[u * 4 + 3]);
    w.crlf();
  }
  const add = o.add;
  if (add !== undefined) {
    for (let i = 0; i + 1 < add.length; i += 2) {
      w.field(add[i], add[i + 1]);
    }
  }
  w.crlf();
  return requestId;
}

/** Options for {@link writeRelayResponseHead}. */
export interface RelayHeadOptions {
  /** Framing of the body as sent downstream. */
  framing: number;
  /** Add `connection: close` (the downstream connection closes after this response). */
  close: boolean;
  /** Lowercase names of further fields to drop. */
  remove?: readonly string[];
  /** Fields to add, flat `[name, value, ...]`. */
  add?: readonly string[];
  /** Keep `Connection: upgrade` and `Upgrade` (a 101 being relayed). */
  upgrade?: boolean;
}

/** Appends the downstream response head relayed from upstream head `h`. */
export function writeRelayResponseHead(w: ByteWriter, h: ResponseHead, o: RelayHeadOptions): void {
  const raw = h.raw;
  const pos = h.pos;
  w.str("HTTP/1.1");
  let eol = h.reasonEnd > 0 ? h.reasonEnd : 12;
  while (raw[eol] !== 13) eol++;
  w.bytes(raw, 8, eol);
  w.crlf();
  let run = -1;
  const remove = o.remove;
  const upgrade = o.upgrade === true;
  for (let i = 0; i < h.count; i++) {
    let keep = h.hop[i] === 0;
    const id = h.ids[i];
    if (id === H.CONTENT_LENGTH && o.framing !== Framing.LENGTH && o.framing !== Framing.NONE) {
      keep = false;
    }
    if (upgrade && (id === H.UPGRADE || id === H.CONNECTION)) keep = true;
    if (keep && remove !== undefined && removed(h, i, remove)) keep = false;
    if (keep) {
      if (run < 0) run = pos[i * 4];
    } else if (run >= 0) {
      w.bytes(raw, run, pos[i * 4]);
      run = -1;
    }
  }
  if (run >= 0) w.bytes(raw, run, h.length - 2);
  if (o.framing === Framing.CHUNKED) w.str("transfer-encoding: chunked\r\n");
  if (o.close && !upgrade) w.str("connection: close\r\n");
  const add = o.add;
  if (add !== undefined) {
    for (let i = 0; i + 1 < add.length; i += 2) {
      w.field(add[i], add[i + 1]);
    }
  }
  w.crlf();
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Payload Too Large",
  414: "URI Too Long",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The standard reason phrase for `status` ("" when unknown). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/**
 * Appends a response head built from strings. `contentLength` ≥ 0 adds
 * `content-length`; -1 adds `transfer-encoding: chunked`; -2 adds no framing
 * (no body, or until close).
 */
export function writeResponseHead(
  w: ByteWriter,
  status: number,
  options: { headers: readonly string[]; contentLength: number; close: boolean },
): void {
  const headers = options.headers;
  w.str("HTTP/1.1 ");
  w.int(status);
  w.str(" ");
  w.str(reasonPhrase(status));
  w.crlf();
  for (let i = 0; i + 1 < headers.length; i += 2) w.field(headers[i], headers[i + 1]);
  if (options.contentLength >= 0) {
    w.str("content-length: ");
    w.int(options.contentLength);
    w.crlf();
  } else if (options.contentLength === -1) {
    w.str("transfer-encoding: chunked\r\n");
  }
  if (options.close) w.str("connection: close\r\n");
  w.crlf();
}

/** Serializes a request head from strings (used by clients and tests); HTTP/1.1 unless `minor` is 0. */
export function serializeRequestHead(
  method: string,
  target: string,
  options: { headers: readonly string[]; minor?: number },
): Uint8Array {
  const headers = options.headers;
  const minor = options.minor ?? 1;
  const w = new ByteWriter(256);
  w.str(method);
  w.str(" ");
  w.str(target);
  w.str(minor === 0 ? " HTTP/1.0" : " HTTP/1.1");
  w.crlf();
  for (let i = 0; i + 1 < headers.length; i += 2) w.field(headers[i], headers[i + 1]);
  w.crlf();
  return w.view().slice();
}
