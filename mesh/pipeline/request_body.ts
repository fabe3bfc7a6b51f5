/**
 * Request bodies kept for retries and mirrors. A body is read into memory before the first
 * attempt when it fits {@linkcode DEFAULT_REPLAY_LIMIT} (1 MiB, Envoy's default per-request buffer
 * limit), so every attempt and every mirror can send it again; a larger body is streamed once and
 * the request is not retried (SEMANTICS §2.12: "impossible if the request body exceeded the
 * buffer limit"). A request without a body is always replayable and costs nothing here.
 *
 * @module
 */

import { BodyReader, Framing } from "../http/mod.ts";

/** Largest request body buffered for replay (bytes): 1 MiB, as Envoy's buffer limit. */
export const DEFAULT_REPLAY_LIMIT = 1024 * 1024;

/** A request body as read before the first attempt. */
export class BufferedBody {
  /** Framing the body is sent with (the request's: LENGTH or CHUNKED). */
  readonly framing: number;
  /** Copies of the pieces read so far. */
  readonly chunks: Uint8Array[];
  /** Bytes in {@link chunks}. */
  readonly total: number;
  /** The unread rest when the body was over the limit (then it can be sent only once). */
  readonly rest: BodyReader | null;

  /** Wraps buffered pieces and the unread rest. */
  constructor(framing: number, chunks: Uint8Array[], total: number, rest: BodyReader | null) {
    this.framing = framing;
    this.chunks = chunks;
    this.total = total;
    this.rest = rest;
  }

  /** Whether the whole body is in memory (every attempt and mirror can send it). */
  get replayable(): boolean {
    return this.rest === null;
  }

  /** A reader sending the body once more (the rest, when not replayable, only the first time). */
  reader(): BodyReader {
    return new ReplayBody(this);
  }
}

/**
 * Reads `body` into memory up to `options.limit` bytes. A `Content-Length` body declared larger
 * than the limit (`options.contentLength`) is not read at all; a chunked body is read until it
 * ends or passes the limit.
 */
export async function bufferBody(
  body: BodyReader,
  options: { limit: number; contentLength?: number },
): Promise<BufferedBody> {
  const framing = body.framing;
  const chunks: Uint8Array[] = [];
  if (body.done) return new BufferedBody(framing, chunks, 0, null);
  const limit = options.limit;
  if (framing === Framing.LENGTH && (options.contentLength ?? 0) > limit) {
    return new BufferedBody(framing, chunks, 0, body);
  }
  let total = 0;
  for (;;) {
    let v = body.readBuffered();
    if (v === undefined) v = await body.read();
    if (v === null) return new BufferedBody(framing, chunks, total, null);
    chunks.push(v.slice());
    total += v.length;
    if (body.done) return new BufferedBody(framing, chunks, total, null);
    if (total > limit) return new BufferedBody(framing, chunks, total, body);
  }
}

/** A {@linkcode BodyReader} replaying a {@linkcode BufferedBody}, then its unread rest. */
class ReplayBody extends BodyReader {
  readonly #source: BufferedBody;
  #next = 0;

  constructor(source: BufferedBody) {
    super(source.framing === Framing.NONE ? Framing.NONE : Framing.CHUNKED, null, 0);
    this.#source = source;
    this.done = source.chunks.length === 0 && source.rest === null;
  }

  override readBuffered(): Uint8Array | null | undefined {
    if (this.done) return null;
    const chunks = this.#source.chunks;
    if (this.#next < chunks.length) return this.#take(chunks[this.#next++]);
    const rest = this.#source.rest;
    if (rest === null) {
      this.done = true;
      return null;
    }
    const v = rest.readBuffered();
    if (v === null) this.done = true;
    else if (v !== undefined) return this.#take(v, rest);
    return v;
  }

  override async read(): Promise<Uint8Array | null> {
    const v = this.readBuffered();
    if (v !== undefined) return v;
    const rest = this.#source.rest!;
    const piece = await rest.read();
    if (piece === null) {
      this.done = true;
      return null;
    }
    return this.#take(piece, rest);
  }

  #take(v: Uint8Array, rest?: BodyReader): Uint8Array {
    this.bytes += v.length;
    const source = this.#source;
    if (rest !== undefined ? rest.done : this.#next >= source.chunks.length && !source.rest) {
      this.done = true;
    }
    return v;
  }
}
