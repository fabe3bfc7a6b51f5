/**
 * VirtualService spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field
 * of `networking/v1alpha3/virtual_service.proto`, validated the way Istio's
 * `ValidateVirtualService` does (with clearer messages).
 *
 * @module
 */

import { z } from "zod";
import { parseDuration } from "../duration.ts";
import { hostMatches, isIP } from "../host.ts";
import {
  asArray,
  asObject,
  bool,
  checkHeaderValue,
  checkHost,
  checkMatchHeaderName,
  checkRegex,
  dnsLabel,
  duration,
  exportTo,
  faultPercentage,
  gatewayNames,
  hasContent,
  httpStatus,
  int,
  intPercent,
  ipOrCidr,
  isJwtClaimKey,
  isNonEmptyString,
  isSet,
  labels,
  list,
  listWords,
  map,
  num,
  obj,
  port,
  type RefineContext,
  type Report,
  setFields,
  show,
  stringList,
  stringMap,
  stringMatch,
  text,
  weight,
} from "./primitives.ts";

// ---------------------------------------------------------------------------
// Destination (shared with Sidecar.outboundTrafficPolicy.egressProxy)

/** `PortSelector`: `{number}`. */
export const portSelector = obj({ number: port().optional() }, (v, report) => {
  if (!isSet(v.number)) {
    report([], `port selector has no number; set number to the service port (1-65535)`);
  }
});

/** `Destination`: a service host, optional subset and port. */
export const destination = obj({
  host: text().superRefine((value, ctx) => {
    const error = value === "*"
      ? `destination host "*" is not allowed; name the service, e.g. "reviews" or ` +
        `"reviews.default.svc.cluster.local"`
      : checkHost(value, { what: "destination host" });
    if (error) ctx.addIssue({ code: "custom", message: error });
  }),
  subset: dnsLabel("subset name").optional(),
  port: portSelector.optional(),
});

/** The validated shape of a `Destination`. */
export type Destination = z.infer<typeof destination>;

// ---------------------------------------------------------------------------
// Headers

const requestOperations = obj({
  set: stringMap().optional(),
  add: stringMap().optional(),
  remove: stringList().optional(),
}, (v, report) => checkHeaderOperations(v, report, true));

const responseOperations = obj({
  set: stringMap().optional(),
  add: stringMap().optional(),
  remove: stringList().optional(),
}, (v, report) => checkHeaderOperations(v, report, false));

function checkHeaderOperations(
  v: { set?: unknown; add?: unknown; remove?: unknown },
  report: Report,
  request: boolean,
): void {
  for (const op of ["set", "add"] as const) {
    const entries = asObject(v[op]);
    if (!entries) continue;
    for (const [name, value] of Object.entries(entries)) {
      const error = checkHeaderOperationName(name, request);
      if (error) report([op, name], error);
      if (typeof value === "string") {
        const valueError = checkHeaderValue(value);
        if (valueError) report([op, name], valueError);
      }
    }
  }
  asArray(v.remove).forEach((name, index) => {
    if (typeof name !== "string") return;
    const error = checkHeaderOperationName(name, false);
    if (error) report(["remove", index], error);
  });
}

function checkHeaderOperationName(name: string, allowAuthority: boolean): string | undefined {
  if (name === "") return `header name is empty; name the header to change`;
  const lower = name.toLowerCase();
  const authority = lower === ":authority" || lower === "host";
  if (authority && allowAuthority) return undefined;
  if (lower === "host") {
    return `the Host header cannot be changed here; to rewrite the authority of a request use ` +
      `rewrite.authority or headers.request.set with "host"`;
  }
  if (name.startsWith(":")) {
    return `pseudo-header ${show(name)} cannot be changed; only regular headers (and the ` +
      `request authority) can be set, added or removed`;
  }
  return undefined;
}

/** `Headers`: request and response header operations. */
export const headers = obj({
  request: requestOperations.optional(),
  response: responseOperations.optional(),
});

// ---------------------------------------------------------------------------
// Matches

const uriMatch = stringMatch({ allowEmptyPrefix: true });
const valueMatch = stringMatch();

function headerMatchMap() {
  return map(valueMatch).superRefine((value, ctx) => {
    for (const name of Object.keys(value)) {
      const error = checkMatchHeaderName(name);
      if (error) ctx.addIssue({ code: "custom", path: [name], message: error });
    }
  });
}

/** `HTTPMatchRequest`. */
export const httpMatchRequest = obj({
  name: text().optional(),
  uri: uriMatch.optional(),
  scheme: valueMatch.optional(),
  method: valueMatch.optional(),
  authority: valueMatch.optional(),
  headers: headerMatchMap().optional(),
  port: port().optional(),
  sourceLabels: labels().optional(),
  gateways: gatewayNames().optional(),
  queryParams: map(valueMatch).optional(),
  ignoreUriCase: bool().optional(),
  withoutHeaders: headerMatchMap().optional(),
  sourceNamespace: dnsLabel("sourceNamespace").optional(),
  statPrefix: text().optional(),
});

const l4Match = obj({
  destinationSubnets: list(ipOrCidr("destination subnet")).optional(),
  port: port().optional(),
  sourceSubnet: ipOrCidr("source subnet").optional(),
  sourceLabels: labels().optional(),
  gateways: gatewayNames().optional(),
  sourceNamespace: dnsLabel("sourceNamespace").optional(),
});

const tlsMatch = obj({
  sniHosts: stringList(),
  destinationSubnets: list(ipOrCidr("destination subnet")).optional(),
  port: port().optional(),
  sourceLabels: labels().optional(),
  gateways: gatewayNames().optional(),
  sourceNamespace: dnsLabel("sourceNamespace").optional(),
}, (v, report) => {
  if (Array.isArray(v.sniHosts) && v.sniHosts.length === 0) {
    report(["sniHosts"], `sniHosts is empty; list at least one SNI host to match`);
  }
});

// ---------------------------------------------------------------------------
// Route actions

/** `HTTPRouteDestination`. */
export const httpRouteDestination = obj({
  destination: destination,
  weight: weight().optional(),
  headers: headers.optional(),
});

/** `RouteDestination` (TCP and TLS routes). */
export const routeDestination = obj({
  destination: destination,
  weight: weight().optional(),
});

function checkWeights(routes: unknown, report: Report, path: PropertyKey[]): void {
  const items = asArray(routes);
  if (items.length < 2) return;
  let total = 0;
  for (const item of items) {
    const w = asObject(item)?.weight;
    if (typeof w === "number" && w > 0) total += w;
    else if (typeof w === "number" && w < 0) return; // reported on the weight itself
  }
  if (total === 0) {
    report(
      path,
      `all ${items.length} destinations have weight 0, so no traffic could be routed; ` +
        `give at least one destination a positive weight (weights are relative)`,
    );
  }
}

const REDIRECT_PORT_SELECTION = ["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] as const;

/** `HTTPRedirect`. Checks that need the route's matches live in {@link httpRoute}. */
export const httpRedirect = obj({
  uri: text().optional(),
  authority: text().optional(),
  port: port().optional(),
  derivePort: z.enum(REDIRECT_PORT_SELECTION, {
    error: (issue) =>
      `invalid derivePort ${show(issue.input)}; use FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT`,
  }).optional(),
  scheme: text().optional(),
  redirectCode: int({ min: 300, max: 399, what: "redirectCode", hint: "e.g. 301, 302, 307" })
    .optional(),
  prefixRewrite: text().optional(),
}, (v, report, { unknownFields }) => {
  if (isNonEmptyString(v.uri) && isNonEmptyString(v.prefixRewrite)) {
    report(
      [],
      `redirect sets both uri and prefixRewrite; uri replaces the whole path and prefixRewrite ` +
        `only the matched prefix, so keep one`,
    );
  }
  if (isSet(v.port) && isSet(v.derivePort)) {
    report(
      [],
      `redirect sets both port and derivePort; keep port for a fixed port or derivePort to ` +
        `compute it`,
    );
  }
  const any = ["uri", "prefixRewrite", "authority", "scheme"].some((f) =>
    isNonEmptyString((v as Record<string, unknown>)[f])
  ) || isSet(v.port) || isSet(v.derivePort);
  if (!any && unknownFields === 0) {
    report(
      [],
      `redirect changes nothing; set at least one of uri, prefixRewrite, authority, scheme, ` +
        `port or derivePort`,
    );
  }
  if (
    typeof v.scheme === "string" && v.scheme !== "" && v.scheme !== "http" && v.scheme !== "https"
  ) {
    report(["scheme"], `redirect scheme ${show(v.scheme)} is invalid; use "http" or "https"`);
  }
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ONE_MB = 1024 * 1024;

const httpBody = obj({
  string: text().optional(),
  bytes: text().optional(),
}, (v, report) => {
  if (isSet(v.string) && isSet(v.bytes)) {
    report([], `body sets both string and bytes; keep one`);
  }
  if (typeof v.bytes === "string" && !BASE64.test(v.bytes.replace(/\s+/g, ""))) {
    report(["bytes"], `body bytes is not valid base64; encode the body in base64, or use string`);
  }
  const size = typeof v.string === "string"
    ? new TextEncoder().encode(v.string).length
    : typeof v.bytes === "string"
    ? Math.floor(v.bytes.length * 3 / 4)
    : 0;
  if (size > ONE_MB) {
    report(
      [],
      `direct response body is ${size} bytes; the limit is 1 MB, serve large bodies ` +
        `from a service instead`,
    );
  }
});

/** `HTTPDirectResponse`. */
export const httpDirectResponse = obj({
  status: httpStatus(),
  body: httpBody.optional(),
});

const regexRewrite = obj({
  match: text().optional(),
  rewrite: text().optional(),
}, (v, report) => {
  if (!isNonEmptyString(v.match) || !isSet(v.rewrite) || v.rewrite === "") {
    report(
      [],
      `uriRegexRewrite needs both match (an RE2 pattern) and rewrite (the replacement); set both`,
    );
  }
  if (isNonEmptyString(v.match)) {
    const error = checkRegex(v.match);
    if (error) report(["match"], error);
  }
});

/** `HTTPRewrite`. */
export const httpRewrite = obj({
  uri: text().optional(),
  authority: text().optional(),
  uriRegexRewrite: regexRewrite.optional(),
}, (v, report, { unknownFields }) => {
  if (isNonEmptyString(v.uri) && isSet(v.uriRegexRewrite)) {
    report([], `rewrite sets both uri and uriRegexRewrite; keep one`);
  }
  if (
    unknownFields === 0 && !isNonEmptyString(v.uri) && !isSet(v.uriRegexRewrite) &&
    !isNonEmptyString(v.authority)
  ) {
    report([], `rewrite changes nothing; set uri, uriRegexRewrite or authority`);
  }
});

const RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);

/** `HTTPRetry`. */
export const httpRetry = obj({
  attempts: int({ min: 0, max: 2147483647, what: "attempts" }).optional(),
  perTryTimeout: duration().optional(),
  retryOn: text().superRefine((value, ctx) => {
    for (const token of value.split(",")) {
      if (RETRY_ON.has(token)) continue;
      if (/^\d{3}$/.test(token) && Number(token) >= 100 && Number(token) <= 599) continue;
      const hint = token.trim() !== token
        ? "; remove the spaces around commas"
        : token === ""
        ? "; remove the empty entry (a doubled or trailing comma)"
        : "";
      ctx.addIssue({
        code: "custom",
        message: `retryOn condition ${show(token)} is not known${hint}; use a comma-separated ` +
          `list of Envoy conditions (5xx, gateway-error, reset, connect-failure, ` +
          `refused-stream, retriable-4xx, retriable-status-codes, unavailable, cancelled, ...) ` +
          `or HTTP status codes such as 503`,
      });
    }
  }).optional(),
  retryRemoteLocalities: bool().optional(),
  retryIgnorePreviousHosts: bool().optional(),
  backoff: duration().optional(),
}, (v, report) => {
  const attempts = v.attempts ?? 0;
  if (attempts === 0) {
    const set = setFields(v as Record<string, unknown>, [
      "perTryTimeout",
      "retryOn",
      "retryRemoteLocalities",
    ]);
    if (set.length > 0) {
      report(
        [],
        `retries sets ${listWords(set)} but attempts is 0${
          isSet(v.attempts) ? "" : " (unset means 0)"
        }, which disables retries; set attempts to 1 or more, or remove ${
          set.length > 1 ? "them" : "it"
        }`,
      );
    }
  }
});

const ALLOWED_CORS_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "*",
]);

const corsHeaderName = text().superRefine((value, ctx) => {
  if (value !== "*" && !/^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/.test(value)) {
    ctx.addIssue({
      code: "custom",
      message: `header name ${show(value)} is invalid; use an HTTP header name such as ` +
        `"content-type", or "*"`,
    });
  }
});

/** `CorsPolicy`. */
export const corsPolicy = obj({
  allowOrigin: stringList().optional(),
  allowOrigins: list(
    stringMatch().superRefine((value, ctx) => {
      const m = value as Record<string, unknown>;
      if (!isNonEmptyString(m.exact) && !isNonEmptyString(m.prefix) && !isNonEmptyString(m.regex)) {
        ctx.addIssue({
          code: "custom",
          message: `allowOrigins entry matches nothing; give exact, prefix or regex, e.g. ` +
            `exact: "https://example.com"`,
        });
      }
    }),
  ).optional(),
  allowMethods: list(
    text().superRefine((value, ctx) => {
      if (!ALLOWED_CORS_METHODS.has(value)) {
        ctx.addIssue({
          code: "custom",
          message: `${show(value)} is not a supported HTTP method; use one of GET, HEAD, POST, ` +
            `PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE or "*" (upper case)`,
        });
      }
    }),
  ).optional(),
  allowHeaders: list(corsHeaderName).optional(),
  exposeHeaders: list(corsHeaderName).optional(),
  maxAge: duration().superRefine((value, ctx) => {
    const ms = parseDuration(value);
    if (ms !== undefined && ms % 1000 !== 0) {
      ctx.addIssue({
        code: "custom",
        message: `maxAge ${show(value)} is not a whole number of seconds; ` +
          `Access-Control-Max-Age has second precision, e.g. 24h or 30s`,
      });
    }
  }).optional(),
  allowCredentials: bool().optional(),
  unmatchedPreflights: z.enum(["UNSPECIFIED", "FORWARD", "IGNORE"], {
    error: (issue) =>
      `invalid unmatchedPreflights ${show(issue.input)}; use FORWARD (default) or IGNORE`,
  }).optional(),
});

const GRPC_STATUS = new Set([
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
]);
const GRPC_BY_NUMBER = [...GRPC_STATUS];

const faultDelay = obj({
  percent: intPercent().optional(),
  fixedDelay: duration().optional(),
  exponentialDelay: duration().optional(),
  percentage: faultPercentage().optional(),
}, (v, report, { unknownFields }) => {
  if (isSet(v.exponentialDelay)) {
    report(
      ["exponentialDelay"],
      `exponentialDelay is not supported; use fixedDelay (e.g. fixedDelay: 5s)`,
    );
  } else if (!isSet(v.fixedDelay) && unknownFields === 0) {
    report([], `delay has no fixedDelay, so it would delay nothing; set fixedDelay, e.g. 5s`);
  }
});

const faultAbort = obj({
  // Removed from the API (reserved) but used by the seed documents; accepted, deprecated.
  percent: intPercent().optional(),
  httpStatus: httpStatus().optional(),
  grpcStatus: text().superRefine((value, ctx) => {
    if (GRPC_STATUS.has(value)) return;
    const byNumber = /^\d+$/.test(value) ? GRPC_BY_NUMBER[Number(value)] : undefined;
    ctx.addIssue({
      code: "custom",
      message: byNumber
        ? `grpcStatus ${show(value)} must be given by name; write ${show(byNumber)}`
        : `grpcStatus ${show(value)} is not a gRPC status name; use one of ${
          [...GRPC_STATUS].join(", ")
        }`,
    });
  }).optional(),
  http2Error: text().optional(),
  percentage: faultPercentage().optional(),
}, (v, report) => {
  const set = setFields(v as Record<string, unknown>, ["httpStatus", "grpcStatus", "http2Error"]);
  if (set.length > 1) {
    report([], `abort sets ${listWords(set)}; an abort returns one error, keep one of them`);
  }
  if (isSet(v.http2Error)) {
    report(["http2Error"], `http2Error aborts are not supported; use httpStatus or grpcStatus`);
  }
});

/** `HTTPFaultInjection`. */
export const httpFaultInjection = obj({
  delay: faultDelay.optional(),
  abort: faultAbort.optional(),
}, (v, report, { unknownFields }) => {
  if (unknownFields === 0 && !isSet(v.delay) && !isSet(v.abort)) {
    report([], `fault injects nothing; set delay, abort, or both`);
  }
});

/** `HTTPMirrorPolicy`. */
export const httpMirrorPolicy = obj({
  destination: destination,
  percentage: obj({ value: num({ min: 0, max: 100, what: "mirror percentage" }).optional() })
    .optional(),
});

/** `Delegate`: the VirtualService whose routes are merged in. */
export const delegate = obj({
  name: dnsLabel("delegate name").optional(),
  namespace: dnsLabel("delegate namespace").optional(),
}, (v, report) => {
  if (!isNonEmptyString(v.name)) {
    report([], `delegate needs a name; name the delegate VirtualService`);
  }
});

/** `HTTPRoute`. Context-free rules; delegate/root rules are checked by the spec. */
export const httpRoute = obj({
  name: text().optional(),
  match: list(httpMatchRequest).optional(),
  route: list(httpRouteDestination).optional(),
  redirect: httpRedirect.optional(),
  directResponse: httpDirectResponse.optional(),
  delegate: delegate.optional(),
  rewrite: httpRewrite.optional(),
  timeout: duration({ allowZero: true }).optional(),
  retries: httpRetry.optional(),
  fault: httpFaultInjection.optional(),
  mirror: destination.optional(),
  mirrors: list(httpMirrorPolicy).optional(),
  mirrorPercent: intPercent("mirrorPercent").optional(),
  mirrorPercentage: obj({
    value: num({ min: 0, max: 100, what: "mirror percentage" }).optional(),
  }).optional(),
  corsPolicy: corsPolicy.optional(),
  headers: headers.optional(),
}, checkHttpRoute);

function checkHttpRoute(
  v: Record<string, unknown>,
  report: Report,
  { unknownFields }: RefineContext,
): void {
  const actions: string[] = [];
  if (hasContent(v.route)) actions.push("route");
  if (isSet(v.redirect)) actions.push("redirect");
  if (isSet(v.directResponse)) actions.push("directResponse");
  if (isSet(v.delegate)) actions.push("delegate");
  if (actions.length === 0 && unknownFields === 0) {
    report(
      [],
      `HTTP route has no action; set exactly one of route (forward to destinations), redirect, ` +
        `directResponse or delegate`,
    );
  } else if (actions.length > 1) {
    report([], `HTTP route sets ${listWords(actions)}; keep exactly one of them`);
  }
  for (const action of ["redirect", "directResponse"]) {
    if (!isSet(v[action])) continue;
    for (const other of ["fault", "rewrite"]) {
      if (isSet(v[other])) {
        report(
          [],
          `HTTP route combines ${action} with ${other}; ${action} answers the request itself, ` +
            `so ${other} would never apply; remove one of them`,
        );
      }
    }
  }
  if (isSet(v.mirror) && hasContent(v.mirrors)) {
    report([], `HTTP route sets both mirror and mirrors; move the mirror into the mirrors list`);
  }
  const redirect = asObject(v.redirect);
  if (redirect && isNonEmptyString(redirect.prefixRewrite)) {
    asArray(v.match).forEach((m, index) => {
      const uri = asObject(asObject(m)?.uri);
      if (uri && !isSet(uri.prefix)) {
        report(
          ["match", index, "uri"],
          `redirect.prefixRewrite needs every uri match to be a prefix match, but this one is ` +
            `${isSet(uri.exact) ? "exact" : isSet(uri.regex) ? "regex" : "empty"}; use prefix ` +
            `here or redirect.uri instead`,
        );
      }
    });
  }
  checkWeights(v.route, report, ["route"]);
  checkAuthorityRewrite(v, report);
}

function checkAuthorityRewrite(v: Record<string, unknown>, report: Report): void {
  const sources: string[] = [];
  if (isNonEmptyString(asObject(v.rewrite)?.authority)) sources.push("rewrite.authority");
  const request = asObject(asObject(v.headers)?.request);
  for (const op of ["set", "add"]) {
    for (const name of Object.keys(asObject(request?.[op]) ?? {})) {
      const lower = name.toLowerCase();
      if (lower === ":authority" || lower === "host") sources.push(`headers.request.${op}.${name}`);
    }
  }
  if (sources.length > 1) {
    report(
      [],
      `the request authority is rewritten more than once (${listWords(sources)}); keep one`,
    );
  }
}

/** `TLSRoute`. SNI hosts are checked against the VirtualService hosts by the spec. */
export const tlsRoute = obj({
  match: list(tlsMatch),
  route: list(routeDestination).optional(),
}, (v, report) => {
  if (Array.isArray(v.match) && v.match.length === 0) {
    report(["match"], `TLS route has no match; add a match with sniHosts`);
  }
  if (!hasContent(v.route)) {
    report([], `TLS route has no destination; add route with at least one destination`);
  }
  checkWeights(v.route, report, ["route"]);
});

/** `TCPRoute`. */
export const tcpRoute = obj({
  match: list(l4Match).optional(),
  route: list(routeDestination).optional(),
}, (v, report) => {
  if (!hasContent(v.route)) {
    report([], `TCP route has no destination; add route with at least one destination`);
  }
  checkWeights(v.route, report, ["route"]);
});

// ---------------------------------------------------------------------------
// Spec

/** The VirtualService `spec`. */
export const virtualServiceSpec = obj({
  hosts: stringList().optional(),
  gateways: gatewayNames().optional(),
  http: list(httpRoute).optional(),
  tls: list(tlsRoute).optional(),
  tcp: list(tcpRoute).optional(),
  exportTo: exportTo().optional(),
}, checkVirtualService);

/** The validated (not normalized) VirtualService spec. */
export type VirtualServiceSpec = z.infer<typeof virtualServiceSpec>;
/** One validated HTTP route. */
export type HTTPRoute = z.infer<typeof httpRoute>;
/** One validated HTTP match block. */
export type HTTPMatchRequest = z.infer<typeof httpMatchRequest>;

function checkVirtualService(
  v: Record<string, unknown>,
  report: Report,
  { unknownFields }: RefineContext,
): void {
  const hosts = asArray(v.hosts).filter((h): h is string => typeof h === "string");
  const gateways = asArray(v.gateways).filter((g): g is string => typeof g === "string");
  const isDelegate = hosts.length === 0;
  const appliesToMesh = gateways.length === 0 || gateways.includes("mesh");
  const appliesToGatewayOnly = gateways.length > 0 && !gateways.includes("mesh");

  if (unknownFields === 0 && !hasContent(v.http) && !hasContent(v.tcp) && !hasContent(v.tls)) {
    report([], `VirtualService has no routes; add http, tcp or tls routes`);
  }

  if (isDelegate) {
    if (gateways.length > 0) {
      report(
        ["gateways"],
        `a VirtualService without hosts is a delegate, and a delegate cannot name gateways; ` +
          `add hosts, or remove gateways (the root VirtualService decides where it applies)`,
      );
    }
    for (const kind of ["tls", "tcp"]) {
      if (hasContent(v[kind])) {
        report(
          [kind],
          `a VirtualService without hosts is a delegate, and delegates support only http routes; ` +
            `add hosts, or move the ${kind} routes to the root VirtualService`,
        );
      }
    }
  }

  // Hosts.
  let hostsValid = true;
  asArray(v.hosts).forEach((h, index) => {
    if (typeof h !== "string") return;
    if (h === "*" && appliesToMesh) {
      hostsValid = false;
      report(
        ["hosts", index],
        `host "*" is not allowed for a VirtualService that applies to sidecars (gateways ` +
          `omitted or containing "mesh"); name the hosts, or bind it to gateways only`,
      );
      return;
    }
    if (isIP(h)) return;
    const error = checkHost(h, { what: "host" });
    if (error) {
      hostsValid = false;
      report(["hosts", index], error);
    }
  });
  if (hostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostMatches(hosts[i], hosts[j]) || hostMatches(hosts[j], hosts[i])) {
          report(
            ["hosts", j],
            `hosts ${show(hosts[i])} and ${show(hosts[j])} overlap; list each host once ` +
              `(a wildcard already covers the names under it)`,
          );
        }
      }
    }
  }

  // HTTP routes: delegate rules and gateway-only features.
  asArray(v.http).forEach((r, index) => {
    const route = asObject(r);
    if (!route) return;
    if (isDelegate && isSet(route.delegate)) {
      report(
        ["http", index, "delegate"],
        `a delegate VirtualService (no hosts) cannot delegate again; only one level of ` +
          `delegation is supported`,
      );
    }
    if (!appliesToGatewayOnly) {
      asArray(route.match).forEach((m, mi) => {
        const match = asObject(m);
        for (const field of ["headers", "withoutHeaders"]) {
          for (const key of Object.keys(asObject(match?.[field]) ?? {})) {
            if (isJwtClaimKey(key)) {
              report(
                ["http", index, "match", mi, field, key],
                `JWT claim routing (${show(key)}) works only on gateways; list the Gateway in ` +
                  `gateways (without "mesh"), or match on a regular header`,
              );
            }
          }
        }
      });
    }
  });

  // TLS routes: SNI hosts must lie within the VirtualService hosts.
  asArray(v.tls).forEach((r, index) => {
    asArray(asObject(r)?.match).forEach((m, mi) => {
      asArray(asObject(m)?.sniHosts).forEach((sni, si) => {
        if (typeof sni !== "string") return;
        const path = ["tls", index, "match", mi, "sniHosts", si];
        if (isIP(sni)) return;
        const error = checkHost(sni, { what: "SNI host" });
        if (error) {
          report(path, error);
          return;
        }
        const covered = hosts.some((h) =>
          h.toLowerCase() === sni.toLowerCase() || hostMatches(h, sni)
        );
        if (!covered) {
          report(
            path,
            `SNI host ${show(sni)} is not within the VirtualService hosts [${hosts.join(", ")}]; ` +
              `add it (or a covering wildcard) to hosts, or fix the SNI host`,
          );
        }
      });
    });
  });
}
