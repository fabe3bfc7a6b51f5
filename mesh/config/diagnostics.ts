/**
 * Diagnostics: what `mesh validate` (and every loader of configuration)
 * reports about a file, and how it is printed.
 *
 * One line per diagnostic, in the compiler style editors understand:
 *
 * ```
 * rules.yaml:12:7: DestinationRule default/reviews: spec.trafficPolicy.circuitBreaker: unknown field; did you mean outlierDetection or connectionPool?
 * ```
 *
 * @module
 */

/** How serious a diagnostic is: errors make the configuration unusable. */
export type Severity = "error" | "warning";

/** One finding about one place in one file. */
export interface Diagnostic {
  severity: Severity;
  /** The file as the user named it (`-` or `<stdin>` for standard input). */
  file: string;
  /** 1-based line; 0 when the position is unknown. */
  line: number;
  /** 1-based column; 0 when the position is unknown. */
  column: number;
  /**
   * Which document: `DestinationRule default/reviews`, or `document 3` while
   * kind or name are unknown; empty when the finding concerns the whole file.
   */
  document: string;
  /** Field path inside the document, e.g. `spec.http[0].route[1].weight`; may be empty. */
  path: string;
  /** What is wrong and what to do. */
  message: string;
}

/** The label of a document: `Kind namespace/name`, else `document N`. */
export function documentLabel(
  kind: unknown,
  namespace: unknown,
  name: unknown,
  fallback: string,
): string {
  if (typeof kind === "string" && kind !== "" && typeof name === "string" && name !== "") {
    const ns = typeof namespace === "string" && namespace !== "" ? namespace : "default";
    return `${kind} ${ns}/${name}`;
  }
  return fallback;
}

/** Renders a path array (`["spec", "http", 0, "route"]`) as `spec.http[0].route`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out === "" ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/**
 * Formats one diagnostic as one line (no trailing newline). Warnings start
 * with `warning: ` so they stand apart from errors in a mixed stream.
 */
export function formatDiagnostic(diagnostic: Diagnostic): string {
  const where = diagnostic.line > 0
    ? `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}`
    : diagnostic.file;
  const parts = [where];
  if (diagnostic.document) parts.push(diagnostic.document);
  if (diagnostic.path) parts.push(diagnostic.path);
  parts.push(diagnostic.message);
  const line = parts.join(": ");
  return diagnostic.severity === "warning" ? `warning: ${line}` : line;
}

/** Counts of a validation run, for {@link formatSummary}. */
export interface SummaryCounts {
  resources: number;
  files: number;
  errors: number;
  warnings: number;
}

/**
 * The closing line of `mesh validate`:
 * `21 resources in 21 files: valid (2 warnings)` or
 * `3 errors in 2 files (19 resources valid, 1 warning)`.
 */
export function formatSummary(counts: SummaryCounts): string {
  const files = plural(counts.files, "file");
  const warnings = counts.warnings > 0 ? plural(counts.warnings, "warning") : "";
  if (counts.errors === 0) {
    return `${plural(counts.resources, "resource")} in ${files}: valid` +
      (warnings ? ` (${warnings})` : "");
  }
  const extra = [`${plural(counts.resources, "resource")} valid`];
  if (warnings) extra.push(warnings);
  return `${plural(counts.errors, "error")} in ${files} (${extra.join(", ")})`;
}

/**
 * Sorts the diagnostics of ONE file in place by position, errors before
 * warnings at one place (stable otherwise, so several findings on one node
 * keep the order they were found in).
 */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.sort((a, b) =>
    a.line - b.line || a.column - b.column ||
    (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1)
  );
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
