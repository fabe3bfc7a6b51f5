/**
 * Section "pipeline": the full forwarding pipeline (route, split, admission, balance, retry
 * policy, outlier detection) beside mesh's bare pass-through and nginx, in the same run with the
 * targets interleaved, plus configuration compile time.
 *
 * - closed loop: wrk -t2 -c32 `Host: reviews`, 16-byte bodies, rounds interleaved over the
 *   targets; the table shows the mean over rounds, p50/p99 of the best round, peak RSS;
 * - ratios pipeline/nginx (target ≥ 0.85) and pipeline/passthrough (target ≥ 0.9);
 * - compile time of 1,000 VirtualServices and 5,000 endpoints (target < 200 ms).
 *
 * @module
 */

import { benchSnapshot, measureCompile } from "../pipeline/compile_bench.ts";
import { formatTable, parseWrk, type WrkResult } from "./parse.ts";
import {
  isSkipped,
  PASSTHROUGH_SCRIPT,
  type Skipped,
  startMesh,
  startNginx,
  startUpstream,
  type Target,
} from "./peers.ts";
import { memoryKb, runTool, stop } from "./procs.ts";
import type { BenchOptions } from "./proxy_bench.ts";

/** Path of the pipeline entry next to this file. */
export const PIPELINE_SCRIPT = new URL("./pipeline_main.ts", import.meta.url).pathname;

const BODY = 16;

interface Row {
  target: string;
  runs: WrkResult[];
  peakKb: number;
}

function progress(msg: string): void {
  console.error(`  .. ${msg}`);
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

async function wrk(port: number, seconds: number): Promise<WrkResult> {
  const cmd = [
    "wrk",
    "-t2",
    "-c32",
    `-d${seconds}s`,
    "--timeout",
    "5s",
    "--latency",
    "-H",
    "Host: reviews",
    `http://127.0.0.1:${port}/bench`,
  ];
  const out = await runTool(cmd, (seconds + 20) * 1000);
  if (out.code !== 0) throw new Error(`wrk exited ${out.code}: ${out.stderr || out.stdout}`);
  return parseWrk(out.stdout);
}

/** Checks a target answers `Host: reviews` with the upstream's body. */
async function check(t: Target): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  try {
    await conn.write(
      new TextEncoder().encode("GET /bench HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n"),
    );
    const buf = new Uint8Array(4096);
    let text = "";
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!text.startsWith("HTTP/1.1 200")) throw new Error(`answered ${text.split("\r\n")[0]}`);
  } finally {
    conn.close();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Runs the section and prints its tables; returns the headline figures. */
export async function runPipelineBench(opts: BenchOptions): Promise<Record<string, number>> {
  const rounds = opts.quick ? 1 : 3;
  const seconds = opts.quick ? 1 : Math.max(3, Math.round(opts.durationS / 2));
  const tmpDir = await Deno.makeTempDir({ prefix: "mesh-pipeline-bench-" });
  const upstream = await startUpstream(BODY);
  const targets: Target[] = [];
  const skipped: Skipped[] = [];
  const figures: Record<string, number> = {};
  try {
    const starts = [
      () => startMesh(upstream.port, { entry: PASSTHROUGH_SCRIPT, name: "passthrough" }),
      () => startMesh(upstream.port, { entry: PIPELINE_SCRIPT, name: "pipeline" }),
      () => startNginx(upstream.port, tmpDir),
    ];
    for (const start of starts) {
      const t = await start();
      if (isSkipped(t)) {
        skipped.push(t);
        continue;
      }
      try {
        await check(t);
        targets.push(t);
      } catch (err) {
        skipped.push({ name: t.name, reason: `sanity request failed: ${(err as Error).message}` });
        if (t.server) await stop(t.server.child);
      }
    }
    console.log(
      `\n## Closed loop: wrk -t2 -c32 -H 'Host: reviews', ${BODY} B body, ${rounds} round(s) ` +
        `of ${seconds}s per target, interleaved\n`,
    );
    const rows: Row[] = targets.map((t) => ({ target: t.name, runs: [], peakKb: NaN }));
    for (const t of targets) {
      progress(`warm-up ${t.name}`);
      await wrk(t.port, 1);
    }
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < targets.length; i++) {
        progress(`round ${r + 1}/${rounds}: ${targets[i].name}`);
        rows[i].runs.push(await wrk(targets[i].port, seconds));
        rows[i].peakKb = memoryKb(targets[i].proxyPids(), "VmHWM");
      }
    }
    const table = [["target", "req/s", "p50 ms", "p99 ms", "errors", "peak RSS MiB"]];
    const rps = new Map<string, number>();
    for (const row of rows) {
      const best = row.runs.reduce((a, b) => (b.requestsPerSec > a.requestsPerSec ? b : a));
      const avg = mean(row.runs.map((w) => w.requestsPerSec));
      rps.set(row.target, avg);
      table.push([
        row.target,
        avg.toFixed(0),
        fmt(best.percentiles[50] ?? NaN, 3),
        fmt(best.percentiles[99] ?? NaN, 3),
        String(row.runs.reduce((a, w) => a + w.errors, 0)),
        fmt(row.peakKb / 1024, 1),
      ]);
      figures[`${row.target} req/s`] = Math.round(avg);
      figures[`${row.target} p99 ms`] = best.percentiles[99] ?? NaN;
      figures[`${row.target} RSS MiB`] = row.peakKb / 1024;
    }
    console.log(formatTable(table));
    for (const s of skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
    const p = rps.get("pipeline");
    const ratios = [["ratio", "value", "target"]];
    if (p !== undefined && rps.has("nginx")) {
      figures["pipeline/nginx"] = p / rps.get("nginx")!;
      ratios.push(["pipeline/nginx req/s", fmt(figures["pipeline/nginx"]), "≥ 0.85"]);
    }
    if (p !== undefined && rps.has("passthrough")) {
      figures["pipeline/passthrough"] = p / rps.get("passthrough")!;
      ratios.push(["pipeline/passthrough req/s", fmt(figures["pipeline/passthrough"]), "≥ 0.90"]);
    }
    console.log("\n" + formatTable(ratios));
  } finally {
    await Promise.all(targets.map((t) => t.server ? stop(t.server.child) : Promise.resolve()));
    await stop(upstream.server!.child);
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }

  console.log("\n## Compile: 1,000 VirtualServices, 1,000 DestinationRules, 5,000 endpoints\n");
  const compiled = measureCompile(benchSnapshot());
  figures["compile ms"] = compiled.freshMs;
  console.log(formatTable([
    ["compile", "ms (median of 5)", "target"],
    ["fresh", fmt(compiled.freshMs, 1), "< 200"],
    ["with {previous}", fmt(compiled.previousMs, 1), "< 200"],
  ]));
  return figures;
}

if (import.meta.main) {
  await runPipelineBench({
    quick: Deno.args.includes("--quick"),
    durationS: 10,
    soakS: 0,
    meshEntry: PASSTHROUGH_SCRIPT,
  });
}
