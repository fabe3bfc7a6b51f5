/**
 * RE2 patterns (what Istio configuration holds) translated once, at compile time, into native
 * JavaScript regular expressions with the same meaning. Matching is a full match (Envoy's
 * `safe_regex`), so patterns are anchored as `^(?:…)$`. What has no JavaScript equivalent
 * (`\C`, the ungreedy flag `U`, negated POSIX classes, a mid-group flag change followed by `|`)
 * is rejected with a {@linkcode RegexTranslationError} naming the construct.
 *
 * @module
 */

/** A pattern that cannot be expressed as a JavaScript RegExp. */
export class RegexTranslationError extends Error {
  /** Builds the error; `message` names the construct and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "RegexTranslationError";
  }
}

const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`\\{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

// Characters that must be escaped to stand for themselves in a `u`-mode pattern.
const SYNTAX = new Set("^$\\.*+?()[]{}|/".split(""));
const CLASS_SYNTAX = new Set("\\]^[-".split(""));
const RE2_SPACE = "\\t\\n\\f\\r ";

function hex(code: number): string {
  return `\\u{${code.toString(16)}}`;
}

function literal(ch: string, inClass: boolean): string {
  return (inClass ? CLASS_SYNTAX : SYNTAX).has(ch) ? `\\${ch}` : ch;
}

function unicodeClass(name: string, negated: boolean, pattern: string): string {
  const p = negated ? "P" : "p";
  let negate = negated;
  let body = name;
  if (body.startsWith("^")) {
    negate = !negate;
    body = body.slice(1);
  }
  const letter = negate ? "P" : "p";
  for (const candidate of [body, `Script=${body}`]) {
    try {
      new RegExp(`\\${letter}{${candidate}}`, "u");
      return `\\${letter}{${candidate}}`;
    } catch {
      // try the next spelling
    }
  }
  throw new RegexTranslationError(
    `regex ${JSON.stringify(pattern)}: unknown Unicode class \\${p}{${name}}`,
  );
}

/**
 * Translates one escape starting at `i` (the backslash). Returns the JS text and the index after
 * the escape.
 */
function escape(pattern: string, i: number, inClass: boolean): [string, number] {
  const c = pattern[i + 1];
  if (c === undefined) {
    throw new RegexTranslationError(
      `regex ${JSON.stringify(pattern)} ends with a lone backslash`,
    );
  }
  switch (c) {
    case "d":
    case "D":
    case "w":
    case "W":
      return [`\\${c}`, i + 2];
    case "s":
      return [inClass ? RE2_SPACE : `[${RE2_SPACE}]`, i + 2];
    case "S":
      if (inClass) return ["\\S", i + 2];
      return [`[^${RE2_SPACE}]`, i + 2];
    case "b":
    case "B":
      if (inClass) break;
      return [`\\${c}`, i + 2];
    case "A":
      if (inClass) break;
      return ["(?<![\\s\\S])", i + 2];
    case "z":
      if (inClass) break;
      return ["(?![\\s\\S])", i + 2];
    case "a":
      return ["\\x07", i + 2];
    case "f":
    case "t":
    case "n":
    case "r":
    case "v":
      return [`\\${c}`, i + 2];
    case "x": {
      if (pattern[i + 2] === "{") {
        const end = pattern.indexOf("}", i + 3);
        const digits = pattern.slice(i + 3, end);
        if (end < 0 || !/^[0-9A-Fa-f]{1,6}$/.test(digits)) break;
        return [hex(parseInt(digits, 16)), end + 1];
      }
      const digits = pattern.slice(i + 2, i + 4);
      if (!/^[0-9A-Fa-f]{2}$/.test(digits)) break;
      return [hex(parseInt(digits, 16)), i + 4];
    }
    case "p":
    case "P": {
      if (pattern[i + 2] === "{") {
        const end = pattern.indexOf("}", i + 3);
        if (end < 0) break;
        return [unicodeClass(pattern.slice(i + 3, end), c === "P", pattern), end + 1];
      }
      const name = pattern[i + 2];
      if (name === undefined) break;
      return [unicodeClass(name, c === "P", pattern), i + 3];
    }
    case "Q": {
      if (inClass) break;
      let end = pattern.indexOf("\\E", i + 2);
      if (end < 0) end = pattern.length;
      let out = "";
      for (const ch of pattern.slice(i + 2, end)) out += literal(ch, false);
      return [out, Math.min(pattern.length, end + 2)];
    }
    case "C":
      throw new RegexTranslationError(
        `regex ${JSON.stringify(pattern)} uses \\C (any byte), which has no JavaScript ` +
          `equivalent; use . instead`,
      );
    default: {
      if (/[0-7]/.test(c)) {
        const m = /^[0-7]{1,3}/.exec(pattern.slice(i + 1))!;
        if (c !== "0" && m[0].length === 1) break; // \1..\7 would be a back-reference
        return [hex(parseInt(m[0], 8)), i + 1 + m[0].length];
      }
      if (!/[A-Za-z0-9]/.test(c)) {
        const ch = String.fromCodePoint(pattern.codePointAt(i + 1)!);
        return [literal(ch, inClass), i + 1 + ch.length];
      }
    }
  }
  throw new RegexTranslationError(
    `regex ${JSON.stringify(pattern)}: escape \\${c} is not supported; write it another way`,
  );
}

/** Translates a bracket class starting at `i` (`[`); returns JS text and the index after `]`. */
function bracket(pattern: string, i: number): [string, number] {
  let j = i + 1;
  let out = "[";
  if (pattern[j] === "^") {
    out += "^";
    j++;
  }
  const first = j;
  while (j < pattern.length) {
    const ch = pattern[j];
    if (ch === "]" && j > first) return [out + "]", j + 1];
    if (ch === "[" && pattern[j + 1] === ":") {
      const end = pattern.indexOf(":]", j + 2);
      if (end > 0) {
        const name = pattern.slice(j + 2, end);
        if (name.startsWith("^")) {
          throw new RegexTranslationError(
            `regex ${JSON.stringify(pattern)}: negated POSIX class [:${name}:] is not ` +
              `supported; use a negated bracket expression instead`,
          );
        }
        const ranges = POSIX[name];
        if (ranges === undefined) {
          throw new RegexTranslationError(
            `regex ${JSON.stringify(pattern)}: unknown POSIX class [:${name}:]`,
          );
        }
        out += ranges;
        j = end + 2;
        continue;
      }
    }
    if (ch === "\\") {
      const [text, next] = escape(pattern, j, true);
      out += text;
      j = next;
      continue;
    }
    if (ch === "-") {
      // A range operator between two atoms stays; a leading or trailing dash is literal.
      const trailing = pattern[j + 1] === "]";
      out += j === first || trailing ? "\\-" : "-";
      j++;
      continue;
    }
    const cp = String.fromCodePoint(pattern.codePointAt(j)!);
    out += literal(cp, true);
    j += cp.length;
  }
  throw new RegexTranslationError(`regex ${JSON.stringify(pattern)}: missing ]`);
}

interface Group {
  /** Extra `)` to emit when the group closes (for a mid-group flag change). */
  wraps: number;
  /** Whether content precedes the current position in this group. */
  content: boolean;
}

function flagGroup(
  pattern: string,
  flags: string,
): { on: string; off: string } {
  const [on, off = ""] = flags.split("-");
  for (const f of on + off) {
    if (f === "U") {
      throw new RegexTranslationError(
        `regex ${JSON.stringify(pattern)} uses the ungreedy flag (?U), which JavaScript lacks; ` +
          `use lazy quantifiers (*?, +?) instead`,
      );
    }
    if (!"ims".includes(f)) {
      throw new RegexTranslationError(
        `regex ${JSON.stringify(pattern)}: unknown flag ${f} in (?${flags})`,
      );
    }
  }
  return { on, off };
}

/** The JS source and flags for an RE2 pattern (unanchored). */
export function translateRe2(pattern: string): { source: string; flags: string } {
  let out = "";
  let globalFlags = "";
  const stack: Group[] = [{ wraps: 0, content: false }];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    const group = stack[stack.length - 1];
    if (ch === "\\") {
      const [text, next] = escape(pattern, i, false);
      out += text;
      i = next;
      group.content = true;
      continue;
    }
    if (ch === "[") {
      const [text, next] = bracket(pattern, i);
      out += text;
      i = next;
      group.content = true;
      continue;
    }
    if (ch === "(") {
      if (pattern[i + 1] === "?") {
        const rest = pattern.slice(i + 2);
        const named = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
        if (named) {
          out += `(?<${named[1]}>`;
          i += 2 + named[0].length;
          stack.push({ wraps: 0, content: false });
          group.content = true;
          continue;
        }
        if (rest.startsWith(":")) {
          out += "(?:";
          i += 3;
          stack.push({ wraps: 0, content: false });
          group.content = true;
          continue;
        }
        const flags = /^([A-Za-z]*(?:-[A-Za-z]*)?)([:)])/.exec(rest);
        if (flags && flags[1] !== "") {
          const { on, off } = flagGroup(pattern, flags[1]);
          const mod = off ? `${on}-${off}` : on;
          i += 2 + flags[0].length;
          if (flags[2] === ":") {
            out += `(?${mod}:`;
            stack.push({ wraps: 0, content: false });
            group.content = true;
          } else if (stack.length === 1 && !group.content && off === "") {
            for (const f of on) if (!globalFlags.includes(f)) globalFlags += f;
          } else {
            // Flags hold to the end of the enclosing group: wrap the rest of it.
            out += `(?${mod}:`;
            group.wraps++;
          }
          continue;
        }
        throw new RegexTranslationError(
          `regex ${JSON.stringify(pattern)}: group syntax (?${rest.slice(0, 2)} is not RE2 ` +
            `(look-around and back-references are unsupported)`,
        );
      }
      out += "(";
      i++;
      stack.push({ wraps: 0, content: false });
      group.content = true;
      continue;
    }
    if (ch === ")") {
      if (stack.length === 1) {
        throw new RegexTranslationError(`regex ${JSON.stringify(pattern)}: unmatched )`);
      }
      out += ")".repeat(group.wraps) + ")";
      stack.pop();
      i++;
      continue;
    }
    if (ch === "|") {
      if (group.wraps > 0) {
        throw new RegexTranslationError(
          `regex ${JSON.stringify(pattern)}: a flag change such as (?i) in the middle of a ` +
            `group followed by | cannot be translated; put the flag at the start of the group`,
        );
      }
      out += "|";
      i++;
      continue;
    }
    if (ch === "{") {
      const rep = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (rep && group.content) {
        out += rep[0];
        i += rep[0].length;
        continue;
      }
      out += "\\{";
      i++;
      group.content = true;
      continue;
    }
    if (ch === "}") {
      out += "\\}";
      i++;
      group.content = true;
      continue;
    }
    if ("^$.*+?".includes(ch)) {
      out += ch;
      i++;
      group.content = true;
      continue;
    }
    const cp = String.fromCodePoint(pattern.codePointAt(i)!);
    out += literal(cp, false);
    i += cp.length;
    group.content = true;
  }
  if (stack.length > 1) {
    throw new RegexTranslationError(`regex ${JSON.stringify(pattern)}: missing )`);
  }
  out += ")".repeat(stack[0].wraps);
  return { source: out, flags: globalFlags };
}

/**
 * Compiles an RE2 pattern into a JS RegExp that must match the whole input. Throws
 * {@linkcode RegexTranslationError} when it cannot be translated.
 */
export function compileFullMatch(pattern: string): RegExp {
  const { source, flags } = translateRe2(pattern);
  try {
    return new RegExp(`^(?:${source})$`, `${flags}u`);
  } catch (error) {
    throw new RegexTranslationError(
      `regex ${JSON.stringify(pattern)} cannot be used: ${(error as Error).message}`,
    );
  }
}

/** Compiles an RE2 pattern for search/replace (global, unanchored). */
export function compileGlobal(pattern: string): RegExp {
  const { source, flags } = translateRe2(pattern);
  try {
    return new RegExp(source, `${flags}gu`);
  } catch (error) {
    throw new RegexTranslationError(
      `regex ${JSON.stringify(pattern)} cannot be used: ${(error as Error).message}`,
    );
  }
}

/** Translates an RE2 substitution (`\1` back-references, `\0` whole match) into JS `$n` form. */
export function translateReplacement(rewrite: string): string {
  let out = "";
  for (let i = 0; i < rewrite.length; i++) {
    const ch = rewrite[i];
    if (ch === "$") {
      out += "$$";
    } else if (ch === "\\" && i + 1 < rewrite.length) {
      const next = rewrite[i + 1];
      if (next >= "0" && next <= "9") {
        out += next === "0" ? "$&" : `$${next}`;
        i++;
      } else if (next === "\\") {
        out += "\\";
        i++;
      } else {
        out += ch;
      }
    } else {
      out += ch;
    }
  }
  return out;
}
