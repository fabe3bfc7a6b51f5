/**
 * "Did you mean …?" for unknown fields and enum values.
 *
 * Two sources of suggestions: edit distance over the names that are valid at
 * that place, and a table of known confusions — fields that people copy from
 * blog posts, older Istio versions or the wrong resource, where the right
 * answer is not spelled alike (`circuitBreaker` → `connectionPool` /
 * `outlierDetection`). A known confusion wins over edit distance.
 *
 * @module
 */

/** Where an unknown field was found, to pick the right confusion entry. */
export interface SuggestContext {
  /** Resource kind, e.g. `DestinationRule`. */
  kind?: string;
  /** The parent field path, e.g. `spec.trafficPolicy`. */
  parentPath?: string;
}

/** One entry of the confusion table. */
interface Confusion {
  /** The unknown field name (compared case-insensitively). */
  field: string;
  /** Only for this kind, when set. */
  kind?: string;
  /** Only when the parent path ends with this, when set. */
  parentSuffix?: string;
  /** Complete advice, used verbatim. */
  advice: string;
}

const CONFUSIONS: readonly Confusion[] = [
  {
    field: "circuitBreaker",
    advice: "did you mean outlierDetection or connectionPool?",
  },
  {
    field: "circuitBreakers",
    advice: "did you mean outlierDetection or connectionPool?",
  },
  {
    field: "retryPolicy",
    kind: "DestinationRule",
    advice: "a DestinationRule has no retries; set retries on the VirtualService route " +
      "(http[].retries)",
  },
  {
    field: "retries",
    kind: "DestinationRule",
    advice: "a DestinationRule has no retries; set retries on the VirtualService route " +
      "(http[].retries)",
  },
  {
    field: "retryPolicy",
    kind: "VirtualService",
    advice: "did you mean retries?",
  },
  {
    field: "timeout",
    kind: "DestinationRule",
    advice: "a DestinationRule has no request timeout; set timeout on the VirtualService " +
      "route (http[].timeout), or connectionPool.tcp.connectTimeout for connecting",
  },
  {
    field: "loadBalancing",
    advice: "did you mean loadBalancer?",
  },
  {
    field: "lbPolicy",
    advice: "did you mean loadBalancer (loadBalancer.simple)?",
  },
  {
    field: "weight",
    parentSuffix: "destination",
    advice: "weight belongs next to destination, not inside it " +
      "(route: [{destination: {...}, weight: 80}])",
  },
  {
    field: "destination",
    kind: "VirtualService",
    parentSuffix: "]",
    advice: "did you mean route (route: [{destination: {host: ...}}])?",
  },
  {
    field: "precedence",
    kind: "VirtualService",
    advice: "VirtualService rules have no precedence; http[] rules are evaluated in order, " +
      "first match wins",
  },
  {
    field: "httpFault",
    advice: "did you mean fault?",
  },
  {
    field: "simpleCb",
    advice: "did you mean connectionPool?",
  },
  {
    field: "httpReqTimeout",
    advice: "did you mean timeout (on the VirtualService route)?",
  },
  {
    field: "httpReqRetries",
    advice: "did you mean retries (on the VirtualService route)?",
  },
  {
    field: "mtls",
    kind: "DestinationRule",
    advice: "did you mean tls (tls: {mode: ISTIO_MUTUAL})?",
  },
  {
    field: "tls",
    kind: "PeerAuthentication",
    advice: "did you mean mtls (mtls: {mode: STRICT})?",
  },
];

/**
 * The advice for an unknown field: a known confusion, else the closest valid
 * names by edit distance, else the list of valid names when it is short
 * (≤ 12). Returns "" when there is nothing useful to say.
 */
export function suggestField(
  unknown: string,
  known: readonly string[],
  context: SuggestContext = {},
): string {
  const lower = unknown.toLowerCase();
  for (const c of CONFUSIONS) {
    if (c.field.toLowerCase() !== lower) continue;
    if (c.kind !== undefined && c.kind !== context.kind) continue;
    if (c.parentSuffix !== undefined && !(context.parentPath ?? "").endsWith(c.parentSuffix)) {
      continue;
    }
    // A confusion only applies when the field really is unknown here.
    if (known.includes(unknown)) continue;
    return c.advice;
  }
  const close = closest(unknown, known);
  if (close.length > 0) return `did you mean ${joinOr(close)}?`;
  if (known.length > 0 && known.length <= 12) return `valid fields: ${known.join(", ")}`;
  return "";
}

/** Advice for a value outside an enum: the closest allowed value, if any. */
export function suggestValue(value: string, allowed: readonly string[]): string {
  const close = closest(value, allowed);
  return close.length > 0 ? `did you mean ${joinOr(close)}?` : "";
}

/**
 * The candidates closest to `word`: case-insensitive equality first, then
 * the smallest Damerau-Levenshtein distance within a budget that grows with
 * the word's length (so `hots` finds `hosts` but `foo` finds nothing in
 * `connectionPool`). At most two results, best first.
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  const lower = word.toLowerCase();
  const same = candidates.filter((c) => c.toLowerCase() === lower);
  if (same.length > 0) return same.slice(0, 2);
  const budget = Math.max(1, Math.min(4, Math.floor(word.length / 3)));
  let best = Infinity;
  let found: string[] = [];
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    let d = editDistance(lower, c);
    // A word that is a prefix/suffix of a longer candidate (`subset` vs
    // `subsets`) or contains it is usually the same field.
    if (
      d > budget && (c.startsWith(lower) || lower.startsWith(c)) &&
      Math.min(c.length, lower.length) >= 4
    ) {
      d = budget;
    }
    if (d > budget) continue;
    if (d < best) {
      best = d;
      found = [candidate];
    } else if (d === best) {
      found.push(candidate);
    }
  }
  return found.slice(0, 2);
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transposition). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, prev2[j - 2] + 1);
      }
      row.push(v);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length];
}

function joinOr(words: readonly string[]): string {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}
