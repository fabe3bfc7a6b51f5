/**
 * Header manipulation (SEMANTICS §2.5): a route's or destination's `headers` block compiled once
 * into removals, sets and adds, applied through a small {@linkcode HeaderMap} interface the HTTP
 * engine implements. Order: every removal first, then every `set`, then every `add`; within each
 * phase route-level before destination-level, so a destination `set` wins on conflict.
 *
 * Pseudo-headers and `host` are dropped, except a request `set`/`add` of `:authority`/`host`,
 * which becomes an authority rewrite. Values are Envoy substitution strings: `%%` is a literal
 * `%`, `%NAME%` is expanded through the caller's resolver (left as is without one).
 *
 * @module
 */

import type { HeaderOperations, Headers } from "../config/mod.ts";

/** The mutable header collection of a request or response, as the HTTP engine exposes it. */
export interface HeaderMap {
  /** Value by lower-case name (several joined with `,`), undefined when absent. */
  get(name: string): string | undefined | null;
  /** Replaces every value of `name`. */
  set(name: string, value: string): void;
  /** Adds one more value of `name`. */
  append(name: string, value: string): void;
  /** Removes every value of `name`. */
  delete(name: string): void;
}

/** A compiled value: a literal, or a template with `%VAR%` parts. */
export type HeaderValue = string | readonly (string | { readonly variable: string })[];

/** Operations for one direction, compiled. */
export interface HeaderOps {
  /** Lower-case names to remove. */
  readonly remove: readonly string[];
  /** `[name, value]` to set, sorted by name. */
  readonly set: readonly (readonly [string, HeaderValue])[];
  /** `[name, value]` to append, sorted by name. */
  readonly add: readonly (readonly [string, HeaderValue])[];
}

/** A compiled `headers` block. */
export interface CompiledHeaders {
  /** Request mutations (applied when forwarding). */
  readonly request?: HeaderOps;
  /** Response mutations (applied before answering the caller). */
  readonly response?: HeaderOps;
  /** Authority rewrite from a request `set`/`add` of `:authority` or `host`. */
  readonly authority?: string;
}

/** Resolves a `%VARIABLE%` (without the percent signs); undefined leaves it verbatim. */
export type VariableResolver = (name: string) => string | undefined;

function compileValue(value: string): HeaderValue {
  if (!value.includes("%")) return value;
  const parts: (string | { variable: string })[] = [];
  let text = "";
  let i = 0;
  while (i < value.length) {
    const ch = value[i];
    if (ch !== "%") {
      text += ch;
      i++;
      continue;
    }
    if (value[i + 1] === "%") {
      text += "%";
      i += 2;
      continue;
    }
    const end = value.indexOf("%", i + 1);
    if (end < 0) {
      text += value.slice(i);
      break;
    }
    if (text) parts.push(text);
    text = "";
    parts.push({ variable: value.slice(i + 1, end) });
    i = end + 1;
  }
  if (text) parts.push(text);
  return parts.every((p) => typeof p === "string") ? parts.join("") : parts;
}

function isDropped(name: string): boolean {
  return name.startsWith(":") || name === "host";
}

function compileOps(
  ops: HeaderOperations | undefined,
  request: boolean,
  authority: { value?: string },
): HeaderOps | undefined {
  if (!ops) return undefined;
  const entries = (record: Record<string, string> | undefined) =>
    Object.entries(record ?? {})
      .map(([k, v]) => [k.toLowerCase(), v] as const)
      .filter(([k, v]) => {
        if (request && (k === ":authority" || k === "host")) {
          authority.value ??= v;
          return false;
        }
        return !isDropped(k);
      })
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => [k, compileValue(v)] as const);
  const remove = (ops.remove ?? []).map((n) => n.toLowerCase()).filter((n) => !isDropped(n));
  const set = entries(ops.set);
  const add = entries(ops.add);
  if (remove.length === 0 && set.length === 0 && add.length === 0) return undefined;
  return { remove, set, add };
}

/** Compiles a `headers` block; undefined when it does nothing. */
export function compileHeaders(headers: Headers | undefined): CompiledHeaders | undefined {
  if (!headers) return undefined;
  const authority: { value?: string } = {};
  const request = compileOps(headers.request, true, authority);
  const response = compileOps(headers.response, false, authority);
  if (!request && !response && authority.value === undefined) return undefined;
  return { request, response, authority: authority.value };
}

/** Expands a compiled value. */
export function renderValue(value: HeaderValue, resolve?: VariableResolver): string {
  if (typeof value === "string") return value;
  let out = "";
  for (const part of value) {
    if (typeof part === "string") out += part;
    else out += resolve?.(part.variable) ?? `%${part.variable}%`;
  }
  return out;
}

/** Options of {@linkcode applyHeaderOps}. */
export interface ApplyHeaderOptions {
  /** Destination-level operations, applied after the route's within each phase. */
  destination?: HeaderOps;
  /** Resolver for `%VARIABLE%` values. */
  resolve?: VariableResolver;
}

/**
 * Applies route-level then destination-level operations to `target`: removals, then sets, then
 * adds.
 */
export function applyHeaderOps(
  target: HeaderMap,
  route: HeaderOps | undefined,
  options: ApplyHeaderOptions = {},
): void {
  const dest = options.destination;
  if (route === undefined && dest === undefined) return;
  const resolve = options.resolve;
  if (route) { for (const name of route.remove) target.delete(name); }
  if (dest) { for (const name of dest.remove) target.delete(name); }
  if (route) { for (const [name, v] of route.set) target.set(name, renderValue(v, resolve)); }
  if (dest) { for (const [name, v] of dest.set) target.set(name, renderValue(v, resolve)); }
  if (route) { for (const [name, v] of route.add) target.append(name, renderValue(v, resolve)); }
  if (dest) { for (const [name, v] of dest.add) target.append(name, renderValue(v, resolve)); }
}

/** A {@linkcode HeaderMap} over a `[name, value][]` list (tests, local replies). */
export class HeaderList implements HeaderMap {
  /** The entries, names lower-case, in order. */
  readonly entries: [string, string][];

  /** Wraps (and lower-cases the names of) an entry list. */
  constructor(entries: [string, string][] = []) {
    this.entries = entries.map(([k, v]) => [k.toLowerCase(), v]);
  }

  /** Values of `name` joined with `,`. */
  get(name: string): string | undefined {
    let out: string | undefined;
    for (const [k, v] of this.entries) if (k === name) out = out === undefined ? v : `${out},${v}`;
    return out;
  }

  /** Replaces all values of `name`. */
  set(name: string, value: string): void {
    this.delete(name);
    this.entries.push([name, value]);
  }

  /** Adds a value. */
  append(name: string, value: string): void {
    this.entries.push([name, value]);
  }

  /** Removes all values of `name`. */
  delete(name: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i][0] === name) this.entries.splice(i, 1);
    }
  }
}
