/**
 * Shared zod building blocks for the Istio resource schemas: strict objects
 * that report every unknown field, durations, ports, percentages, RE2
 * regexes, StringMatch, label maps, selectors and name checks.
 *
 * Every custom issue carries a complete message that names the offending
 * value and says how to fix it. Cross-field rules run even when a field of the
 * same object is invalid, so one pass reports every problem of a document.
 *
 * @module
 */

import { z } from "zod";
import { RE2JS } from "re2js";
import { DURATION_FORM, parseDuration } from "../duration.ts";
import { checkFqdn, checkWildcardHost, isDns1123Label, isIP, isIPOrCidr } from "../host.ts";

/** Adds one issue at `path` (relative to the object being refined). */
export type Report = (path: readonly PropertyKey[], message: string) => void;

/** What a refinement knows about the object beyond its fields. */
export interface RefineContext {
  /** How many unknown keys the object has (already reported); "is empty" rules stay quiet when > 0. */
  unknownFields: number;
}

/** The raw fields of an object under refinement; any of them may be missing or of the wrong type. */
export type Loose<S> = { [K in keyof S]?: unknown };

/** A strict object schema: its output type is the plain object type of its shape. */
export type Obj<S extends z.ZodRawShape> = z.ZodType<
  z.output<z.ZodObject<S>>,
  z.input<z.ZodObject<S>>
>;

/** The `params` of the issue reported for an unknown field (helper A turns `known` into suggestions). */
export interface UnknownFieldParams {
  mesh: "unknown_field";
  known: string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A strict object: each unknown key yields one issue `{code: "custom", path: [key],
 * message: "unknown field", params: {mesh: "unknown_field", known}}`. The optional
 * `refine` runs cross-field rules; it sees the raw values (possibly invalid), so it
 * must check types itself, and it runs even when fields have errors. Rules that
 * complain about an object being empty should stay quiet when `context.unknownFields`
 * is non-zero: the unknown-field issue already explains what went wrong.
 */
export function obj<S extends z.ZodRawShape>(
  shape: S,
  refine?: (value: Loose<S>, report: Report, context: RefineContext) => void,
): Obj<S> {
  const known = Object.keys(shape);
  const knownSet = new Set(known);
  const schema = z.looseObject(shape, { error: typeError("a map of fields") }).superRefine(
    (value, ctx) => {
      if (!isPlainObject(value)) return;
      let unknownFields = 0;
      for (const key in value) {
        if (!knownSet.has(key)) {
          unknownFields++;
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "unknown field",
            input: value[key],
            params: { mesh: "unknown_field", known } satisfies UnknownFieldParams,
          });
        }
      }
      if (refine) {
        refine(value as Loose<S>, (path, message) => {
          ctx.addIssue({ code: "custom", path: [...path], message, input: value });
        }, { unknownFields });
      }
    },
    { when: (payload) => isPlainObject(payload.value) },
  );
  return schema as unknown as Obj<S>;
}

// ---------------------------------------------------------------------------
// Small helpers for refinements

/** True when a field is set (not undefined or null). */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** True for a non-empty string. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

/** The value when it is an array, else an empty array. */
export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The value when it is a plain object, else undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

/** True for a set field that holds something: a non-empty array or object, or any scalar. */
export function hasContent(value: unknown): boolean {
  if (!isSet(value)) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Names of the given fields that are set, for one-of rules. */
export function setFields(value: Record<string, unknown>, names: readonly string[]): string[] {
  return names.filter((name) => isSet(value[name]));
}

/** `a`, `a and b`, `a, b and c`. */
export function listWords(words: readonly string[], conjunction = "and"): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} ${conjunction} ${words[words.length - 1]}`;
}

/** A value quoted for a message: strings in JSON quotes, others as JSON. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "nothing";
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${show(value)}`;
}

function typeError(expected: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined
      ? `required field is missing; set it to ${expected}`
      : `expected ${expected}, got ${describeType(issue.input)}`;
}

// ---------------------------------------------------------------------------
// Scalars

/** A string. */
export function text(): z.ZodString {
  return z.string({ error: typeError("a string") });
}

/** A boolean (`true` or `false`). */
export function bool(): z.ZodBoolean {
  return z.boolean({ error: typeError("true or false") });
}

/** A list of `item`. */
export function list<T extends z.ZodType>(item: T): z.ZodArray<T> {
  return z.array(item, { error: typeError("a list") });
}

/** A list of strings. */
export function stringList(): z.ZodArray<z.ZodString> {
  return list(text());
}

/** A map from string keys to `value`. */
export function map<T extends z.ZodType>(value: T): z.ZodRecord<z.ZodString, T> {
  return z.record(z.string(), value, { error: typeError("a map") });
}

/** A map of strings to strings (header values, etc.). */
export function stringMap(): z.ZodRecord<z.ZodString, z.ZodString> {
  return map(text());
}

/** An enum given as its value names; other values are rejected with the list of valid ones. */
export function enumOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodEnum<{ [K in T[number]]: K }> {
  const list = values.join(", ");
  return z.enum(values, {
    error: (issue) =>
      issue.input === undefined
        ? `required field is missing; set it to one of ${list}`
        : `invalid value ${show(issue.input)}; use one of ${list}`,
  }) as unknown as z.ZodEnum<{ [K in T[number]]: K }>;
}

/** Options of {@link int}. */
export interface IntOptions {
  min?: number;
  max?: number;
  /** What the number is, for messages ("weight", "port"). */
  what?: string;
  /** Extra advice appended when out of range. */
  hint?: string;
}

/** An integer, optionally within `[min, max]`. */
export function int(options: IntOptions = {}): z.ZodNumber {
  const { min, max, what = "value", hint } = options;
  const range = min !== undefined && max !== undefined
    ? `between ${min} and ${max}`
    : min !== undefined
    ? `of at least ${min}`
    : max !== undefined
    ? `of at most ${max}`
    : "";
  const expected = `an integer${range ? ` ${range}` : ""}`;
  return z.number({ error: typeError(expected) }).superRefine((n, ctx) => {
    if (!Number.isInteger(n)) {
      ctx.addIssue({
        code: "custom",
        message: `${what} ${n} is not a whole number; use ${expected}`,
      });
    } else if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      ctx.addIssue({
        code: "custom",
        message: `${what} ${n} is out of range; use ${expected}${hint ? ` (${hint})` : ""}`,
      });
    }
  }) as unknown as z.ZodNumber;
}

/** A non-negative 32-bit unsigned integer (proto `uint32`). */
export function uint32(what = "value"): z.ZodNumber {
  return int({ min: 0, max: 4294967295, what });
}

/** A non-negative integer that fits proto `int32` (Istio rejects negatives for these). */
export function nonNegativeInt32(what = "value"): z.ZodNumber {
  return int({ min: 0, max: 2147483647, what });
}

/** A number (double), optionally within `[min, max]`. */
export function num(options: IntOptions = {}): z.ZodNumber {
  const { min, max, what = "value", hint } = options;
  return z.number({ error: typeError("a number") }).superRefine((n, ctx) => {
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: "custom", message: `${what} ${n} is not a finite number` });
    } else if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      const range = min !== undefined && max !== undefined
        ? `between ${min} and ${max}`
        : min !== undefined
        ? `of at least ${min}`
        : `of at most ${max}`;
      ctx.addIssue({
        code: "custom",
        message: `${what} ${n} is out of range; use a number ${range}${hint ? ` (${hint})` : ""}`,
      });
    }
  }) as unknown as z.ZodNumber;
}

/** A port number, 1–65535. */
export function port(what = "port"): z.ZodNumber {
  return int({ min: 1, max: 65535, what });
}

/** An HTTP status code 200–599 (fault aborts, direct responses). */
export function httpStatus(): z.ZodNumber {
  return int({ min: 200, max: 599, what: "HTTP status" });
}

/** A relative route weight: an integer ≥ 0. */
export function weight(): z.ZodNumber {
  return int({ min: 0, max: 2147483647, what: "weight", hint: "weights are relative shares" });
}

/** The deprecated integer percentage 0–100 (`percent`, `mirrorPercent`). */
export function intPercent(what = "percent"): z.ZodNumber {
  return int({ min: 0, max: 100, what });
}

/** A `Percent` message, `{value: <double 0–100>}`. */
export function percentage(): Obj<{ value: z.ZodOptional<z.ZodNumber> }> {
  return obj({ value: num({ min: 0, max: 100, what: "percentage" }).optional() });
}

/**
 * A fault `Percent`: 0, or between 0.0001 and 100 (Envoy stores it per million,
 * so smaller non-zero values would silently round to zero).
 */
export function faultPercentage(): Obj<{ value: z.ZodOptional<z.ZodNumber> }> {
  return obj({ value: num({ min: 0, max: 100, what: "percentage" }).optional() }, (v, report) => {
    if (typeof v.value === "number" && v.value > 0 && v.value < 0.0001) {
      report(
        ["value"],
        `percentage ${v.value} is too small to take effect; use 0 or a value between 0.0001 and 100`,
      );
    }
  });
}

// ---------------------------------------------------------------------------
// Durations

/** Options of {@link duration}. */
export interface DurationOptions {
  /** Require at least 1 ms and whole milliseconds (Istio's rule for most durations). Default true. */
  min1ms?: boolean;
  /** Accept exactly zero even when `min1ms` (`0s` meaning "disabled"). Default false. */
  allowZero?: boolean;
}

/** A duration string such as `10s`, `500ms` or `1h2m3.5s`, kept as written. */
export function duration(options: DurationOptions = {}): z.ZodString {
  const { min1ms = true, allowZero = false } = options;
  return z.string({ error: typeError(`a duration string such as "10s"`) }).superRefine(
    (value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        const message = value.trim().startsWith("-")
          ? `negative duration ${show(value)} is not allowed; write a positive duration, ` +
            DURATION_FORM
          : `invalid duration ${show(value)}; write ${DURATION_FORM}`;
        ctx.addIssue({ code: "custom", message });
        return;
      }
      if (!min1ms || (allowZero && ms === 0)) return;
      if (ms < 1) {
        ctx.addIssue({
          code: "custom",
          message:
            `duration ${show(value)} is shorter than 1ms; Istio requires at least 1ms here ` +
            `(e.g. 1ms, 500ms, 1s)${allowZero ? ", or exactly 0s to disable" : ""}`,
        });
      } else if (!Number.isInteger(ms)) {
        ctx.addIssue({
          code: "custom",
          message: `duration ${show(value)} is not a whole number of milliseconds; ` +
            `Istio supports millisecond precision here (e.g. ${Math.round(ms)}ms)`,
        });
      }
    },
  ) as unknown as z.ZodString;
}

// ---------------------------------------------------------------------------
// Regexes

const RE2_SYNTAX = "https://github.com/google/re2/wiki/Syntax";
const regexCache = new Map<string, string | undefined>();
const REGEX_CACHE_LIMIT = 10_000;

/**
 * Checks that a pattern is valid RE2 (what Envoy compiles) and at most 1024
 * characters (Istio's limit). Returns undefined when valid, else a complete
 * message. Results are cached: configs repeat the same patterns.
 */
export function checkRegex(pattern: string): string | undefined {
  if (regexCache.has(pattern)) return regexCache.get(pattern);
  const result = computeRegexError(pattern);
  if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
  regexCache.set(pattern, result);
  return result;
}

function computeRegexError(pattern: string): string | undefined {
  if (pattern.length > 1024) {
    return `regex is ${pattern.length} characters long; Istio allows at most 1024, shorten it`;
  }
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    const reason = error instanceof Error
      ? error.message.replace(/^error parsing regexp: /, "")
      : "";
    if (/\(\?(?:=|!|<=|<!)/.test(pattern)) {
      return `regex ${show(pattern)} uses look-around, which RE2 does not support; ` +
        `rewrite it without (?=, (?!, (?<=, (?<!`;
    }
    const backref = /invalid escape sequence: `\\([1-9])`/.exec(reason);
    if (backref) {
      return `regex ${show(pattern)} uses the back-reference \\${backref[1]}, which RE2 does not ` +
        `support; rewrite it without back-references`;
    }
    return `regex ${show(pattern)} is not valid RE2 (${reason || "syntax error"}); fix the ` +
      `pattern (RE2 syntax: ${RE2_SYNTAX})`;
  }
}

/** A regex string that must be valid RE2. */
export function regex(): z.ZodString {
  return z.string({ error: typeError("a regular expression string") }).superRefine(
    (value, ctx) => {
      if (value === "") {
        ctx.addIssue({
          code: "custom",
          message: `regex is empty; write a pattern, or use {} to match any present value`,
        });
        return;
      }
      const error = checkRegex(value);
      if (error) ctx.addIssue({ code: "custom", message: error });
    },
  ) as unknown as z.ZodString;
}

// ---------------------------------------------------------------------------
// StringMatch

const stringMatchShape = {
  exact: text().optional(),
  prefix: text().optional(),
  regex: text().optional(),
};

/** The validated shape of a `StringMatch`. */
export type StringMatch = z.output<Obj<typeof stringMatchShape>>;

/** Options of {@link stringMatch}. */
export interface StringMatchOptions {
  /** Accept `prefix: ""` (Envoy allows it for the path). Default false. */
  allowEmptyPrefix?: boolean;
}

/**
 * A `StringMatch`: at most one of `exact`, `prefix`, `regex` (RE2). `{}` means
 * "present", and so does `regex: "*"` (not RE2, but Istio's spelling of presence).
 */
export function stringMatch(options: StringMatchOptions = {}): Obj<typeof stringMatchShape> {
  return obj(stringMatchShape, (v, report) => {
    const set = setFields(v as Record<string, unknown>, ["exact", "prefix", "regex"]);
    if (set.length > 1) {
      report(
        [],
        `a string match takes exactly one of exact, prefix or regex, but ${
          listWords(set)
        } are set; keep one`,
      );
    }
    if (v.prefix === "" && !options.allowEmptyPrefix) {
      report(
        ["prefix"],
        `prefix is empty; give a non-empty prefix, or use {} to match any present value`,
      );
    }
    if (typeof v.regex === "string" && v.regex !== "*") {
      if (v.regex === "") {
        report(["regex"], `regex is empty; write a pattern, or use {} to match any present value`);
      } else {
        const error = checkRegex(v.regex);
        if (error) report(["regex"], error);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Names, labels and selectors

const LABEL_KEY_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

/** Checks a Kubernetes-style label key (`[prefix/]name`). Returns a message or undefined. */
export function checkLabelKey(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash === -1 ? "" : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const ok = (slash === -1 || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix))) &&
    name.length <= 63 && LABEL_KEY_NAME.test(name);
  return ok ? undefined : `label key ${show(key)} is invalid; use an optional DNS prefix and "/" ` +
    `followed by a name of letters, digits, "-", "_" and "." (at most 63 characters, ` +
    `starting and ending with a letter or digit), e.g. "app" or "example.com/tier"`;
}

/** Checks a label value. Returns a message or undefined. */
export function checkLabelValue(key: string, value: string): string | undefined {
  return value.length <= 63 && LABEL_VALUE.test(value)
    ? undefined
    : `label value ${show(value)} for ${
      show(key)
    } is invalid; use at most 63 letters, digits, "-", "_" and ".", ` +
      `starting and ending with a letter or digit (or the empty string)`;
}

/** A label map (`subset.labels`, `sourceLabels`, endpoint labels) with Kubernetes label syntax. */
export function labels(): z.ZodRecord<z.ZodString, z.ZodString> {
  return map(text()).superRefine((value, ctx) => {
    for (const [key, val] of Object.entries(value)) {
      const keyError = checkLabelKey(key);
      if (keyError) ctx.addIssue({ code: "custom", path: [key], message: keyError });
      if (typeof val === "string") {
        const valueError = checkLabelValue(key, val);
        if (valueError) ctx.addIssue({ code: "custom", path: [key], message: valueError });
      }
    }
  }) as unknown as z.ZodRecord<z.ZodString, z.ZodString>;
}

/** A selector label map: keys non-empty, no `*` in keys or values, values at most 63 characters. */
export function selectorLabels(): z.ZodRecord<z.ZodString, z.ZodString> {
  return map(text()).superRefine((value, ctx) => {
    for (const [key, val] of Object.entries(value)) {
      if (key === "") {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `selector has an empty label key; give every label a name, e.g. app: reviews`,
        });
      }
      if (key.includes("*") || (typeof val === "string" && val.includes("*"))) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `wildcards are not supported in selectors (${key}: ${
            show(val)
          }); list exact label values`,
        });
      }
      if (typeof val === "string" && val.length > 63) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `label value for ${show(key)} is ${val.length} characters long; ` +
            `label values are at most 63 characters`,
        });
      }
    }
  }) as unknown as z.ZodRecord<z.ZodString, z.ZodString>;
}

const workloadSelectorShape = { matchLabels: selectorLabels().optional() };

/** `istio.type.v1beta1.WorkloadSelector`: `{matchLabels}` (DR, PeerAuthentication, AuthorizationPolicy). */
export const workloadSelector: Obj<typeof workloadSelectorShape> = obj(workloadSelectorShape);

const alphaSelectorShape = { labels: selectorLabels().optional() };

/** `networking.v1alpha3.WorkloadSelector`: `{labels}` (Sidecar, ServiceEntry). */
export const labelSelector: Obj<typeof alphaSelectorShape> = obj(alphaSelectorShape);

/** Checks a DNS-1123 label value, e.g. a namespace, subset or port name. */
export function dnsLabel(what: string): z.ZodString {
  return text().superRefine((value, ctx) => {
    if (!isDns1123Label(value)) {
      ctx.addIssue({
        code: "custom",
        message: `${what} ${show(value)} is invalid; use a DNS-1123 label: letters, digits and ` +
          `"-", starting and ending with a letter or digit, at most 63 characters`,
      });
    }
  }) as unknown as z.ZodString;
}

/** A port name (DNS-1123 label), e.g. `http`, `grpc-web`. */
export function portName(): z.ZodString {
  return dnsLabel("port name");
}

/** A host that may be a wildcard (`*`, `*.example.com`) or a DNS name; IPs only when `allowIP`. */
export function host(options: { allowIP?: boolean; allowStar?: boolean; what?: string } = {}) {
  const { allowIP = false, allowStar = true, what = "host" } = options;
  return text().superRefine((value, ctx) => {
    const error = checkHost(value, { allowIP, allowStar, what });
    if (error) ctx.addIssue({ code: "custom", message: error });
  }) as unknown as z.ZodString;
}

/** Checks a host as {@link host} does; returns a complete message or undefined. */
export function checkHost(
  value: string,
  options: { allowIP?: boolean; allowStar?: boolean; what?: string } = {},
): string | undefined {
  const { allowIP = false, allowStar = true, what = "host" } = options;
  if (value === "*") {
    return allowStar ? undefined : `${what} "*" is not allowed here; name a host or a ` +
      `wildcard domain such as "*.example.com"`;
  }
  if (allowIP && isIP(value)) return undefined;
  const reason = wildcardHostReason(value);
  if (reason === undefined) return undefined;
  return `${what} ${show(value)} is invalid: ${reason}; use a DNS name such as ` +
    `"reviews.default.svc.cluster.local" or a wildcard such as "*.example.com"` +
    (allowIP ? " or an IP address" : "");
}

const hostReasons = new Map<string, string | undefined>();

// Configurations repeat the same few host names thousands of times.
function wildcardHostReason(value: string): string | undefined {
  if (hostReasons.has(value)) return hostReasons.get(value);
  const reason = checkWildcardHost(value);
  if (hostReasons.size >= 10_000) hostReasons.clear();
  hostReasons.set(value, reason);
  return reason;
}

/** Checks a non-wildcard DNS name; returns a complete message or undefined. */
export function checkDnsName(value: string, what = "host"): string | undefined {
  const reason = checkFqdn(value);
  return reason === undefined ? undefined : `${what} ${show(value)} is invalid: ${reason}; ` +
    `use a DNS name such as "proxy.example.com"`;
}

/** An IP address or CIDR block (`10.0.0.0/8`). */
export function ipOrCidr(what = "address"): z.ZodString {
  return text().superRefine((value, ctx) => {
    if (!isIPOrCidr(value)) {
      ctx.addIssue({
        code: "custom",
        message: `${what} ${show(value)} is not an IP address or CIDR block; ` +
          `write e.g. "10.1.2.3", "10.0.0.0/16" or "2001:db8::/32"`,
      });
    }
  }) as unknown as z.ZodString;
}

/**
 * Checks a gateway reference (`VirtualService.gateways`, `match.gateways`):
 * `mesh`, `name`, `ns/name`, `./name`, or the legacy `name.ns[...]` form.
 */
export function checkGatewayName(name: string): string | undefined {
  if (name === "mesh") return undefined;
  const fix = `use "mesh", "<gateway name>" or "<namespace>/<gateway name>"`;
  const slash = name.indexOf("/");
  if (slash === -1) {
    const reason = checkFqdn(name);
    return reason === undefined ? undefined : `gateway ${show(name)} is invalid: ${reason}; ${fix}`;
  }
  const ns = name.slice(0, slash);
  const gw = name.slice(slash + 1);
  if (ns === "" || gw === "") {
    return `gateway ${show(name)} has an empty namespace or name; ${fix}`;
  }
  if (ns !== "." && !isDns1123Label(ns)) {
    return `gateway ${show(name)} has an invalid namespace ${show(ns)}; ${fix}`;
  }
  if (!isDns1123Label(gw)) {
    return `gateway ${show(name)} has an invalid name ${show(gw)} (a DNS-1123 label, no dots or ` +
      `slashes); ${fix}`;
  }
  return undefined;
}

/** A list of gateway references. */
export function gatewayNames(): z.ZodArray<z.ZodString> {
  return list(
    text().superRefine((value, ctx) => {
      const error = checkGatewayName(value);
      if (error) ctx.addIssue({ code: "custom", message: error });
    }) as unknown as z.ZodString,
  );
}

/**
 * `exportTo`: namespaces (`.` own, `*` all, `~` none — Istio's
 * `visibility.Instance.Validate` accepts `~` for every kind), no duplicates,
 * `*` and `~` alone.
 */
export function exportTo(options: { allowNone?: boolean } = {}): z.ZodArray<z.ZodString> {
  const allowNone = options.allowNone ?? true;
  return stringList().superRefine((values, ctx) => {
    const seen = new Set<string>();
    values.forEach((value, index) => {
      if (typeof value !== "string") return;
      if (seen.has(value)) {
        ctx.addIssue({
          code: "custom",
          path: [index],
          message: `exportTo lists ${show(value)} twice; remove the duplicate`,
        });
      }
      seen.add(value);
      const valid = value === "." || value === "*" || (allowNone && value === "~") ||
        isDns1123Label(value);
      if (!valid) {
        ctx.addIssue({
          code: "custom",
          path: [index],
          message: `exportTo entry ${show(value)} is invalid; use "." (this namespace), "*" ` +
            `(all namespaces)${allowNone ? `, "~" (no namespace)` : ""} or a namespace name`,
        });
      }
    });
    if (values.length > 1) {
      for (const alone of ["*", "~"]) {
        if (seen.has(alone)) {
          ctx.addIssue({
            code: "custom",
            message: `exportTo combines ${show(alone)} with other entries; ${
              alone === "*" ? `"*" already exports to every namespace` : `"~" exports to none`
            }, so use it alone`,
          });
        }
      }
    }
  }) as unknown as z.ZodArray<z.ZodString>;
}

const TCHAR_HEADER = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":authority", ":path", ":status"]);
const JWT_CLAIM_KEY =
  /^@request\.auth\.claims(?:\.[^.[\]]+)+$|^@request\.auth\.claims(?:\[[^\]]+\])+$/;

/** True for a header key that routes on a JWT claim (`@request.auth.claims.<name>`). */
export function isJwtClaimKey(key: string): boolean {
  return key.startsWith("@request.auth.claims");
}

/** Checks a header name used in a match (`headers`, `withoutHeaders`). */
export function checkMatchHeaderName(name: string): string | undefined {
  if (name === "") return `header name is empty; name the header to match`;
  if (isJwtClaimKey(name)) {
    return JWT_CLAIM_KEY.test(name) ? undefined : `JWT claim key ${show(name)} is malformed; ` +
      `write @request.auth.claims.<claim> (e.g. @request.auth.claims.groups)`;
  }
  if (PSEUDO_HEADERS.has(name) || TCHAR_HEADER.test(name)) return undefined;
  return `header name ${show(name)} contains characters not allowed in HTTP header names; ` +
    `use letters, digits and "-" (e.g. "x-user")`;
}

/** Checks a header value for control characters Envoy would reject. */
export function checkHeaderValue(value: string): string | undefined {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) {
    return `header value ${show(value)} contains control characters; remove them`;
  }
  return undefined;
}
