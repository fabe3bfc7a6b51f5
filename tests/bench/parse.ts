/**
 * Pure parsers for the benchmark tools' output (wrk, h2load, /proc) and small statistics
 * helpers. No I/O here so that tests/bench/parse_test.ts can pin the formats.
 *
 * @module
 */

/** What one wrk run measured. Latencies are in milliseconds. */
export interface WrkResult {
  /** `Requests/sec:` line. */
  requestsPerSec: number;
  /** Total requests completed (`N requests in ...`). */
  requests: number;
  /** Latency percentiles from `--latency`, keyed by percent (50, 75, 90, 99). */
  percentiles: Record<number, number>;
  /** Non-2xx/3xx responses plus socket errors (connect, read, write, timeout). */
  errors: number;
}

const UNIT_TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Converts a wrk duration like `412.00us`, `3.08ms` or `1.20s` to milliseconds. */
export function wrkDurationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`wrk output: cannot read duration "${text}"`);
  return Number(m[1]) * UNIT_TO_MS[m[2]];
}

/** Parses the text wrk prints with `--latency`; throws if the summary lines are missing. */
export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const total = /(\d+) requests in /.exec(text);
  if (!rps || !total) {
    throw new Error(`wrk output has no "Requests/sec" summary:\n${text.slice(0, 500)}`);
  }
  const percentiles: Record<number, number> = {};
  const dist = text.split("Latency Distribution")[1] ?? "";
  for (const m of dist.matchAll(/^\s+(\d+)%\s+([\d.]+(?:us|ms|s|m))\s*$/gm)) {
    percentiles[Number(m[1])] = wrkDurationMs(m[2]);
  }
  let errors = 0;
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  if (non2xx) errors += Number(non2xx[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  return { requestsPerSec: Number(rps[1]), requests: Number(total[1]), percentiles, errors };
}

/** The summary h2load prints at the end of a run. */
export interface H2loadSummary {
  /** Achieved request rate (`finished in ..., N req/s`). */
  requestsPerSec: number;
  /** Requests counted in the measurement window. */
  total: number;
  /** Requests that got a response (any status). */
  succeeded: number;
  /** failed + errored + timeout. */
  failed: number;
  /** Responses with a 2xx status. */
  status2xx: number;
}

/** Parses h2load's final summary; throws if it is missing. */
export function parseH2loadSummary(text: string): H2loadSummary {
  const fin = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text);
  const req =
    /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/
      .exec(text);
  const codes = /status codes: (\d+) 2xx/.exec(text);
  if (!fin || !req || !codes) {
    throw new Error(`h2load output has no summary:\n${text.slice(-800)}`);
  }
  return {
    requestsPerSec: Number(fin[1]),
    total: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]) + Number(req[4]) + Number(req[5]),
    status2xx: Number(codes[1]),
  };
}

/** One row of h2load's `--log-file`. */
export interface H2loadLogRow {
  /** When the request was sent, microseconds since the epoch. */
  startUs: number;
  /** HTTP status; -1 for a failed stream. */
  status: number;
  /** Microseconds from send to the end of the response. */
  durationUs: number;
}

/** Parses h2load's tab-separated `--log-file` (start µs, status, duration µs, ...). */
export function parseH2loadLog(text: string): H2loadLogRow[] {
  const rows: H2loadLogRow[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const cols = line.split("\t");
    if (cols.length < 3) throw new Error(`h2load log: expected 3 columns, got "${line}"`);
    rows.push({ startUs: Number(cols[0]), status: Number(cols[1]), durationUs: Number(cols[2]) });
  }
  return rows;
}

/** Nearest-rank percentile (`p` in 0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Reads a `kB` field such as `VmHWM` or `VmRSS` from /proc/<pid>/status text; NaN if absent. */
export function procStatusKb(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Fields of /proc/<pid>/stat the benchmark uses. */
export interface ProcStat {
  /** Parent process id. */
  ppid: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
}

/** Parses /proc/<pid>/stat (the command name may contain spaces and parentheses). */
export function parseProcStat(text: string): ProcStat {
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** Renders rows as an aligned plain-text table; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  const line = (row: readonly string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const row of rows.slice(1)) out.push(line(row));
  return out.join("\n");
}
