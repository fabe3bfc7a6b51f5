/**
 * Durations in the form Istio accepts in its YAML (Go's `time.ParseDuration`
 * syntax): one or more `<number><unit>` terms, e.g. `1h2m3.5s`, `500ms`,
 * `1.5s`, `100us`. Units: `h`, `m`, `s`, `ms`, `us` (or `µs`/`μs`), `ns`.
 * A bare `0` is zero. Signs are not accepted: Istio has no negative durations.
 *
 * @module
 */

/** The accepted form, for error messages. */
export const DURATION_FORM = "a number with a unit, e.g. 500ms, 10s, 1.5s, 1m or 1h2m3.5s " +
  "(units: h, m, s, ms, us, ns)";

const NS_PER_UNIT: Record<string, number> = {
  h: 3_600_000_000_000,
  m: 60_000_000_000,
  s: 1_000_000_000,
  ms: 1_000_000,
  us: 1_000,
  "µs": 1_000,
  "μs": 1_000,
  ns: 1,
};

// One term: digits with an optional fraction (either side may be empty, not both), then a unit.
const TERM = /(\d*)(?:\.(\d*))?(h|ms|m|s|us|µs|μs|ns)/y;

/**
 * Parses a duration into milliseconds (fractional below 1 ms, e.g. `100us` → 0.1).
 * Returns `undefined` when the text is not a valid duration (including negative ones).
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return undefined;
  if (text === "0") return 0;
  // Whole nanoseconds keep sums exact (a double holds integers up to 2^53 ns ≈ 104 days
  // exactly; beyond that precision loss is far below a millisecond's relevance).
  let ns = 0;
  let pos = 0;
  while (pos < text.length) {
    TERM.lastIndex = pos;
    const m = TERM.exec(text);
    if (m === null || m.index !== pos) return undefined;
    const whole = m[1];
    const frac = m[2] ?? "";
    if (whole === "" && frac === "") return undefined;
    const unit = NS_PER_UNIT[m[3]];
    ns += (whole === "" ? 0 : Number(whole)) * unit;
    if (frac !== "") {
      // Only the digits that can matter at nanosecond precision.
      const digits = frac.slice(0, 15);
      ns += Math.round(Number(digits) * unit / 10 ** digits.length);
    }
    pos = TERM.lastIndex;
  }
  if (!Number.isFinite(ns)) return undefined;
  return ns / 1_000_000;
}

/**
 * Formats milliseconds the way Go prints a duration: `0s`, `250ms`, `1.5s`,
 * `1h2m3.5s`, `100us`. Sub-nanosecond fractions are rounded. Negative input is
 * formatted with a leading `-` (never produced by {@link parseDuration}).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const ns = Math.round(ms * 1_000_000);
  if (ns === 0) return "0s";
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${fraction(ns, 1_000)}us`;
  if (ns < 1_000_000_000) return `${fraction(ns, 1_000_000)}ms`;
  const hours = Math.floor(ns / NS_PER_UNIT.h);
  let rest = ns - hours * NS_PER_UNIT.h;
  const minutes = Math.floor(rest / NS_PER_UNIT.m);
  rest -= minutes * NS_PER_UNIT.m;
  let out = "";
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  return `${out}${fraction(rest, NS_PER_UNIT.s)}s`;
}

/** `value / unit` as a decimal string without trailing zeros, exact for integer input. */
function fraction(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const rest = value - whole * unit;
  if (rest === 0) return String(whole);
  const width = String(unit).length - 1;
  return `${whole}.${String(rest).padStart(width, "0").replace(/0+$/, "")}`;
}
