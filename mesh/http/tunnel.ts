/**
 * A raw byte tunnel between two connections (TCP proxying, HTTP CONNECT). An end of stream on
 * one side is passed on as a half-close (`closeWrite`) where the transport allows it, so
 * request/response protocols that signal "done" by shutting their write side keep working; the
 * tunnel ends when both directions have ended or either side fails.
 *
 * @module
 */

import { type ByteConn, DenoByteConn, writeAll } from "./conn.ts";

/** Options of {@linkcode tunnel}. */
export interface TunnelOptions {
  /** Whether the owner is shutting down (then no half-close is attempted). */
  stopped?: () => boolean;
  /** Bytes `down` already sent that must go to `up` first (read past a CONNECT head). */
  buffered?: Uint8Array;
}

/**
 * Copies bytes both ways between `down` and `up` until both directions end or either side
 * fails. Resolves `[bytes down→up, bytes up→down]`. Neither connection is closed on a clean
 * end; the caller closes both.
 */
export async function tunnel(
  down: ByteConn,
  up: ByteConn,
  options: TunnelOptions = {},
): Promise<[number, number]> {
  const stopped = options.stopped ?? (() => false);
  let early = 0;
  const buffered = options.buffered;
  if (buffered !== undefined && buffered.length > 0) {
    try {
      await writeAll(up, buffered);
      early = buffered.length;
    } catch {
      down.close();
      up.close();
      return [0, 0];
    }
  }
  const [received, sent] = await Promise.all([
    relay(down, up, stopped),
    relay(up, down, stopped),
  ]);
  return [received + early, sent];
}

/**
 * Copies `src` to `dst` until `src` ends, then half-closes `dst` (or, where the transport cannot
 * half-close, leaves it for the other direction to finish). A failure on either side closes
 * both, which ends the opposite relay too. Resolves the byte count.
 */
async function relay(src: ByteConn, dst: ByteConn, stopped: () => boolean): Promise<number> {
  const buf = new Uint8Array(16384);
  let total = 0;
  try {
    for (;;) {
      const n = await src.read(buf);
      if (n === null || n === 0) break;
      await writeAll(dst, buf.subarray(0, n));
      total += n;
    }
  } catch {
    src.close();
    dst.close();
    return total;
  }
  // Where `dst` cannot half-close, the other direction decides when the tunnel ends.
  if (!stopped()) await closeWrite(dst);
  return total;
}

/** Shuts the write side of `conn` where the transport supports it; false when it cannot. */
async function closeWrite(conn: ByteConn): Promise<boolean> {
  if (!(conn instanceof DenoByteConn)) return false;
  const inner = conn.inner as Partial<Deno.TcpConn>;
  if (typeof inner.closeWrite !== "function") return false;
  try {
    await inner.closeWrite();
    return true;
  } catch {
    return false;
  }
}
