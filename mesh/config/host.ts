/**
 * Host names as Istio understands them: DNS-1123 names, a whole leading `*.`
 * label as the only wildcard, `*` alone, IP addresses; matching, precedence
 * and short-name expansion (SEMANTICS.md §1).
 *
 * Validators return `undefined` when the value is fine, else a short reason
 * (no trailing period) that callers embed in a complete message.
 *
 * @module
 */

const LABEL = /^[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX16 = /^[0-9A-Fa-f]{1,4}$/;

/** True for one DNS-1123 label (letters, digits, `-` inside; at most 63 characters). */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && LABEL.test(value);
}

/** True for a dotted-quad IPv4 address (no leading zeros). */
export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}

/** True for an IPv6 address (`::` compression, embedded IPv4 tail and `%zone` allowed). */
export function isIPv6(value: string): boolean {
  let text = value;
  const zone = text.indexOf("%");
  if (zone !== -1) {
    if (zone === text.length - 1) return false;
    text = text.slice(0, zone);
  }
  if (!text.includes(":")) return false;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    // An embedded IPv4 tail stands for the last two 16-bit groups.
    if (!isIPv4(tail)) return false;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const parts = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parts(halves[0]);
  const rest = halves.length === 2 ? parts(halves[1]) : [];
  if (![...head, ...rest].every((g) => HEX16.test(g))) return false;
  const count = head.length + rest.length;
  return halves.length === 2 ? count < 8 : count === 8;
}

/** True for an IPv4 or IPv6 address. */
export function isIP(value: string): boolean {
  return isIPv4(value) || isIPv6(value);
}

/** True for an IP address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`). */
export function isIPOrCidr(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash === -1) return isIP(value);
  const ip = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isIPv4(ip)) return n <= 32;
  return !ip.includes("%") && isIPv6(ip) && n <= 128;
}

/**
 * Checks a fully qualified (non-wildcard) DNS name: 1–255 characters, DNS-1123
 * labels, top-level label not all digits; one trailing dot allowed.
 */
export function checkFqdn(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > 255) return "it is longer than 255 characters";
  const labels = name.split(".");
  if (labels.length > 1 && labels[labels.length - 1] === "") labels.pop();
  const tld = labels[labels.length - 1];
  if (/^\d+$/.test(tld)) return `its top-level label "${tld}" is all digits`;
  for (const label of labels) {
    if (!isDns1123Label(label)) {
      return label.includes("*")
        ? `"*" is only allowed as the whole first label ("*.example.com")`
        : `label "${label}" is not a DNS-1123 label (letters, digits and "-", ` +
          `starting and ending with a letter or digit, at most 63 characters)`;
    }
  }
  return undefined;
}

/**
 * Checks a host that may be a wildcard: `*`, `*.suffix` (a whole leading
 * label only) or a DNS name. Partial wildcards such as `*foo.com` or
 * `foo.*.com` are rejected.
 */
export function checkWildcardHost(name: string): string | undefined {
  if (name === "*") return undefined;
  if (name.startsWith("*.")) return checkFqdn(name.slice(2));
  return checkFqdn(name);
}

/** True when the host starts with the `*` wildcard (`*` or `*.suffix`). */
export function isWildcard(host: string): boolean {
  return host.startsWith("*");
}

/**
 * Whether `host` is matched by `pattern` (case-insensitive). `*` matches
 * everything; `*.foo.com` matches `a.foo.com` and `a.b.foo.com` but never
 * `foo.com`; any other pattern must equal the host.
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p.startsWith("*.")) {
    const suffix = p.slice(1); // ".foo.com"
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return p === h;
}

/**
 * Whether `a` is more specific than `b`, the precedence Istio uses to choose
 * among hosts that match (`host.MoreSpecific`): an exact name beats any
 * wildcard; otherwise the longer name wins; ties sort alphabetically. A strict
 * order: never true for `a === b`.
 */
export function isMoreSpecific(a: string, b: string): boolean {
  const aw = isWildcard(a);
  const bw = isWildcard(b);
  if (aw !== bw) return !aw;
  if (a.length !== b.length) return a.length > b.length;
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb;
  return a < b;
}

/**
 * True for a name that short-name expansion applies to: non-empty, no dot,
 * not `*`, not an IP address (SEMANTICS.md §1).
 */
export function isShortName(name: string): boolean {
  return name.length > 0 && !name.includes(".") && name !== "*" && !isIP(name);
}

/**
 * Expands a short name to `<name>.<namespace>.svc.<domain>`; any other name
 * is returned unchanged (`reviews.prod` stays literal).
 */
export function expandShortName(name: string, namespace: string, domain = "cluster.local"): string {
  return isShortName(name) ? `${name}.${namespace}.svc.${domain}` : name;
}
