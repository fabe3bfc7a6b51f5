/**
 * Pass-through proxy entry for tests and the data-plane benchmark.
 *
 *   deno run -A tests/bench/passthrough_main.ts --port P --upstream 127.0.0.1:Q [--workers N]
 *     [--timeout-ms MS] [--stats-ms MS]
 *
 * Listens on 127.0.0.1:P (0 = any free port), prints exactly one line
 * `listening on 127.0.0.1:<port>` when ready, exits 0 on SIGTERM/SIGINT.
 * With --workers N > 1 it needs SO_REUSEPORT (Deno's --unstable-net); when
 * started without that flag it re-runs itself with it. `--stats-ms MS` prints
 * one JSON line of `Deno.memoryUsage()` (bytes) to stderr every MS ms, for
 * leak hunting (heap used over time, not just RSS).
 *
 * @module
 */

import { reusePortAvailable, startPassthrough } from "../../mesh/http/mod.ts";

function usage(msg: string): never {
  console.error(
    `passthrough_main: ${msg}\nusage: passthrough_main.ts --port P --upstream HOST:PORT [--workers N] [--timeout-ms MS] [--stats-ms MS]`,
  );
  Deno.exit(1);
}

function parseArgs(args: string[]) {
  let port = -1;
  let upstream = "";
  let workers = 1;
  let timeoutMs = 15_000;
  let statsMs = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    switch (a) {
      case "--port":
        port = Number(v);
        i++;
        break;
      case "--upstream":
        upstream = v ?? "";
        i++;
        break;
      case "--workers":
        workers = Number(v);
        i++;
        break;
      case "--timeout-ms":
        timeoutMs = Number(v);
        i++;
        break;
      case "--stats-ms":
        statsMs = Number(v);
        i++;
        break;
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage("--port needs 0-65535");
  const m = /^(.+):(\d+)$/.exec(upstream);
  if (m === null) usage("--upstream needs HOST:PORT");
  if (!Number.isInteger(workers) || workers < 1) usage("--workers needs a positive integer");
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) usage("--timeout-ms needs a number ≥ 0");
  if (!Number.isFinite(statsMs) || statsMs < 0) usage("--stats-ms needs a number ≥ 0");
  return { port, upstreamHost: m[1], upstreamPort: Number(m[2]), workers, timeoutMs, statsMs };
}

async function reexecWithUnstableNet(): Promise<never> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", new URL(import.meta.url).pathname, ...Deno.args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forwardSignal = (sig: Deno.Signal) => () => {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  Deno.addSignalListener("SIGTERM", forwardSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", forwardSignal("SIGINT"));
  const status = await child.status;
  Deno.exit(status.code);
}

const opts = parseArgs(Deno.args);
if (opts.workers > 1 && !reusePortAvailable()) await reexecWithUnstableNet();

const proxy = await startPassthrough({
  hostname: "127.0.0.1",
  port: opts.port,
  upstreamHost: opts.upstreamHost,
  upstreamPort: opts.upstreamPort,
  workers: opts.workers,
  timeoutMs: opts.timeoutMs,
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // finish in-flight requests briefly, then leave; workers die with the process
  proxy.close().finally(() => Deno.exit(0));
  setTimeout(() => Deno.exit(0), 1500);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
if (opts.statsMs > 0) {
  const t0 = performance.now();
  setInterval(() => {
    const m = Deno.memoryUsage();
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(JSON.stringify({ s: Number(s), ...m }));
  }, opts.statsMs);
}
console.log(`listening on 127.0.0.1:${proxy.port}`);
