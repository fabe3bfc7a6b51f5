/**
 * A fast reader for the plain subset of YAML that Kubernetes-style
 * configuration uses: block mappings and sequences, single-line plain and
 * quoted scalars, literal block scalars (`|`), single-line flow collections
 * and comments. Values are resolved with the YAML 1.2 core schema, exactly as
 * the `yaml` package resolves them.
 *
 * Why: the `yaml` package builds a full node tree with positions and is
 * several times slower than needed for large streams (10,000 resources).
 * This reader returns `undefined` for anything outside its subset (anchors,
 * aliases, tags, folded or multi-line scalars, multi-line flow collections,
 * duplicate keys, tabs, anything odd) and the caller then uses the `yaml`
 * package for that document, so behaviour never depends on which reader ran.
 * A differential test compares both on many inputs.
 *
 * @module
 */

/** Thrown internally to abandon the fast path. */
class Bail extends Error {}
const BAIL = new Bail();

interface Line {
  indent: number;
  text: string;
  /** Index of the physical line, for block scalars. */
  raw: number;
}

/**
 * Parses one YAML document (no `---` marker lines inside). Returns `{value}`
 * (`value` is `null` for an empty document) or `undefined` when the text is
 * outside the supported subset.
 */
export function fastParseDocument(text: string): { value: unknown } | undefined {
  if (text.includes("\t") || text.includes("\r") || text.includes("\uFEFF")) return undefined;
  const rawLines = text.split("\n");
  const lines: Line[] = [];
  for (let i = 0; i < rawLines.length; i++) {
    const raw = rawLines[i];
    let indent = 0;
    while (indent < raw.length && raw.charCodeAt(indent) === 32) indent++;
    if (indent === raw.length) continue;
    const first = raw.charCodeAt(indent);
    if (first === 35 /* # */) continue;
    lines.push({ indent, text: trimEnd(raw.slice(indent)), raw: i });
  }
  if (lines.length === 0) return { value: null };
  try {
    const reader = new Reader(lines, rawLines);
    const value = reader.block(0);
    if (reader.pos !== lines.length) return undefined;
    return { value };
  } catch (error) {
    if (error instanceof Bail) return undefined;
    throw error;
  }
}

function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 32) end--;
  return end === s.length ? s : s.slice(0, end);
}

class Reader {
  pos = 0;
  constructor(readonly lines: Line[], readonly rawLines: string[]) {}

  /** A block node starting at the current line, whose indent must be ≥ `min`. */
  block(min: number): unknown {
    const line = this.lines[this.pos];
    if (!line || line.indent < min) return null;
    if (isSeqItem(line.text)) return this.seq(line.indent);
    if (findKeyEnd(line.text) >= 0) return this.map(line.indent);
    // A lone scalar (document root or nested): one line only; callers reject
    // what follows when it is more indented (a multi-line plain scalar).
    // Block scalars here have a parent indentation other than the line's; rare, so fall back.
    if (line.text[0] === "|") throw BAIL;
    this.pos++;
    return inlineValue(line.text, this, line);
  }

  map(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos];
      if (line.indent < indent) break;
      if (line.indent > indent) throw BAIL;
      if (isSeqItem(line.text)) throw BAIL;
      const colon = findKeyEnd(line.text);
      if (colon < 0) throw BAIL;
      const key = parseKey(line.text.slice(0, colon));
      if (Object.prototype.hasOwnProperty.call(out, key) || key === "__proto__") throw BAIL;
      const rest = line.text.slice(colon + 1).trimStart();
      this.pos++;
      let value: unknown;
      if (rest === "" || rest.charCodeAt(0) === 35 /* # */) {
        const next = this.lines[this.pos];
        if (next && next.indent > indent) value = this.block(next.indent);
        else if (next && next.indent === indent && isSeqItem(next.text)) value = this.seq(indent);
        else value = null;
      } else {
        value = inlineValue(rest, this, line);
        const next = this.lines[this.pos];
        if (next && next.indent > indent) throw BAIL; // multi-line plain scalar or error
      }
      out[key] = value;
    }
    return out;
  }

  seq(indent: number): unknown[] {
    const out: unknown[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos];
      if (line.indent < indent) break;
      if (line.indent > indent) throw BAIL;
      if (!isSeqItem(line.text)) break;
      let offset = 1;
      while (offset < line.text.length && line.text.charCodeAt(offset) === 32) offset++;
      const rest = line.text.slice(offset);
      if (rest === "" || rest.charCodeAt(0) === 35) {
        this.pos++;
        const next = this.lines[this.pos];
        out.push(next && next.indent > indent ? this.block(next.indent) : null);
        continue;
      }
      if (isSeqItem(rest)) throw BAIL;
      if (findKeyEnd(rest) >= 0) {
        // Compact mapping: `- key: value` continues with keys at the column of `key`.
        const saved = { indent: line.indent, text: line.text };
        line.indent = indent + offset;
        line.text = rest;
        try {
          out.push(this.map(indent + offset));
        } finally {
          line.indent = saved.indent;
          line.text = saved.text;
        }
        continue;
      }
      this.pos++;
      out.push(inlineValue(rest, this, line));
      const next = this.lines[this.pos];
      if (next && next.indent > indent) throw BAIL;
    }
    return out;
  }

  /** A literal block scalar whose header line is `line`; consumes its content lines. */
  literal(header: string, line: Line): string {
    let chomp: "clip" | "strip" = "clip";
    // `|+` (keep) and indentation indicators are rare; the yaml package handles them.
    if (header === "|-") chomp = "strip";
    else if (header !== "|") throw BAIL;
    const parentIndent = line.indent;
    // Content: the physical lines after the header that are blank or indented more.
    const start = line.raw + 1;
    let end = start;
    let contentIndent = -1;
    for (; end < this.rawLines.length; end++) {
      const raw = this.rawLines[end];
      const trimmed = raw.trimStart();
      if (trimmed === "") continue;
      const ind = raw.length - trimmed.length;
      if (contentIndent < 0) {
        if (ind <= parentIndent) break;
        contentIndent = ind;
      }
      if (ind < contentIndent) break;
    }
    // Leading blank lines longer than the content indent are an error in YAML.
    const body: string[] = [];
    for (let i = start; i < end; i++) {
      const raw = this.rawLines[i];
      if (raw.trim() === "") {
        if (contentIndent >= 0 && raw.length > contentIndent) throw BAIL;
        body.push("");
      } else {
        body.push(raw.slice(contentIndent));
      }
    }
    // Trailing blank lines belong to chomping; blank lines after the block's
    // last content line are not part of it in our line list either.
    let last = body.length;
    while (last > 0 && body[last - 1] === "") last--;
    const content = body.slice(0, last).join("\n");
    // Skip the logical lines consumed.
    while (this.pos < this.lines.length && this.lines[this.pos].raw < end) this.pos++;
    if (contentIndent < 0) return "";
    return chomp === "strip" ? content : content + "\n";
  }
}

function isSeqItem(text: string): boolean {
  return text.charCodeAt(0) === 45 /* - */ && (text.length === 1 || text.charCodeAt(1) === 32);
}

/**
 * The index of the `:` that ends a block mapping key on this line, or -1.
 * Handles quoted keys; a plain key ends at the first `: ` or a final `:`.
 */
function findKeyEnd(text: string): number {
  const c = text.charCodeAt(0);
  if (c === 34 /* " */ || c === 39 /* ' */) {
    const end = quotedEnd(text, 0);
    if (end < 0) return -1;
    let i = end;
    while (i < text.length && text.charCodeAt(i) === 32) i++;
    if (text.charCodeAt(i) !== 58) return -1;
    return i + 1 === text.length || text.charCodeAt(i + 1) === 32 ? i : -1;
  }
  if (c === 91 /* [ */ || c === 123 /* { */) return -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 58 /* : */ && (i + 1 === text.length || text.charCodeAt(i + 1) === 32)) return i;
    if (ch === 35 /* # */ && i > 0 && text.charCodeAt(i - 1) === 32) return -1;
  }
  return -1;
}

/** Index just past the closing quote of a quoted scalar starting at `start`, or -1. */
function quotedEnd(text: string, start: number): number {
  const q = text.charCodeAt(start);
  for (let i = start + 1; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (q === 34 && ch === 92 /* \ */) {
      i++;
      continue;
    }
    if (ch === q) {
      if (q === 39 && text.charCodeAt(i + 1) === 39) {
        i++;
        continue;
      }
      return i + 1;
    }
  }
  return -1;
}

const INDICATORS = new Set(["&", "*", "!", "%", "@", "`", "|", ">", "?", "[", "]", "{", "}", ","]);

function parseKey(raw: string): string {
  const key = trimEnd(raw);
  if (key === "") throw BAIL;
  const c = key[0];
  if (c === '"' || c === "'") {
    const end = quotedEnd(key, 0);
    if (end !== key.length) throw BAIL;
    return unquote(key);
  }
  if (INDICATORS.has(c) || c === "-" || c === "#" || c === ":") throw BAIL;
  const value = resolvePlain(key);
  if (typeof value === "string") return value;
  // Decimal integer keys (`8080:`) become their digits, as the yaml package does.
  if (typeof value === "number" && /^[1-9][0-9]*$|^0$/.test(key)) return key;
  throw BAIL;
}

/** The value after `key: ` or `- ` on one line (comment allowed at the end). */
function inlineValue(text: string, reader: Reader, line: Line): unknown {
  const c = text[0];
  if (c === '"' || c === "'") {
    const end = quotedEnd(text, 0);
    if (end < 0) throw BAIL; // multi-line quoted scalar
    assertOnlyComment(text, end);
    return unquote(text.slice(0, end));
  }
  if (c === "[" || c === "{") {
    const flow = new Flow(text);
    const value = flow.value();
    assertOnlyComment(text, flow.pos);
    return value;
  }
  if (c === "|") {
    const hash = text.indexOf(" #");
    const header = hash >= 0 ? trimEnd(text.slice(0, hash)) : text;
    return reader.literal(header, line);
  }
  if (INDICATORS.has(c) || (c === "-" && (text.length === 1 || text[1] === " "))) throw BAIL;
  if (c === "#") return null;
  let end = text.length;
  const hash = text.indexOf(" #");
  if (hash >= 0) end = hash;
  const plain = trimEnd(text.slice(0, end));
  if (plain.includes(": ") || plain.endsWith(":")) throw BAIL;
  return resolvePlain(plain);
}

function assertOnlyComment(text: string, from: number): void {
  let i = from;
  while (i < text.length && text.charCodeAt(i) === 32) i++;
  if (i === text.length) return;
  if (text.charCodeAt(i) === 35 && i > from) return;
  throw BAIL;
}

/** Unquotes a complete single- or double-quoted scalar. */
function unquote(token: string): string {
  const inner = token.slice(1, -1);
  if (token[0] === "'") return inner.replaceAll("''", "'");
  if (!inner.includes("\\")) return inner;
  let out = "";
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const e = inner[++i];
    switch (e) {
      case "\\":
      case '"':
      case "/":
        out += e;
        break;
      case "n":
        out += "\n";
        break;
      case "t":
        out += "\t";
        break;
      case "r":
        out += "\r";
        break;
      case "0":
        out += "\0";
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case " ":
        out += " ";
        break;
      case "x":
      case "u":
      case "U": {
        const len = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = inner.slice(i + 1, i + 1 + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw BAIL;
        out += String.fromCodePoint(parseInt(hex, 16));
        i += len;
        break;
      }
      default:
        throw BAIL;
    }
  }
  return out;
}

const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^[-+]?[0-9]+$/;
const OCT = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
/** First characters after which a plain scalar might be a non-string. */
const MAYBE_TYPED = /^[-+.~0-9nNtTfF]/;

/** Resolves a plain scalar with the YAML 1.2 core schema (as the yaml package does). */
export function resolvePlain(s: string): unknown {
  if (s === "") return null;
  if (!MAYBE_TYPED.test(s)) return s;
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === "t" || s[0] === "T";
  if (OCT.test(s)) return parseInt(s.slice(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (HEX.test(s)) return parseInt(s.slice(2), 16);
  if (FLOAT_NAN.test(s)) {
    return s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? -Infinity : Infinity;
  }
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}

/** Single-line flow collections: `[a, "b", {c: 1}]`, `{name: x, port: {number: 80}}`. */
class Flow {
  pos = 0;
  constructor(readonly text: string) {}

  value(): unknown {
    this.space();
    const c = this.text[this.pos];
    if (c === "[") return this.seq();
    if (c === "{") return this.map();
    if (c === '"' || c === "'") {
      const end = quotedEnd(this.text, this.pos);
      if (end < 0) throw BAIL;
      const v = unquote(this.text.slice(this.pos, end));
      this.pos = end;
      return v;
    }
    return resolvePlain(this.plain());
  }

  plain(): string {
    const start = this.pos;
    const c = this.text[start];
    if (
      c === undefined || INDICATORS.has(c) || c === "#" ||
      ((c === "-" || c === ":") && " ,[]{}".includes(this.text[start + 1] ?? " "))
    ) {
      throw BAIL;
    }
    let i = start;
    for (; i < this.text.length; i++) {
      const ch = this.text[i];
      if (ch === "," || ch === "]" || ch === "}" || ch === "[" || ch === "{") break;
      if (ch === ":") {
        const next = this.text[i + 1];
        if (next === undefined || next === " " || next === "," || next === "]" || next === "}") {
          break;
        }
      }
      if (ch === "#" && this.text[i - 1] === " ") throw BAIL;
    }
    this.pos = i;
    return trimEnd(this.text.slice(start, i));
  }

  seq(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.space();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      const item = this.value();
      this.space();
      if (this.text[this.pos] === ":") throw BAIL; // implicit pair in a sequence
      out.push(item);
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") throw BAIL;
      this.space();
      if (this.text[this.pos] === "]") throw BAIL; // trailing comma
    }
  }

  map(): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.space();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      const c = this.text[this.pos];
      let key: string;
      let quoted = false;
      if (c === '"' || c === "'") {
        const end = quotedEnd(this.text, this.pos);
        if (end < 0) throw BAIL;
        key = unquote(this.text.slice(this.pos, end));
        this.pos = end;
        quoted = true;
      } else if (c === "[" || c === "{") {
        throw BAIL;
      } else {
        const raw = this.plain();
        const v = resolvePlain(raw);
        if (typeof v === "string") key = v;
        else if (typeof v === "number" && /^[1-9][0-9]*$|^0$/.test(raw)) key = raw;
        else throw BAIL;
      }
      this.space();
      if (this.text[this.pos] !== ":") throw BAIL; // `{a}` or `{a, b}`: keys without values
      this.pos++;
      const after = this.text[this.pos];
      if (!quoted && after !== " " && after !== undefined) throw BAIL;
      this.space();
      let value: unknown = null;
      const next = this.text[this.pos];
      if (next !== "," && next !== "}") value = this.value();
      if (Object.prototype.hasOwnProperty.call(out, key) || key === "__proto__") throw BAIL;
      out[key] = value;
      this.space();
      const sep = this.text[this.pos++];
      if (sep === "}") return out;
      if (sep !== ",") throw BAIL;
      this.space();
      if (this.text[this.pos] === "}") throw BAIL;
    }
  }

  space(): void {
    while (this.text.charCodeAt(this.pos) === 32) this.pos++;
  }
}
