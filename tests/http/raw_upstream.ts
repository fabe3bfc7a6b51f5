/**
 * A minimal, fast HTTP/1.1 upstream over raw `Deno.Conn` for tests and local
 * benchmarking: answers every request with a 16-byte body. Handles keep-alive
 * and pipelining of body-less requests only.
 *
 *   deno run -A tests/http/raw_upstream.ts [--port P]   prints `listening on 127.0.0.1:<port>`
 *
 * @module
 */

const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 16\r\n\r\nhello from raw!\n",
);

async function serveConn(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  let have = 0;
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) break;
      have += n;
      let count = 0;
      let last = 0;
      for (let i = 3; i < have; i++) {
        if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
          count++;
          last = i + 1;
        }
      }
      if (count === 0) {
        if (have === buf.length) break;
        continue;
      }
      buf.copyWithin(0, last, have);
      have -= last;
      if (count === 1) {
        await conn.write(RESPONSE);
      } else {
        const out = new Uint8Array(RESPONSE.length * count);
        for (let k = 0; k < count; k++) out.set(RESPONSE, k * RESPONSE.length);
        await conn.write(out);
      }
    }
  } catch {
    // peer reset
  }
  try {
    conn.close();
  } catch {
    // closed
  }
}

/** Starts the upstream; returns its port and a stop function. */
export function startRawUpstream(port = 0): { port: number; close(): void } {
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  (async () => {
    for await (const c of l) {
      c.setNoDelay(true);
      serveConn(c);
    }
  })().catch(() => {});
  return { port: (l.addr as Deno.NetAddr).port, close: () => l.close() };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const u = startRawUpstream(i >= 0 ? Number(Deno.args[i + 1]) : 0);
  console.log(`listening on 127.0.0.1:${u.port}`);
}
