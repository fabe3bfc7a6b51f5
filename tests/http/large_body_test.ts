/**
 * 64 MiB request and response bodies stream through the pass-through proxy
 * process (tests/bench/passthrough_main.ts) with bounded memory, and the
 * entry's contract holds: one `listening on` line, clean exit on SIGTERM.
 */
import assert from "node:assert/strict";
import { bytes, IO, sleep, writeFully } from "./helpers.ts";

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;

function rssKiB(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

async function startEntry(upstreamPort: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../bench/passthrough_main.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--upstream",
      `127.0.0.1:${upstreamPort}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  const m = /^listening on 127\.0\.0\.1:(\d+)\n$/.exec(out);
  assert.ok(m, `unexpected first output ${JSON.stringify(out)}`);
  return { child, reader, port: Number(m[1]) };
}

Deno.test({
  name: "64 MiB up and 64 MiB down stream through with bounded RSS; SIGTERM exits 0",
  ...IO,
  async fn() {
    const chunk = new Uint8Array(MIB).fill(0x61);
    let received = 0;
    const ac = new AbortController();
    const srv = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
      async (req) => {
        if (req.method === "GET") return new Response("warm");
        let n = 0;
        for await (const part of req.body!) n += part.length;
        received = n;
        let sent = 0;
        // a chunked response body, produced as the proxy reads it
        const body = new ReadableStream<Uint8Array>({
          pull(ctl) {
            if (sent >= TOTAL) return ctl.close();
            ctl.enqueue(chunk);
            sent += chunk.length;
          },
        });
        return new Response(body);
      },
    );
    const { child, reader, port } = await startEntry(srv.addr.port);
    try {
      // warm up, then take the baseline
      const w = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeFully(w, bytes("GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n"));
      const wbuf = new Uint8Array(4096);
      while ((await w.read(wbuf)) !== null) { /* drain */ }
      w.close();
      await sleep(200);
      const base = rssKiB(child.pid);
      let peak = base;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssKiB(child.pid));
      }, 25);
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      const upload = (async () => {
        await writeFully(
          c,
          bytes(
            `POST /big HTTP/1.1\r\nHost: s\r\nContent-Length: ${TOTAL}\r\nConnection: close\r\n\r\n`,
          ),
        );
        for (let i = 0; i < TOTAL / MIB; i++) await writeFully(c, chunk);
      })();
      // read the whole (chunked) response while uploading
      let got = 0;
      let tail = "";
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        const n = await c.read(buf);
        if (n === null) break;
        got += n;
        tail = (tail + new TextDecoder().decode(buf.subarray(Math.max(0, n - 16), n))).slice(-16);
      }
      await upload;
      c.close();
      clearInterval(sampler);
      assert.equal(received, TOTAL, "upstream received the whole request body");
      assert.ok(got > TOTAL, `downstream received ${got} bytes`);
      assert.ok(tail.endsWith("0\r\n\r\n"), "response ended with the last chunk");
      const growthMiB = (peak - base) / 1024;
      assert.ok(growthMiB < 24, `proxy RSS grew by ${growthMiB.toFixed(1)} MiB for 128 MiB moved`);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      ac.abort();
      await srv.finished;
      assert.equal(status.code, 0, "exits cleanly on SIGTERM");
    }
  },
});
