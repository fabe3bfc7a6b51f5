/**
 * Source loading: YAML or JSON text → documents that remember where every
 * value came from.
 *
 * A file may hold a multi-document YAML stream, and any document may be a
 * Kubernetes `kind: List` whose `items` are the real resources; both are
 * flattened here into one {@link SourceDocument} per resource. Positions are
 * not computed up front: a document keeps its YAML node tree and resolves a
 * field path to `line:column` only when a diagnostic needs one, so loading a
 * large valid stream costs no more than parsing it.
 *
 * @module
 */

import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  parseDocument,
} from "yaml";
import { fastParseDocument } from "./yaml_fast.ts";
import type { Diagnostic } from "./diagnostics.ts";

/** A 1-based source position; 0/0 when unknown. */
export interface Position {
  line: number;
  column: number;
}

/** One resource-shaped document of a file. */
export interface SourceDocument {
  /** The file as the user named it. */
  file: string;
  /** 1-based index of the document in the YAML stream (empty documents count). */
  index: number;
  /** Index inside the `items` of a `kind: List` document, when it came from one. */
  item?: number;
  /** Fallback label while kind/name are unknown: `document 3` or `document 1 items[2]`. */
  label: string;
  /** The plain JavaScript value (maps are objects, sequences arrays). */
  value: unknown;
  /**
   * Resolves a field path inside this document to a position. With
   * `key: true` the position of the last segment's KEY is returned (where an
   * unknown field is named); otherwise the position of the value. A path that
   * goes beyond what exists resolves to the deepest node that does exist.
   */
  locate(path: readonly PropertyKey[], key?: boolean): Position;
}

/** The documents of a file and the syntax problems found in it. */
export interface ParsedSource {
  documents: SourceDocument[];
  diagnostics: Diagnostic[];
}

/**
 * Parses YAML (or JSON, which is YAML) text into documents. A document with a
 * syntax error is reported and skipped; the other documents of the stream are
 * still returned, so one mistake does not hide the findings in the rest of
 * the file. Empty documents (a trailing `---`, comment-only documents) are
 * ignored.
 *
 * The stream is split at `---` lines and each document is read by the fast
 * reader of `yaml_fast.ts`; a document outside its subset, and any document
 * a position is asked for, is parsed by the `yaml` package.
 */
export function parseSource(text: string, file: string): ParsedSource {
  const out: ParsedSource = { documents: [], diagnostics: [] };
  const chunks = splitDocuments(text);
  if (!chunks) {
    addYamlDocuments(text, 0, 1, file, out);
    return out;
  }
  for (const chunk of chunks) {
    const fast = fastParseDocument(chunk.text);
    if (!fast) {
      addYamlDocuments(chunk.text, chunk.line, chunk.index, file, out);
      continue;
    }
    if (fast.value === null) continue;
    let located: ((path: readonly PropertyKey[], key: boolean) => Position) | undefined;
    const locateIn =
      (prefix: readonly PropertyKey[]) => (path: readonly PropertyKey[], key = false): Position => {
        located ??= yamlLocator(chunk.text, chunk.line);
        return located([...prefix, ...path], key);
      };
    addValue(fast.value, chunk.index, file, locateIn, out);
  }
  return out;
}

/** One document's text inside a stream. */
interface Chunk {
  text: string;
  /** 0-based line of the chunk's first line in the file. */
  line: number;
  /** 1-based document index, as the yaml package counts documents. */
  index: number;
}

const MARKER = /^---(?:[ ]+(?:#.*)?)?$/;

/**
 * Splits a stream at `---` marker lines. Returns undefined when the stream
 * uses features the split cannot mirror exactly (directives, `...`, content
 * on a marker line): the caller then parses the whole text with `yaml`.
 */
function splitDocuments(text: string): Chunk[] | undefined {
  if (/^(?:%|\.\.\.|---[^ \n\r])/m.test(text) || text.includes("\r")) return undefined;
  const lines = text.split("\n");
  const chunks: Chunk[] = [];
  let startLine = 0;
  let sawMarker = false;
  let index = 0;
  const flush = (endLine: number) => {
    const body = lines.slice(startLine, endLine).join("\n");
    // Comments and blank lines before the first marker are not a document.
    if (!sawMarker && !/^[ \t]*[^#\s]/m.test(body)) return;
    chunks.push({ text: body, line: startLine, index: ++index });
  };
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("---")) continue;
    if (!MARKER.test(lines[i])) return undefined;
    flush(i);
    sawMarker = true;
    startLine = i + 1;
  }
  if (sawMarker || startLine < lines.length) flush(lines.length);
  return chunks;
}

/** Resolves paths to positions by parsing one document with the yaml package. */
function yamlLocator(
  text: string,
  lineOffset: number,
): (path: readonly PropertyKey[], key: boolean) => Position {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const root = doc.contents as Node | null;
  const resolveAlias = (node: unknown): unknown => isAlias(node) ? node.resolve(doc) ?? node : node;
  return (path, key) => {
    const offset = root ? locateOffset(root, path, key, resolveAlias) : 0;
    const { line, col } = lineCounter.linePos(offset);
    return { line: (line === 0 ? 1 : line) + lineOffset, column: col };
  };
}

/** Parses text with the yaml package and adds its documents and syntax errors. */
function addYamlDocuments(
  text: string,
  lineOffset: number,
  firstIndex: number,
  file: string,
  out: ParsedSource,
): void {
  const lineCounter = new LineCounter();
  const positionOf = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: (line === 0 ? 1 : line) + lineOffset, column: col };
  };
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  for (let d = 0; d < docs.length; d++) {
    const doc = docs[d];
    const index = firstIndex + d;
    const label = `document ${index}`;
    for (const warning of doc.warnings) {
      const at = positionOf(warning.pos[0]);
      out.diagnostics.push({
        severity: "warning",
        file,
        line: at.line,
        column: at.column,
        document: label,
        path: "",
        message: `YAML: ${firstLine(warning.message)}`,
      });
    }
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const at = positionOf(error.pos[0]);
        out.diagnostics.push({
          severity: "error",
          file,
          line: at.line,
          column: at.column,
          document: label,
          path: "",
          message: `YAML syntax error: ${firstLine(error.message)}; ` +
            "this document is skipped until it parses",
        });
      }
      continue;
    }
    const root = doc.contents as Node | null;
    if (root === null || (isScalar(root) && root.value === null)) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (error) {
      const at = positionOf(root.range?.[0] ?? 0);
      out.diagnostics.push({
        severity: "error",
        file,
        line: at.line,
        column: at.column,
        document: label,
        path: "",
        message: `cannot read the document: ${error instanceof Error ? error.message : error}`,
      });
      continue;
    }
    const resolveAlias = (node: unknown): unknown =>
      isAlias(node) ? node.resolve(doc) ?? node : node;
    const locateIn =
      (prefix: readonly PropertyKey[]) => (path: readonly PropertyKey[], key = false): Position =>
        positionOf(locateOffset(root, [...prefix, ...path], key, resolveAlias));
    addValue(value, index, file, locateIn, out);
  }
}

/** Adds one document's value: itself, or the items of a `kind: List`. */
function addValue(
  value: unknown,
  index: number,
  file: string,
  locateIn: (prefix: readonly PropertyKey[]) => SourceDocument["locate"],
  out: ParsedSource,
): void {
  const label = `document ${index}`;
  if (!isListDocument(value)) {
    out.documents.push({ file, index, label, value, locate: locateIn([]) });
    return;
  }
  const items = (value as { items?: unknown }).items;
  if (!Array.isArray(items)) {
    const at = locateIn([])(["items"]);
    out.diagnostics.push({
      severity: "error",
      file,
      line: at.line,
      column: at.column,
      document: label,
      path: "items",
      message: "a List needs `items`, a list of resources",
    });
    return;
  }
  for (let i = 0; i < items.length; i++) {
    out.documents.push({
      file,
      index,
      item: i,
      label: `${label} items[${i}]`,
      value: items[i],
      locate: locateIn(["items", i]),
    });
  }
}

/** True for a Kubernetes `kind: List` wrapper (apiVersion `v1` or absent). */
function isListDocument(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return record.kind === "List" && (record.apiVersion === undefined || record.apiVersion === "v1");
}

/** Walks the node tree along `path` and returns a source offset. */
function locateOffset(
  root: Node,
  path: readonly PropertyKey[],
  key: boolean,
  resolveAlias: (node: unknown) => unknown,
): number {
  let node: unknown = root;
  let offset = root.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    node = resolveAlias(node);
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) =>
        isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment)
      );
      if (!pair) return offset;
      const keyNode = pair.key as Node;
      if (last && key) return keyNode.range?.[0] ?? offset;
      const valueNode = pair.value as Node | null;
      // `field:` with nothing after it has no value node; point at the key.
      if (valueNode === null || !valueNode.range) return keyNode.range?.[0] ?? offset;
      node = valueNode;
      offset = valueNode.range[0];
      continue;
    }
    if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (!item || !item.range) return offset;
      node = item;
      offset = item.range[0];
      continue;
    }
    return offset;
  }
  return offset;
}

function firstLine(message: string): string {
  const line = message.split("\n")[0].trim();
  return line.replace(/[.:]$/, "");
}
