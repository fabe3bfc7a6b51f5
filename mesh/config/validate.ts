/**
 * Validation of Istio resources: envelope (apiVersion, kind, metadata), the
 * kind's `spec` schema, and warnings — every finding with file, line, column,
 * document and field path.
 *
 * Positions are resolved only for findings, never for valid nodes, so a
 * large valid stream costs one YAML parse plus one schema pass.
 *
 * @module
 */

import type { z } from "zod";
import { KINDS, specSchemas } from "./schema/mod.ts";
import {
  type Diagnostic,
  documentLabel,
  formatPath,
  type Severity,
  sortDiagnostics,
} from "./diagnostics.ts";
import { parseSource, type SourceDocument } from "./source.ts";
import { suggestField, suggestValue } from "./suggest.ts";
import type { KindName, ObjectMeta, Resource } from "./types.ts";
import { resourceWarnings } from "./warnings.ts";

/** What a validation run found. */
export interface ValidationResult {
  /** Resources without errors (validated, not normalized), in source order. */
  resources: Resource[];
  /** Errors and warnings, in file order and position order within a file. */
  diagnostics: Diagnostic[];
}

/** Options of {@link validateSource} and {@link validatePaths}. */
export interface ValidateOptions {
  /** DNS domain of the mesh (default `cluster.local`); reserved for host checks. */
  domain?: string;
}

/** The schemas a run uses; {@link validateSource} uses the real ones. */
export interface SchemaRegistry {
  kinds: Readonly<Record<string, { group: string; versions: readonly string[] }>>;
  specSchemas: Readonly<Record<string, z.ZodType>>;
}

const REAL_REGISTRY: SchemaRegistry = { kinds: KINDS, specSchemas };

/** Top-level fields of a resource document. */
const ENVELOPE_FIELDS = ["apiVersion", "kind", "metadata", "spec", "status"];

/** Kubernetes ObjectMeta fields accepted (and, except name/namespace/labels/annotations, ignored). */
const METADATA_FIELDS = [
  "name",
  "namespace",
  "labels",
  "annotations",
  "resourceVersion",
  "generation",
  "uid",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "generateName",
  "ownerReferences",
  "finalizers",
  "selfLink",
];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Validates the text of one file (YAML stream, `kind: List`, or JSON).
 * Returns the resources without errors and every diagnostic of the file.
 */
export function validateSource(
  text: string,
  file: string,
  options: ValidateOptions = {},
): ValidationResult {
  return validateWith(REAL_REGISTRY, text, file, options);
}

/**
 * As {@link validateSource} with an explicit schema registry (tests use this
 * to exercise the envelope and issue mapping with a small registry).
 */
export function validateWith(
  registry: SchemaRegistry,
  text: string,
  file: string,
  _options: ValidateOptions = {},
): ValidationResult {
  const parsed = parseSource(text, file);
  const diagnostics = parsed.diagnostics;
  const resources: Resource[] = [];
  for (const doc of parsed.documents) {
    const resource = validateDocument(registry, doc, diagnostics);
    if (resource) resources.push(resource);
  }
  return { resources, diagnostics: sortDiagnostics(diagnostics) };
}

/**
 * Validates files and directories (recursively: `*.yaml`, `*.yml`,
 * `*.json`, sorted by name); `-` reads standard input through
 * `options.readStdin`. A path that cannot be read is an error diagnostic.
 */
export async function validatePaths(
  paths: readonly string[],
  options: ValidateOptions & { readStdin?: () => Promise<string> } = {},
): Promise<ValidationResult & { files: number }> {
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  let files = 0;
  for (const path of paths) {
    if (path === "-") {
      if (!options.readStdin) {
        diagnostics.push(fileError("-", "reading standard input is not available here"));
        continue;
      }
      const text = await options.readStdin();
      files++;
      const result = validateSource(text, "<stdin>", options);
      resources.push(...result.resources);
      diagnostics.push(...result.diagnostics);
      continue;
    }
    let listed: string[];
    try {
      listed = await listConfigFiles(path);
    } catch (error) {
      diagnostics.push(fileError(path, describeFsError(error, path)));
      continue;
    }
    for (const file of listed) {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (error) {
        diagnostics.push(fileError(file, describeFsError(error, file)));
        continue;
      }
      files++;
      const result = validateSource(text, file, options);
      resources.push(...result.resources);
      diagnostics.push(...result.diagnostics);
    }
  }
  return { resources, diagnostics, files };
}

/** A path's configuration files: the file itself, or a directory's YAML/JSON files recursively. */
async function listConfigFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return [path];
  const out: string[] = [];
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(path)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const base = path.endsWith("/") ? path : path + "/";
  for (const entry of entries) {
    const child = base + entry.name;
    if (entry.isDirectory) out.push(...await listConfigFiles(child));
    else if (/\.(ya?ml|json)$/i.test(entry.name)) out.push(child);
  }
  return out;
}

function describeFsError(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotFound) {
    return "no such file or directory; check the path given to -f";
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return `permission denied reading ${path}`;
  }
  return `cannot read: ${error instanceof Error ? error.message : String(error)}`;
}

function fileError(file: string, message: string): Diagnostic {
  return { severity: "error", file, line: 0, column: 0, document: "", path: "", message };
}

/** Collects diagnostics for one document; returns its resource when it has no error. */
class DocumentReport {
  errors = 0;
  label: string;
  constructor(
    readonly doc: SourceDocument,
    readonly out: Diagnostic[],
  ) {
    this.label = doc.label;
  }

  add(severity: Severity, path: readonly PropertyKey[], message: string, atKey = false): void {
    const at = this.doc.locate(path, atKey);
    if (severity === "error") this.errors++;
    this.out.push({
      severity,
      file: this.doc.file,
      line: at.line,
      column: at.column,
      document: this.label,
      path: formatPath(path),
      message,
    });
  }
}

function validateDocument(
  registry: SchemaRegistry,
  doc: SourceDocument,
  out: Diagnostic[],
): Resource | undefined {
  const report = new DocumentReport(doc, out);
  const value = doc.value;
  if (!isRecord(value)) {
    report.add(
      "error",
      [],
      `expected a resource (a mapping with apiVersion, kind, metadata and spec), got ${
        describe(value)
      }`,
    );
    return undefined;
  }
  const metadata = isRecord(value.metadata) ? value.metadata : undefined;
  const namespace = metadata && typeof metadata.namespace === "string" && metadata.namespace
    ? metadata.namespace
    : "default";
  report.label = documentLabel(value.kind, namespace, metadata?.name, doc.label);

  for (const key of Object.keys(value)) {
    if (ENVELOPE_FIELDS.includes(key)) continue;
    const advice = suggestField(key, ENVELOPE_FIELDS, {});
    report.add("error", [key], joinAdvice("unknown field", advice), true);
  }

  const kind = checkKind(registry, value, report);
  const meta = checkMetadata(value.metadata, report);

  let spec: unknown = value.spec;
  if (spec === undefined || spec === null) spec = {};
  if (kind && !isRecord(spec)) {
    report.add("error", ["spec"], `expected a mapping, got ${describe(spec)}`);
  } else if (kind) {
    const result = registry.specSchemas[kind].safeParse(spec);
    if (!result.success) {
      for (const issue of withoutFollowOns(result.error.issues as Issue[])) {
        reportIssue(issue, ["spec"], spec, kind, report);
      }
    } else if (report.errors === 0 && meta) {
      const resource: Resource = {
        apiVersion: value.apiVersion as string,
        kind,
        metadata: meta,
        spec: result.data as Resource["spec"],
      };
      for (const w of resourceWarnings(resource)) {
        report.add("warning", w.path, w.message, w.atKey ?? false);
      }
      return resource;
    }
  }
  return undefined;
}

function checkKind(
  registry: SchemaRegistry,
  value: Record<string, unknown>,
  report: DocumentReport,
): KindName | undefined {
  const supported = describeKinds(registry);
  const kind = value.kind;
  if (kind === undefined || kind === null) {
    report.add("error", ["kind"], `missing field kind; supported kinds: ${supported}`, true);
    return undefined;
  }
  if (typeof kind !== "string") {
    report.add("error", ["kind"], `expected a string, got ${describe(kind)}`);
    return undefined;
  }
  const entry = registry.kinds[kind];
  if (!entry) {
    const advice = suggestValue(kind, Object.keys(registry.kinds));
    const apiVersion = typeof value.apiVersion === "string" ? value.apiVersion : "";
    const foreign = apiVersion !== "" && !apiVersion.includes("istio.io/")
      ? ` (${apiVersion} is not an Istio API; mesh reads Istio resources only)`
      : "";
    report.add(
      "error",
      ["kind"],
      `unsupported kind ${JSON.stringify(kind)}${foreign}${advice ? `; ${advice}` : ""}; ` +
        `supported kinds: ${supported}`,
    );
    return undefined;
  }
  const allowed = entry.versions.map((v) => `${entry.group}/${v}`);
  const apiVersion = value.apiVersion;
  if (apiVersion === undefined || apiVersion === null) {
    report.add(
      "error",
      ["apiVersion"],
      `missing field apiVersion; ${kind} takes ${allowed.join(", ")}`,
      true,
    );
    return undefined;
  }
  if (typeof apiVersion !== "string" || !allowed.includes(apiVersion)) {
    report.add(
      "error",
      ["apiVersion"],
      `${kind} does not exist in apiVersion ${JSON.stringify(apiVersion)}; use one of ${
        allowed.join(", ")
      }`,
    );
    return undefined;
  }
  return kind as KindName;
}

/**
 * The supported kinds grouped by API group: `VirtualService, … (networking.istio.io/v1alpha3,
 * v1beta1, v1); PeerAuthentication, … (security.istio.io/v1beta1, v1)`.
 */
function describeKinds(registry: SchemaRegistry): string {
  const groups = new Map<string, string[]>();
  for (const [kind, entry] of Object.entries(registry.kinds)) {
    const versions = `${entry.group}/${entry.versions.join(", ")}`;
    const list = groups.get(versions) ?? [];
    list.push(kind);
    groups.set(versions, list);
  }
  return [...groups].map(([versions, kinds]) => `${kinds.join(", ")} (${versions})`).join("; ");
}

function checkMetadata(raw: unknown, report: DocumentReport): ObjectMeta | undefined {
  if (raw === undefined || raw === null) {
    report.add(
      "error",
      ["metadata"],
      "missing field metadata; every resource needs metadata.name",
      true,
    );
    return undefined;
  }
  if (!isRecord(raw)) {
    report.add("error", ["metadata"], `expected a mapping, got ${describe(raw)}`);
    return undefined;
  }
  const before = report.errors;
  for (const key of Object.keys(raw)) {
    if (METADATA_FIELDS.includes(key)) continue;
    report.add(
      "error",
      ["metadata", key],
      joinAdvice("unknown field", suggestField(key, METADATA_FIELDS, { parentPath: "metadata" })),
      true,
    );
  }
  const name = raw.name;
  if (name === undefined || name === null) {
    report.add("error", ["metadata", "name"], "missing field name; give the resource a name", true);
  } else if (typeof name !== "string") {
    report.add("error", ["metadata", "name"], `expected a string, got ${describe(name)}`);
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    report.add(
      "error",
      ["metadata", "name"],
      `${JSON.stringify(name)} is not a valid DNS-1123 name; use lower-case letters, digits, ` +
        "'-' and '.', starting and ending with a letter or digit (at most 253 characters)",
    );
  }
  const namespace = raw.namespace;
  if (namespace !== undefined && namespace !== null) {
    if (typeof namespace !== "string") {
      report.add(
        "error",
        ["metadata", "namespace"],
        `expected a string, got ${describe(namespace)}`,
      );
    } else if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
      report.add(
        "error",
        ["metadata", "namespace"],
        `${JSON.stringify(namespace)} is not a valid namespace; use a DNS-1123 label: lower-case ` +
          "letters, digits and '-', starting and ending with a letter or digit (at most 63 characters)",
      );
    }
  }
  checkStringMap(raw.labels, ["metadata", "labels"], report);
  checkStringMap(raw.annotations, ["metadata", "annotations"], report);
  if (report.errors > before) return undefined;

  const meta: ObjectMeta = {
    name: name as string,
    namespace: typeof namespace === "string" ? namespace : "default",
  };
  if (isRecord(raw.labels)) meta.labels = { ...(raw.labels as Record<string, string>) };
  if (isRecord(raw.annotations)) {
    meta.annotations = { ...(raw.annotations as Record<string, string>) };
  }
  for (const key of METADATA_FIELDS) {
    if (key in meta || raw[key] === undefined || raw[key] === null) continue;
    (meta as unknown as Record<string, unknown>)[key] = raw[key];
  }
  return meta;
}

function checkStringMap(raw: unknown, path: PropertyKey[], report: DocumentReport): void {
  if (raw === undefined || raw === null) return;
  if (!isRecord(raw)) {
    report.add("error", path, `expected a mapping of strings, got ${describe(raw)}`);
    return;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") {
      report.add(
        "error",
        [...path, key],
        `expected a string, got ${describe(value)}; quote the value (${key}: "${String(value)}")`,
      );
    }
  }
}

/** The zod issue fields this module reads (zod 4's issue union, loosely). */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  exact?: boolean;
  format?: string;
  pattern?: string;
  divisor?: number;
  keys?: string[];
  values?: unknown[];
  errors?: Issue[][];
  issues?: Issue[];
  params?: Record<string, unknown>;
}

/**
 * Drops issues that only repeat an unknown field: an object whose only
 * content is a misspelled field is also "empty", and saying so twice hides
 * the useful message.
 */
function withoutFollowOns(issues: Issue[]): Issue[] {
  const parents = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "custom" && issue.params?.mesh === "unknown_field") {
      parents.add(formatPath(issue.path.slice(0, -1)));
    }
  }
  if (parents.size === 0) return issues;
  return issues.filter((issue) =>
    !(issue.code === "custom" && issue.params?.mesh !== "unknown_field" &&
      /\bis empty\b/.test(issue.message) && parents.has(formatPath(issue.path)))
  );
}

/** Reports one zod issue, with `base` the path of the validated value in the document. */
function reportIssue(
  issue: Issue,
  base: PropertyKey[],
  root: unknown,
  kind: string,
  report: DocumentReport,
): void {
  const path = [...base, ...issue.path];
  const value = valueAt(root, issue.path);
  switch (issue.code) {
    case "custom": {
      if (issue.params?.mesh === "unknown_field") {
        const field = String(issue.path.at(-1));
        const known = Array.isArray(issue.params.known) ? issue.params.known as string[] : [];
        const advice = suggestField(field, known, {
          kind,
          parentPath: formatPath(path.slice(0, -1)),
        });
        report.add("error", path, joinAdvice("unknown field", advice), true);
        return;
      }
      report.add("error", path, issue.message);
      return;
    }
    case "unrecognized_keys": {
      for (const key of issue.keys ?? []) {
        report.add("error", [...path, key], "unknown field", true);
      }
      return;
    }
    case "invalid_union": {
      const best = bestUnionBranch(issue, value);
      if (best) {
        for (const sub of best) {
          reportIssue({ ...sub, path: [...issue.path, ...sub.path] }, base, root, kind, report);
        }
        return;
      }
      report.add(
        "error",
        path,
        issue.message && !/^Invalid input/.test(issue.message)
          ? issue.message
          : `${describe(value)} is not accepted here`,
      );
      return;
    }
    case "invalid_key":
    case "invalid_element": {
      for (const sub of issue.issues ?? []) {
        reportIssue({ ...sub, path: [...issue.path, ...sub.path] }, base, root, kind, report);
      }
      return;
    }
    default:
      report.add("error", path, friendlyMessage(issue, value, path));
  }
}

/**
 * Chooses the union branch whose failures go deepest into the value (the
 * branch the user evidently meant), or none when every branch failed at the
 * value itself.
 */
function bestUnionBranch(issue: Issue, _value: unknown): Issue[] | undefined {
  const branches = issue.errors ?? [];
  let best: Issue[] | undefined;
  let bestScore = -1;
  for (const branch of branches) {
    if (branch.length === 0) continue;
    const shallow = branch.some((i) => i.path.length === 0 && i.code === "invalid_type");
    if (shallow) continue;
    const depth = Math.max(...branch.map((i) => i.path.length));
    const score = depth * 1000 - branch.length;
    if (score > bestScore) {
      bestScore = score;
      best = branch;
    }
  }
  return best;
}

/** zod's generic messages, rewritten into what is wrong and what to do. */
function friendlyMessage(issue: Issue, value: unknown, path: PropertyKey[]): string {
  switch (issue.code) {
    case "invalid_type": {
      if (!isGenericMessage(issue.message)) return issue.message;
      if (value === undefined) {
        return `missing required field ${String(path.at(-1))}`;
      }
      return `expected ${describeExpected(issue.expected ?? "")}, got ${describe(value)}`;
    }
    case "invalid_value": {
      const values = (issue.values ?? []).map((v) => String(v));
      if (!isGenericMessage(issue.message)) {
        const advice = typeof value === "string" ? suggestValue(value, values) : "";
        return advice && !issue.message.includes("did you mean")
          ? `${issue.message}; ${advice}`
          : issue.message;
      }
      if (values.length === 1) {
        return `expected ${JSON.stringify(issue.values![0])}, got ${describeValue(value)}`;
      }
      const advice = typeof value === "string" ? suggestValue(value, values) : "";
      return `expected one of ${values.join(", ")}, got ${describeValue(value)}` +
        (advice ? `; ${advice}` : "");
    }
    case "too_small": {
      if (!isGenericMessage(issue.message)) return issue.message;
      const min = Number(issue.minimum);
      if (issue.origin === "array") {
        return min <= 1
          ? "must not be empty; give at least one entry"
          : `needs at least ${min} entries`;
      }
      if (issue.origin === "string") {
        return min <= 1 ? "must not be empty" : `must be at least ${min} characters long`;
      }
      return `must be ${issue.inclusive === false ? "greater than" : "at least"} ${min}, got ${
        describeValue(value)
      }`;
    }
    case "too_big": {
      if (!isGenericMessage(issue.message)) return issue.message;
      const max = Number(issue.maximum);
      if (issue.origin === "array") return `has too many entries (at most ${max})`;
      if (issue.origin === "string") return `is too long (at most ${max} characters)`;
      return `must be ${issue.inclusive === false ? "less than" : "at most"} ${max}, got ${
        describeValue(value)
      }`;
    }
    case "invalid_format": {
      if (!isGenericMessage(issue.message)) return issue.message;
      return `${describeValue(value)} is not a valid ${issue.format ?? "value"}` +
        (issue.pattern ? ` (must match ${issue.pattern})` : "");
    }
    case "not_multiple_of":
      return isGenericMessage(issue.message)
        ? `must be a multiple of ${issue.divisor}, got ${describeValue(value)}`
        : issue.message;
    default:
      return issue.message;
  }
}

/** zod's built-in English messages start like these; B's own messages do not. */
function isGenericMessage(message: string): boolean {
  return /^(Invalid|Too (small|big)|Expected|Unrecognized)/.test(message);
}

function describeExpected(expected: string): string {
  switch (expected) {
    case "object":
    case "record":
      return "a mapping";
    case "array":
    case "tuple":
      return "a list";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "int":
      return "an integer";
    case "boolean":
      return "true or false";
    case "never":
      return "nothing (remove this field)";
    default:
      return expected;
  }
}

/** "a number (5)", "a list", "null": the type of a value as a user sees it in YAML. */
function describe(value: unknown): string {
  if (value === null) return "null (an empty value)";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `a string (${truncate(JSON.stringify(value))})`;
    case "number":
      return `a number (${value})`;
    case "boolean":
      return `a boolean (${value})`;
    case "object":
      return "a mapping";
    default:
      return typeof value;
  }
}

/** A value as it would be quoted in a message. */
function describeValue(value: unknown): string {
  if (typeof value === "string") return truncate(JSON.stringify(value));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return describe(value);
}

function truncate(text: string): string {
  return text.length > 60 ? text.slice(0, 57) + '..."' : text;
}

function joinAdvice(what: string, advice: string): string {
  return advice ? `${what}; ${advice}` : what;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment as string];
  }
  return node;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
