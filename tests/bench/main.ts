/**
 * `deno task bench`: runs every benchmark section and prints its tables.
 *
 * Flags: `--only NAME[,NAME]` (sections below), `--quick` (short runs, a smoke test),
 * `--duration S` (measured seconds per run, default 10), `--soak S` (add an S-second RSS soak of
 * mesh), `--mesh-entry PATH` (pass-through entry; default tests/bench/passthrough_main.ts).
 *
 * @module
 */

import { formatTable } from "./parse.ts";
import { PASSTHROUGH_SCRIPT } from "./peers.ts";
import { stopAll } from "./procs.ts";
import { type BenchOptions, runProxyBench } from "./proxy_bench.ts";

/** One benchmark section: a name for `--only` and a function printing its own tables. */
interface Section {
  name: string;
  run: (opts: BenchOptions) => Promise<void>;
}

/** Prints a section's returned figures (for sections that return rather than print them). */
function printFigures(result: Record<string, unknown>): void {
  const rows = [["figure", "value"]];
  for (const [key, value] of Object.entries(result)) {
    const text = typeof value === "number" && !Number.isInteger(value)
      ? value.toFixed(1)
      : String(value);
    rows.push([key, text]);
  }
  console.log(formatTable(rows));
}

/**
 * Runs a section that lives in another helper's module, if that module exists yet.
 * The import is dynamic so that this file works before the module is written.
 */
function optionalSection(name: string, file: string, exportName: string): Section {
  return {
    name,
    run: async () => {
      const url = new URL(file, import.meta.url);
      try {
        await Deno.stat(url);
      } catch {
        console.log(`  skipped: ${url.pathname} does not exist yet`);
        return;
      }
      const mod = await import(url.href);
      if (typeof mod[exportName] !== "function") {
        console.log(`  skipped: ${file} does not export ${exportName}()`);
        return;
      }
      const result = await mod[exportName]();
      if (result !== null && typeof result === "object") printFigures(result);
    },
  };
}

// Add a section with one line here.
const SECTIONS: Section[] = [
  { name: "proxy", run: runProxyBench },
  optionalSection("validate", "./validate_bench.ts", "runValidateBench"),
  optionalSection("control", "./control_bench.ts", "runControlBench"),
  {
    name: "pipeline",
    run: async (o) => void await (await import("./pipeline_bench.ts")).runPipelineBench(o),
  },
];

const USAGE = `usage: deno task bench [--only ${SECTIONS.map((s) => s.name).join("|")}[,...]]
                       [--quick] [--duration SECONDS] [--soak SECONDS] [--mesh-entry PATH]`;

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(1);
}

function positiveNumber(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0) {
    fail(`${flag} takes a positive number of seconds, got ${value ?? "nothing"}`);
  }
  return n;
}

function parseArgs(args: string[]): { opts: BenchOptions; only: string[] } {
  let only = SECTIONS.map((s) => s.name);
  let quick = false;
  let duration: number | undefined;
  let soakS = 0;
  let meshEntry = PASSTHROUGH_SCRIPT;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") quick = true;
    else if (a === "--only") only = (args[++i] ?? "").split(",").filter((s) => s !== "");
    else if (a === "--duration") duration = Math.round(positiveNumber(a, args[++i]));
    else if (a === "--soak") soakS = Math.max(1, Math.round(positiveNumber(a, args[++i])));
    else if (a === "--mesh-entry") meshEntry = args[++i] ?? fail("--mesh-entry takes a path");
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  const unknown = only.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (only.length === 0 || unknown.length > 0) {
    fail(`--only: unknown section ${unknown.join(", ") || "(none given)"}`);
  }
  return {
    opts: { quick, durationS: Math.max(1, duration ?? (quick ? 1 : 10)), soakS, meshEntry },
    only,
  };
}

/** The 1/5/15-minute load averages: other work on the machine skews every figure. */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const { opts, only } = parseArgs(Deno.args);
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const started = performance.now();
  console.log(
    `# mesh benchmarks ${new Date().toISOString().slice(0, 10)} ` +
      `(Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores` +
      `${opts.quick ? ", --quick" : ""}; load average ${loadAverage()})`,
  );
  let failed = false;
  try {
    for (const section of SECTIONS.filter((s) => only.includes(s.name))) {
      console.log(`\n# ${section.name}`);
      try {
        await section.run(opts);
      } catch (err) {
        failed = true;
        console.log(`  section ${section.name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await stopAll();
  }
  const total = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`\ntotal ${total} s; load average ${loadAverage()}`);
  Deno.exit(failed ? 1 : 0);
}

if (import.meta.main) await main();
