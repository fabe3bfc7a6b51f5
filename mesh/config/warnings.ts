/**
 * Warnings: configuration that is valid but probably not what the author
 * meant, deprecated, or behaves differently here than in current Istio.
 * Pure functions over validated resources; each finding carries the field
 * path so the caller can give it a file position.
 *
 * @module
 */

import type { Resource } from "./types.ts";

/** One warning about one field of a resource. */
export interface Warning {
  /** Path from the document root, e.g. `["spec", "http", 0, "fault", "delay"]`. */
  path: (string | number)[];
  message: string;
  /** Point at the field's key rather than its value (for deprecated fields). */
  atKey?: boolean;
}

// Validated input: shapes are known, fields are read directly.
// deno-lint-ignore no-explicit-any
type Raw = { [field: string]: any };

/** All warnings for one validated resource, in document order. */
export function resourceWarnings(resource: Resource): Warning[] {
  const spec = resource.spec as Raw;
  switch (resource.kind) {
    case "VirtualService":
      return virtualServiceWarnings(spec);
    case "DestinationRule":
      return destinationRuleWarnings(spec);
    case "Sidecar":
      return sidecarWarnings(spec);
    case "PeerAuthentication":
      return peerAuthenticationWarnings(spec);
    default:
      return [];
  }
}

/** Warnings of a VirtualService spec (paths start at `spec`). */
export function virtualServiceWarnings(spec: Raw): Warning[] {
  const out: Warning[] = [];
  const gateways = (spec.gateways ?? []) as string[];
  gateways.forEach((g, i) => legacyGateway(g, ["spec", "gateways", i], out));
  const meshBound = gateways.length === 0 || gateways.includes("mesh");

  const http = (spec.http ?? []) as Raw[];
  let catchAll = -1;
  http.forEach((rule, i) => {
    const at = ["spec", "http", i];
    if (catchAll >= 0) {
      out.push({
        path: at,
        message: `unreachable: http[${catchAll}] before it matches every request (first match ` +
          `wins); move this rule above http[${catchAll}] or give http[${catchAll}] a match`,
      });
    }
    if (catchAll < 0 && isHttpCatchAll(rule)) catchAll = i;
    ((rule.match ?? []) as Raw[]).forEach((m, j) => {
      ((m.gateways ?? []) as string[]).forEach((g, k) =>
        legacyGateway(g, [...at, "match", j, "gateways", k], out)
      );
      if (!meshBound && !m.gateways && (m.sourceLabels || m.sourceNamespace)) {
        out.push({
          path: [...at, "match", j, m.sourceLabels ? "sourceLabels" : "sourceNamespace"],
          message: "never applies: sourceLabels/sourceNamespace select sidecars, and this " +
            "VirtualService binds only to gateways; remove it or add mesh to gateways",
          atKey: true,
        });
      }
    });
    if (rule.fault) faultWarnings(rule.fault, [...at, "fault"], out);
    if (rule.mirrorPercent !== undefined) {
      out.push({
        path: [...at, "mirrorPercent"],
        message: "mirrorPercent is deprecated; use mirrorPercentage: {value: " +
          `${rule.mirrorPercent}}`,
        atKey: true,
      });
    }
    if (rule.corsPolicy?.allowOrigin !== undefined) {
      out.push({
        path: [...at, "corsPolicy", "allowOrigin"],
        message: "allowOrigin is deprecated; use allowOrigins: [{exact: ...}]",
        atKey: true,
      });
    }
    const code = rule.redirect?.redirectCode;
    if (typeof code === "number" && ![301, 302, 303, 307, 308].includes(code)) {
      out.push({
        path: [...at, "redirect", "redirectCode"],
        message: `redirect code ${code} is not one of 301, 302, 303, 307, 308; ` +
          "the redirect will not be performed",
      });
    }
    const body = rule.directResponse?.body?.string;
    if (typeof body === "string" && body.length > 100 * 1024) {
      out.push({
        path: [...at, "directResponse", "body"],
        message: "direct response body is larger than 100 kB; serve large bodies from a service",
      });
    }
  });

  const tcp = (spec.tcp ?? []) as Raw[];
  let tcpCatchAll = -1;
  tcp.forEach((rule, i) => {
    if (tcpCatchAll >= 0) {
      out.push({
        path: ["spec", "tcp", i],
        message: `unreachable: tcp[${tcpCatchAll}] before it matches every connection; ` +
          `move this rule above it or give tcp[${tcpCatchAll}] a match`,
      });
    }
    if (tcpCatchAll < 0 && (!rule.match || rule.match.length === 0)) tcpCatchAll = i;
  });
  return out;
}

/**
 * True when an HTTP rule matches every request: no `match`, or a match block
 * with no condition at all or only `uri: {prefix: "/"}` (and only a name).
 */
export function isHttpCatchAll(rule: Raw): boolean {
  const match = rule.match as Raw[] | undefined;
  if (!match || match.length === 0) return true;
  return match.some((m) => {
    for (const [key, value] of Object.entries(m)) {
      if (value === undefined || key === "name" || key === "statPrefix") continue;
      if (key === "ignoreUriCase") continue;
      if (key === "uri" && value && value.prefix === "/" && Object.keys(value).length === 1) {
        continue;
      }
      return false;
    }
    return true;
  });
}

function legacyGateway(ref: string, path: (string | number)[], out: Warning[]): void {
  if (ref === "mesh" || ref.includes("/") || !ref.includes(".")) return;
  const dot = ref.indexOf(".");
  const name = ref.slice(0, dot);
  const ns = ref.slice(dot + 1).split(".")[0];
  out.push({
    path,
    message: `gateway reference "${ref}" uses the legacy name.namespace form; ` +
      `write "${ns}/${name}"`,
  });
}

function faultWarnings(fault: Raw, at: (string | number)[], out: Warning[]): void {
  for (const part of ["delay", "abort"] as const) {
    const value = fault[part] as Raw | undefined;
    if (!value) continue;
    if (value.percent !== undefined) {
      out.push({
        path: [...at, part, "percent"],
        message: `the integer percent is deprecated (removed in current Istio); use ` +
          `percentage: {value: ${value.percent}}`,
        atKey: true,
      });
    } else if (value.percentage === undefined) {
      out.push({
        path: [...at, part],
        message: `fault ${part} has no percentage: mesh applies it to 100% of requests ` +
          `(the spec), current Istio to 0%; set percentage: {value: 100} to be explicit`,
        atKey: true,
      });
    }
  }
}

/** Warnings of a DestinationRule spec. */
export function destinationRuleWarnings(spec: Raw): Warning[] {
  const out: Warning[] = [];
  if (spec.trafficPolicy) policyWarnings(spec.trafficPolicy, ["spec", "trafficPolicy"], out);
  ((spec.subsets ?? []) as Raw[]).forEach((s, i) => {
    if (s.trafficPolicy) {
      policyWarnings(s.trafficPolicy, ["spec", "subsets", i, "trafficPolicy"], out);
    }
  });
  return out;
}

function policyWarnings(policy: Raw, at: (string | number)[], out: Warning[]): void {
  blockWarnings(policy, at, out);
  ((policy.portLevelSettings ?? []) as Raw[]).forEach((p, i) =>
    blockWarnings(p, [...at, "portLevelSettings", i], out)
  );
}

function blockWarnings(policy: Raw, at: (string | number)[], out: Warning[]): void {
  const lb = policy.loadBalancer as Raw | undefined;
  if (lb?.simple === "LEAST_CONN") {
    out.push({
      path: [...at, "loadBalancer", "simple"],
      message: "LEAST_CONN is deprecated; it is an alias of LEAST_REQUEST, write that",
    });
  }
  if (lb?.consistentHash?.minimumRingSize !== undefined) {
    out.push({
      path: [...at, "loadBalancer", "consistentHash", "minimumRingSize"],
      message: "minimumRingSize is deprecated; use ringHash: {minimumRingSize: ...}",
      atKey: true,
    });
  }
  if (lb?.warmupDurationSecs !== undefined) {
    out.push({
      path: [...at, "loadBalancer", "warmupDurationSecs"],
      message: "warmupDurationSecs is deprecated; use warmup: {duration: ...}",
      atKey: true,
    });
  }
  const od = policy.outlierDetection as Raw | undefined;
  if (od) {
    if (od.consecutiveErrors !== undefined) {
      out.push({
        path: [...at, "outlierDetection", "consecutiveErrors"],
        message: "consecutiveErrors is deprecated and ignored; use consecutive5xxErrors " +
          "(or consecutiveGatewayErrors for 502/503/504 only)",
        atKey: true,
      });
    }
    if (od.maxEjectionPercent === 0) {
      out.push({
        path: [...at, "outlierDetection", "maxEjectionPercent"],
        message: 'maxEjectionPercent 0 means the default 10, not "never eject"; to turn ' +
          "ejection off set consecutive5xxErrors: 0",
      });
    }
    const c5 = typeof od.consecutive5xxErrors === "number" ? od.consecutive5xxErrors : 5;
    const cg = od.consecutiveGatewayErrors;
    if (typeof cg === "number" && cg > 0 && c5 > 0 && cg >= c5) {
      out.push({
        path: [...at, "outlierDetection", "consecutiveGatewayErrors"],
        message: `consecutiveGatewayErrors (${cg}) has no effect when not below ` +
          `consecutive5xxErrors (${c5}): gateway errors are 5xx errors too`,
      });
    }
  }
}

/** Warnings of a Sidecar spec. */
export function sidecarWarnings(spec: Raw): Warning[] {
  const otp = spec.outboundTrafficPolicy as Raw | undefined;
  if (otp && otp.mode === undefined) {
    return [{
      path: ["spec", "outboundTrafficPolicy"],
      message: "an outboundTrafficPolicy without mode means REGISTRY_ONLY (unknown hosts " +
        "blocked); set mode explicitly",
      atKey: true,
    }];
  }
  return [];
}

/** Warnings of a PeerAuthentication spec. */
export function peerAuthenticationWarnings(spec: Raw): Warning[] {
  if (spec.portLevelMtls && Object.keys(spec.portLevelMtls).length > 0 && !spec.selector) {
    return [{
      path: ["spec", "portLevelMtls"],
      message: "portLevelMtls is ignored without a selector; add selector.matchLabels",
      atKey: true,
    }];
  }
  return [];
}
