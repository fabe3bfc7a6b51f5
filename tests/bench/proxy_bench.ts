/**
 * Section "proxy": mesh's pass-through against nginx and HAProxy on loopback.
 *
 * - closed loop: wrk (2 threads, 32 connections) per body size, targets interleaved;
 * - cores: the pass-through with `--workers 1` and `--workers 2`;
 * - open loop: h2load at a fixed 1,000 req/s over 4 and 16 connections, latency added over the
 *   direct path, with the proxies' RSS sampled during the runs (leak check);
 * - soak (opt-in): mesh alone at 1,000 req/s for N seconds, RSS over time.
 *
 * @module
 */

import {
  formatTable,
  parseH2loadLog,
  parseH2loadSummary,
  parseWrk,
  percentile,
  type WrkResult,
} from "./parse.ts";
import {
  isSkipped,
  type Skipped,
  startHaproxy,
  startMesh,
  startNginx,
  startUpstream,
  type Target,
} from "./peers.ts";
import { cpuTicks, memoryKb, runTool, stop, which } from "./procs.ts";

/** Options shared by every benchmark section. */
export interface BenchOptions {
  /** Short runs for smoke testing. */
  quick: boolean;
  /** Measured seconds per closed-loop and open-loop run. */
  durationS: number;
  /** Seconds of the soak run; 0 skips it. */
  soakS: number;
  /** mesh pass-through entry script. */
  meshEntry: string;
}

const SIZES = [16, 1024, 64 * 1024];
const OPEN_LOOP_RATE = 1000;
const OPEN_LOOP_CONNS = [4, 16];
const CLK_TCK = 100;

function progress(msg: string): void {
  console.error(`  .. ${msg}`);
}

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

function mib(kb: number): string {
  return Number.isFinite(kb) ? (kb / 1024).toFixed(1) : "-";
}

/** Fails fast when a target does not answer a request with the expected body. */
async function checkTarget(t: Target, size: number): Promise<void> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const res = await fetch(`http://127.0.0.1:${t.port}/bench`, { signal: ctl.signal });
    const body = await res.arrayBuffer();
    if (res.status !== 200 || body.byteLength !== size) {
      throw new Error(`answered ${res.status} with ${body.byteLength} bytes, expected 200/${size}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

async function startPeers(
  upstreamPort: number,
  opts: BenchOptions & { tmpDir: string; size: number },
): Promise<{ targets: Target[]; skipped: Skipped[] }> {
  const targets: Target[] = [];
  const skipped: Skipped[] = [];
  const starts = [
    () => startNginx(upstreamPort, opts.tmpDir),
    () => startHaproxy(upstreamPort, opts.tmpDir),
    () => startMesh(upstreamPort, { entry: opts.meshEntry }),
  ];
  for (const start of starts) {
    const t = await start();
    if (isSkipped(t)) {
      skipped.push(t);
      continue;
    }
    try {
      await checkTarget(t, opts.size);
      targets.push(t);
    } catch (err) {
      skipped.push({ name: t.name, reason: `sanity request failed: ${(err as Error).message}` });
      if (t.server) await stop(t.server.child);
    }
  }
  return { targets, skipped };
}

async function stopTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(targets.map((t) => t.server ? stop(t.server.child) : Promise.resolve()));
}

interface ClosedRow {
  target: string;
  wrk: WrkResult;
  cpuPct: number;
  peakKb: number;
}

async function wrk(port: number, seconds: number, latency: boolean): Promise<WrkResult> {
  const cmd = ["wrk", "-t2", "-c32", `-d${seconds}s`, "--timeout", "5s"];
  if (latency) cmd.push("--latency");
  cmd.push(`http://127.0.0.1:${port}/bench`);
  const out = await runTool(cmd, (seconds + 20) * 1000);
  if (out.code !== 0) throw new Error(`wrk exited ${out.code}: ${out.stderr || out.stdout}`);
  return parseWrk(out.stdout);
}

async function closedLoopRun(t: Target, opts: BenchOptions): Promise<ClosedRow> {
  const warm = opts.quick ? 1 : 2;
  progress(`wrk ${t.name}: ${warm}s warm-up + ${opts.durationS}s`);
  await wrk(t.port, warm, false);
  const pids = t.proxyPids();
  const before = cpuTicks(pids);
  const start = performance.now();
  const result = await wrk(t.port, opts.durationS, true);
  const seconds = (performance.now() - start) / 1000;
  const cpuPct = pids.length === 0 ? NaN : ((cpuTicks(pids) - before) / CLK_TCK / seconds) * 100;
  return { target: t.name, wrk: result, cpuPct, peakKb: memoryKb(t.proxyPids(), "VmHWM") };
}

function closedTable(rows: readonly ClosedRow[]): string {
  const out = [["target", "req/s", "p50 ms", "p99 ms", "errors", "proxy CPU %", "peak RSS MiB"]];
  for (const r of rows) {
    out.push([
      r.target,
      r.wrk.requestsPerSec.toFixed(0),
      fmt(r.wrk.percentiles[50] ?? NaN, 3),
      fmt(r.wrk.percentiles[99] ?? NaN, 3),
      String(r.wrk.errors),
      fmt(r.cpuPct, 0),
      mib(r.peakKb),
    ]);
  }
  return formatTable(out);
}

function ratioRow(size: number, rows: readonly ClosedRow[]): string[] {
  const get = (name: string) => rows.find((r) => r.target === name);
  const mesh = get("mesh");
  const cells = [sizeLabel(size)];
  for (const peer of ["nginx", "haproxy"]) {
    const p = get(peer);
    if (!mesh || !p) {
      cells.push("-", "-");
      continue;
    }
    cells.push(
      fmt(mesh.wrk.requestsPerSec / p.wrk.requestsPerSec),
      fmt((mesh.wrk.percentiles[99] ?? NaN) / (p.wrk.percentiles[99] ?? NaN)),
    );
  }
  return cells;
}

function printSkipped(skipped: readonly Skipped[]): void {
  for (const s of skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
}

async function closedLoop(opts: BenchOptions & { tmpDir: string }): Promise<void> {
  console.log(
    `\n## Closed loop: wrk -t2 -c32, ${opts.durationS}s per run after a warm-up, ` +
      `targets interleaved per body size`,
  );
  const ratios: string[][] = [[
    "body",
    "mesh/nginx req/s",
    "mesh/nginx p99",
    "mesh/haproxy req/s",
    "mesh/haproxy p99",
  ]];
  for (const size of SIZES) {
    const upstream = await startUpstream(size);
    let targets: Target[] = [];
    try {
      const peers = await startPeers(upstream.port, { ...opts, size });
      targets = peers.targets;
      const rows: ClosedRow[] = [];
      for (const t of [upstream, ...targets]) rows.push(await closedLoopRun(t, opts));
      console.log(`\n### body ${sizeLabel(size)}\n`);
      console.log(closedTable(rows));
      printSkipped(peers.skipped);
      ratios.push(ratioRow(size, rows));
    } finally {
      await stopTargets(targets);
      await stop(upstream.server!.child);
    }
  }
  console.log("\n### mesh relative to peers (req/s: higher is better; p99: lower is better)\n");
  console.log(formatTable(ratios));
}

async function cores(opts: BenchOptions): Promise<void> {
  console.log(
    `\n## Cores: mesh pass-through with --workers 1 and 2, 1 KiB body, wrk -t2 -c32, ` +
      `${opts.durationS}s (wrk shares the same ${navigator.hardwareConcurrency} cores)\n`,
  );
  const upstream = await startUpstream(1024);
  const rows: ClosedRow[] = [];
  const skipped: Skipped[] = [];
  try {
    for (const workers of [1, 2]) {
      const t = await startMesh(upstream.port, {
        entry: opts.meshEntry,
        workers,
        name: `mesh --workers ${workers}`,
      });
      if (isSkipped(t)) {
        skipped.push(t);
        continue;
      }
      try {
        await checkTarget(t, 1024);
        rows.push(await closedLoopRun(t, opts));
      } catch (err) {
        skipped.push({ name: t.name, reason: (err as Error).message });
      } finally {
        await stopTargets([t]);
      }
    }
  } finally {
    await stop(upstream.server!.child);
  }
  if (rows.length > 0) console.log(closedTable(rows));
  printSkipped(skipped);
}

interface OpenRow {
  target: string;
  conns: number;
  rate: number;
  failed: number;
  sortedUs: number[];
  /** Requests slower than the per-connection send interval (possible coordinated omission). */
  late: number;
}

interface RssTrace {
  idleKb: number;
  samples: number[];
  afterKb: number;
}

async function h2loadRun(
  t: Target,
  conns: number,
  opts: BenchOptions & { tmpDir: string; durationS: number; rss?: RssTrace },
): Promise<OpenRow> {
  const logFile = `${opts.tmpDir}/h2load-${t.name}-${conns}.log`;
  const warm = opts.quick ? 0.5 : 1;
  const perClient = OPEN_LOOP_RATE / conns;
  progress(`h2load ${t.name}: ${conns} conns, ${warm}s warm-up + ${opts.durationS}s`);
  const cmd = [
    "h2load",
    "--h1",
    "-t1",
    `-c${conns}`,
    `--rps=${perClient}`,
    `--duration=${opts.durationS}`,
    `--warm-up-time=${warm * 1000}ms`,
    `--log-file=${logFile}`,
    `http://127.0.0.1:${t.port}/bench`,
  ];
  const pids = t.proxyPids();
  let sampler: ReturnType<typeof setInterval> | undefined;
  if (opts.rss && pids.length > 0) {
    const rss = opts.rss;
    sampler = setInterval(() => {
      const kb = memoryKb(pids, "VmRSS");
      if (Number.isFinite(kb)) rss.samples.push(kb);
    }, 200);
  }
  try {
    const out = await runTool(cmd, (opts.durationS + warm + 20) * 1000);
    if (out.code !== 0) throw new Error(`h2load exited ${out.code}: ${out.stderr || out.stdout}`);
    const summary = parseH2loadSummary(out.stdout);
    const rows = parseH2loadLog(await Deno.readTextFile(logFile));
    const ok = rows.filter((r) => r.status >= 200 && r.status < 300);
    const sortedUs = ok.map((r) => r.durationUs).sort((a, b) => a - b);
    const intervalUs = 1e6 / perClient;
    return {
      target: t.name,
      conns,
      rate: summary.requestsPerSec,
      failed: summary.failed + (rows.length - ok.length),
      sortedUs,
      late: sortedUs.filter((us) => us > intervalUs).length,
    };
  } finally {
    clearInterval(sampler);
    await Deno.remove(logFile).catch(() => {});
  }
}

function openTable(rows: readonly OpenRow[]): string {
  const out = [[
    "target",
    "conns",
    "req/s",
    "failed",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "+p50 ms",
    "+p90 ms",
    "+p99 ms",
    "late",
  ]];
  for (const r of rows) {
    const direct = rows.find((d) => d.conns === r.conns && d.target === "direct");
    const pct = (p: number) => percentile(r.sortedUs, p) / 1000;
    const added = (p: number) =>
      direct && r !== direct ? fmt(pct(p) - percentile(direct.sortedUs, p) / 1000, 3) : "";
    out.push([
      r.target,
      String(r.conns),
      r.rate.toFixed(0),
      String(r.failed),
      fmt(pct(50), 3),
      fmt(pct(90), 3),
      fmt(pct(99), 3),
      fmt(pct(100), 3),
      added(50),
      added(90),
      added(99),
      String(r.late),
    ]);
  }
  return formatTable(out);
}

async function openLoop(opts: BenchOptions & { tmpDir: string }): Promise<void> {
  console.log(
    `\n## Open loop: h2load --h1 at ${OPEN_LOOP_RATE} req/s total, 1 KiB body, ` +
      `${opts.durationS}s per run, targets interleaved\n`,
  );
  if (!which("h2load")) {
    console.log("  skipped: h2load is not installed (package nghttp2-client)");
    return;
  }
  const upstream = await startUpstream(1024);
  let targets: Target[] = [];
  try {
    const peers = await startPeers(upstream.port, { ...opts, size: 1024 });
    targets = peers.targets;
    const traces = new Map<string, RssTrace>();
    for (const t of targets) {
      traces.set(t.name, { idleKb: memoryKb(t.proxyPids(), "VmRSS"), samples: [], afterKb: NaN });
    }
    const rows: OpenRow[] = [];
    for (const conns of OPEN_LOOP_CONNS) {
      for (const t of [upstream, ...targets]) {
        rows.push(await h2loadRun(t, conns, { ...opts, rss: traces.get(t.name) }));
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const t of targets) traces.get(t.name)!.afterKb = memoryKb(t.proxyPids(), "VmRSS");
    console.log(openTable(rows));
    for (const r of rows.filter((r) => r.rate < OPEN_LOOP_RATE * 0.95)) {
      console.log(
        `  WARNING: ${r.target} with ${r.conns} connections reached only ${r.rate.toFixed(0)} ` +
          `req/s of ${OPEN_LOOP_RATE} (connections closed early or the proxy saturated)`,
      );
    }
    console.log(
      "\n  +pNN: latency added over the direct path at the same percentile. Latency is measured\n" +
        "  by h2load from the actual send, not the scheduled one; 'late' counts responses slower\n" +
        "  than one connection's send interval, the only case where coordinated omission could\n" +
        "  hide queueing (0 means it did not). h2load's clients fire in step, so N connections\n" +
        "  send bursts of N requests. h2load runs on the same cores as the proxies.",
    );
    printSkipped(peers.skipped);
    console.log(
      "\n### Leak check: proxy RSS (MiB) during the open-loop runs, sampled every 200 ms\n",
    );
    const mem = [["proxy", "idle before", "start", "peak", "end", "1 s after"]];
    for (const [name, tr] of traces) {
      mem.push([
        name,
        mib(tr.idleKb),
        mib(tr.samples[0] ?? NaN),
        mib(Math.max(...tr.samples)),
        mib(tr.samples.at(-1) ?? NaN),
        mib(tr.afterKb),
      ]);
    }
    console.log(formatTable(mem));
  } finally {
    await stopTargets(targets);
    await stop(upstream.server!.child);
  }
}

async function soak(opts: BenchOptions & { tmpDir: string }): Promise<void> {
  console.log(
    `\n## Soak: mesh alone at ${OPEN_LOOP_RATE} req/s over 16 connections for ${opts.soakS}s, ` +
      `RSS sampled every 200 ms\n`,
  );
  const upstream = await startUpstream(1024);
  let mesh: Target | Skipped | undefined;
  try {
    mesh = await startMesh(upstream.port, { entry: opts.meshEntry });
    if (isSkipped(mesh)) {
      console.log(`  skipped mesh: ${mesh.reason}`);
      return;
    }
    const rss: RssTrace = {
      idleKb: memoryKb(mesh.proxyPids(), "VmRSS"),
      samples: [],
      afterKb: NaN,
    };
    const row = await h2loadRun(mesh, 16, { ...opts, durationS: opts.soakS, rss });
    rss.afterKb = memoryKb(mesh.proxyPids(), "VmRSS");
    const n = rss.samples.length;
    const marks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
      rss.samples[Math.min(n - 1, Math.floor(f * n))]
    );
    console.log(
      formatTable([
        ["", "idle", "0 %", "25 %", "50 %", "75 %", "100 %", "peak", "p99 ms", "failed"],
        [
          "RSS MiB",
          mib(rss.idleKb),
          ...marks.map(mib),
          mib(Math.max(...rss.samples)),
          fmt(percentile(row.sortedUs, 99) / 1000, 3),
          String(row.failed),
        ],
      ]),
    );
  } finally {
    if (mesh && !isSkipped(mesh)) await stopTargets([mesh]);
    await stop(upstream.server!.child);
  }
}

/** Runs the proxy section (closed loop, cores, open loop with leak check, optional soak). */
export async function runProxyBench(opts: BenchOptions): Promise<void> {
  if (!which("wrk")) {
    console.log("  skipped: wrk is not installed (see the install command)");
    return;
  }
  const tmpDir = await Deno.makeTempDir({ prefix: "mesh-bench-" });
  try {
    console.log(`mesh entry: ${opts.meshEntry}`);
    await closedLoop({ ...opts, tmpDir });
    await cores(opts);
    await openLoop({ ...opts, tmpDir });
    if (opts.soakS > 0) await soak({ ...opts, tmpDir });
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}
