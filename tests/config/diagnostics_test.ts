import assert from "node:assert/strict";
import {
  type Diagnostic,
  documentLabel,
  formatDiagnostic,
  formatPath,
  formatSummary,
  sortDiagnostics,
} from "../../mesh/config/diagnostics.ts";

const base: Diagnostic = {
  severity: "error",
  file: "rules.yaml",
  line: 12,
  column: 7,
  document: "DestinationRule default/reviews",
  path: "spec.trafficPolicy.circuitBreaker",
  message: "unknown field; did you mean outlierDetection or connectionPool?",
};

Deno.test("an error prints file:line:col: document: path: message", () => {
  assert.equal(
    formatDiagnostic(base),
    "rules.yaml:12:7: DestinationRule default/reviews: spec.trafficPolicy.circuitBreaker: " +
      "unknown field; did you mean outlierDetection or connectionPool?",
  );
});

Deno.test("a warning is prefixed; empty parts and unknown positions are left out", () => {
  assert.equal(
    formatDiagnostic({ ...base, severity: "warning", path: "", message: "m" }),
    "warning: rules.yaml:12:7: DestinationRule default/reviews: m",
  );
  assert.equal(
    formatDiagnostic({ ...base, line: 0, column: 0, document: "", path: "", message: "gone" }),
    "rules.yaml: gone",
  );
});

Deno.test("paths use dots for fields and brackets for indexes and odd keys", () => {
  assert.equal(
    formatPath(["spec", "http", 0, "route", 1, "weight"]),
    "spec.http[0].route[1].weight",
  );
  assert.equal(formatPath(["spec", "portLevelMtls", "8080"]), 'spec.portLevelMtls["8080"]');
  assert.equal(formatPath(["metadata", "labels", "app"]), "metadata.labels.app");
  assert.equal(formatPath([]), "");
});

Deno.test("document labels name kind namespace/name, else the fallback", () => {
  assert.equal(documentLabel("VirtualService", "prod", "r", "document 1"), "VirtualService prod/r");
  assert.equal(
    documentLabel("VirtualService", undefined, "r", "document 1"),
    "VirtualService default/r",
  );
  assert.equal(documentLabel("VirtualService", "x", undefined, "document 4"), "document 4");
  assert.equal(documentLabel(7, "x", "n", "document 2"), "document 2");
});

Deno.test("the summary counts resources, files, errors and warnings", () => {
  assert.equal(
    formatSummary({ resources: 21, files: 21, errors: 0, warnings: 2 }),
    "21 resources in 21 files: valid (2 warnings)",
  );
  assert.equal(
    formatSummary({ resources: 1, files: 1, errors: 0, warnings: 0 }),
    "1 resource in 1 file: valid",
  );
  assert.equal(
    formatSummary({ resources: 3, files: 2, errors: 1, warnings: 1 }),
    "1 error in 2 files (3 resources valid, 1 warning)",
  );
});

Deno.test("diagnostics of a file sort by position, errors first at one place", () => {
  const sorted = sortDiagnostics([
    { ...base, line: 9, severity: "warning" },
    { ...base, line: 3 },
    { ...base, line: 9 },
  ]);
  assert.deepEqual(sorted.map((d) => [d.line, d.severity]), [[3, "error"], [9, "error"], [
    9,
    "warning",
  ]]);
});
