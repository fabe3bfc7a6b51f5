/**
 * DestinationRule spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field
 * of `networking/v1alpha3/destination_rule.proto`, validated the way Istio's
 * `ValidateDestinationRule` does. `ConnectionPoolSettings` is shared with the
 * Sidecar schema.
 *
 * @module
 */

import { z } from "zod";
import { isIP } from "../host.ts";
import {
  asArray,
  asObject,
  bool,
  checkDnsName,
  checkHost,
  dnsLabel,
  duration,
  enumOf,
  exportTo,
  hasContent,
  int,
  isNonEmptyString,
  isSet,
  labels,
  list,
  listWords,
  map,
  nonNegativeInt32,
  num,
  obj,
  port,
  type Report,
  setFields,
  show,
  stringList,
  text,
  uint32,
  workloadSelector,
} from "./primitives.ts";
import { portSelector } from "./virtual_service.ts";

// ---------------------------------------------------------------------------
// Load balancing

const cookieAttribute = obj({ name: text(), value: text().optional() }, (v, report) => {
  if (v.name === "") report(["name"], `cookie attribute name is empty; name the attribute`);
});

const httpCookie = obj({
  name: text(),
  path: text().optional(),
  // 0s means a session cookie, so any non-negative duration is accepted.
  ttl: duration({ min1ms: false }).optional(),
  attributes: list(cookieAttribute).optional(),
}, (v, report) => {
  if (v.name === "") report(["name"], `cookie name is empty; name the cookie to hash on`);
  const seen = new Set<string>();
  asArray(v.attributes).forEach((a, index) => {
    const name = asObject(a)?.name;
    if (typeof name !== "string" || name === "") return;
    if (seen.has(name)) {
      report(
        ["attributes", index, "name"],
        `cookie attribute ${show(name)} is listed twice; ` +
          `remove the duplicate`,
      );
    }
    seen.add(name);
  });
});

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0) return false;
  for (let f = 3; f * f <= n; f += 2) if (n % f === 0) return false;
  return true;
}

const HASH_KEYS = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"];

const consistentHash = obj({
  httpHeaderName: text().optional(),
  httpCookie: httpCookie.optional(),
  useSourceIp: bool().optional(),
  httpQueryParameterName: text().optional(),
  ringHash: obj({ minimumRingSize: uint32("minimumRingSize").optional() }).optional(),
  maglev: obj({ tableSize: uint32("tableSize").optional() }, (v, report) => {
    const size = v.tableSize;
    if (!isSet(size) || size === 0) {
      report([], `maglev needs tableSize; set a prime number below 5000011, e.g. 65537`);
    } else if (typeof size === "number" && Number.isInteger(size)) {
      if (size >= 5000011) {
        report(["tableSize"], `maglev tableSize ${size} is too large; use a prime below 5000011`);
      } else if (!isPrime(size)) {
        report(
          ["tableSize"],
          `maglev tableSize ${size} is not a prime number; use a prime such ` +
            `as 65537`,
        );
      }
    }
  }).optional(),
  minimumRingSize: uint32("minimumRingSize").optional(),
}, (v, report, { unknownFields }) => {
  const keys = setFields(v as Record<string, unknown>, HASH_KEYS);
  if (keys.length === 0 && unknownFields === 0) {
    report([], `consistentHash has no hash key; set one of ${listWords(HASH_KEYS, "or")}`);
  } else if (keys.length > 1) {
    report([], `consistentHash sets ${listWords(keys)}; a hash uses one key, keep one`);
  }
  const algorithms = setFields(v as Record<string, unknown>, [
    "ringHash",
    "maglev",
    "minimumRingSize",
  ]);
  if (algorithms.length > 1) {
    report(
      [],
      `consistentHash sets ${listWords(algorithms)}; choose one algorithm: ringHash or maglev ` +
        `(minimumRingSize is the deprecated spelling of ringHash.minimumRingSize)`,
    );
  }
});

function checkLocalities(localities: string[], report: Report, path: PropertyKey[]): void {
  for (const locality of localities) {
    const stars = locality.split("*").length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith("*"))) {
      report(
        path,
        `locality ${show(locality)} may use "*" only once, as its last part ` +
          `(e.g. "us-east/*")`,
      );
      continue;
    }
    if (locality.split("/", 3).some((part) => part === "") || locality.split("/").length > 3) {
      report(
        path,
        `locality ${show(locality)} has an empty or extra part; write ` +
          `region, region/zone or region/zone/subzone`,
      );
    }
  }
}

const TOPOLOGY_LABELS = new Set([
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
  "topology.istio.io/subzone",
]);

const distribute = obj({
  from: text().optional(),
  to: map(int({ min: 1, max: 100, what: "locality weight" })).optional(),
}, (v, report) => {
  const to = asObject(v.to) ?? {};
  const weights = Object.values(to).filter((w): w is number => typeof w === "number");
  const total = weights.reduce((a, b) => a + b, 0);
  if (weights.length === Object.keys(to).length && total !== 100) {
    report(["to"], `distribute weights add up to ${total}; they must add up to exactly 100`);
  }
  checkLocalities(Object.keys(to), report, ["to"]);
  if (typeof v.from === "string") checkLocalities([v.from], report, ["from"]);
});

const failover = obj({ from: text().optional(), to: text().optional() }, (v, report) => {
  if (typeof v.from === "string" && v.from === v.to) {
    report(
      [],
      `failover from and to are the same region ${show(v.from)}; name two ` +
        `different regions`,
    );
  }
  for (const field of ["from", "to"] as const) {
    const value = v[field];
    if (typeof value !== "string") continue;
    if (value.includes("/")) {
      report(
        [field],
        `failover ${field} ${show(value)} names more than a region; failover ` +
          `takes regions only (e.g. "us-east")`,
      );
    }
    if (value.includes("*")) {
      report([field], `failover ${field} ${show(value)} contains "*"; name a region`);
    }
  }
});

const localityLbSetting = obj({
  distribute: list(distribute).optional(),
  failover: list(failover).optional(),
  failoverPriority: stringList().optional(),
  enabled: bool().optional(),
}, (v, report) => {
  if (hasContent(v.distribute) && hasContent(v.failover)) {
    report([], `localityLbSetting sets both distribute and failover; they are exclusive, keep one`);
  }
  if (hasContent(v.failover)) {
    asArray(v.failoverPriority).forEach((label, index) => {
      if (typeof label === "string" && TOPOLOGY_LABELS.has(label)) {
        report(
          ["failoverPriority", index],
          `failoverPriority cannot use the topology label ` +
            `${show(label)} together with failover; remove the label or the failover list`,
        );
      }
    });
  }
});

const zoneAwareLbSetting = obj({
  enabled: bool().optional(),
  failover: list(failover).optional(),
  failoverPriority: stringList().optional(),
  minClusterSize: int({ min: 1, what: "minClusterSize" }).optional(),
}, (v, report) => {
  asArray(v.failoverPriority).forEach((label, index) => {
    if (typeof label === "string" && TOPOLOGY_LABELS.has(label)) {
      report(
        ["failoverPriority", index],
        `zone-aware failoverPriority must not use the ` +
          `topology label ${show(label)}; region and zone routing are automatic`,
      );
    }
  });
});

const warmup = obj({
  duration: duration(),
  minimumPercent: num({ min: 0, max: 100, what: "minimumPercent" }).optional(),
  aggression: num({ min: 0, what: "aggression" }).optional(),
}, (v, report) => {
  if (v.aggression === 0) {
    report(["aggression"], `aggression 0 is invalid; use a number greater than 0 (1.0 is linear)`);
  }
});

const backendUtilization = obj({
  weightExpirationPeriod: duration({ min1ms: false }).optional(),
  weightUpdatePeriod: duration({ min1ms: false }).optional(),
  weightStabilizationPeriod: duration({ min1ms: false }).optional(),
  errorUtilizationPenaltyPercent: uint32("errorUtilizationPenaltyPercent").optional(),
  metricNamesForComputingUtilization: stringList().optional(),
});

const SIMPLE_LB = [
  "UNSPECIFIED",
  "LEAST_CONN",
  "RANDOM",
  "PASSTHROUGH",
  "ROUND_ROBIN",
  "LEAST_REQUEST",
] as const;

/** `LoadBalancerSettings`. */
export const loadBalancerSettings = obj({
  simple: enumOf(SIMPLE_LB).optional(),
  consistentHash: consistentHash.optional(),
  backendUtilization: backendUtilization.optional(),
  localityLbSetting: localityLbSetting.optional(),
  zoneAwareLbSetting: zoneAwareLbSetting.optional(),
  warmupDurationSecs: duration().optional(),
  warmup: warmup.optional(),
}, (v, report) => {
  const policies = setFields(v as Record<string, unknown>, [
    "simple",
    "consistentHash",
    "backendUtilization",
  ]);
  if (policies.length > 1) {
    report([], `loadBalancer sets ${listWords(policies)}; choose one balancing policy`);
  }
  if (isSet(v.localityLbSetting) && isSet(v.zoneAwareLbSetting)) {
    report([], `loadBalancer sets both localityLbSetting and zoneAwareLbSetting; keep one`);
  }
  if (isSet(v.warmupDurationSecs) && isSet(v.warmup)) {
    report(
      [],
      `loadBalancer sets both warmupDurationSecs and warmup; keep warmup ` +
        `(warmupDurationSecs is its older form)`,
    );
  }
});

// ---------------------------------------------------------------------------
// Connection pool

const tcpSettings = obj({
  maxConnections: nonNegativeInt32("maxConnections").optional(),
  connectTimeout: duration().optional(),
  tcpKeepalive: obj({
    probes: uint32("probes").optional(),
    time: duration().optional(),
    interval: duration().optional(),
  }).optional(),
  maxConnectionDuration: duration().optional(),
  // 0s disables the idle timeout.
  idleTimeout: duration({ allowZero: true }).optional(),
});

const H2_UPGRADE = ["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] as const;

const httpSettings = obj({
  http1MaxPendingRequests: nonNegativeInt32("http1MaxPendingRequests").optional(),
  http2MaxRequests: nonNegativeInt32("http2MaxRequests").optional(),
  maxRequestsPerConnection: nonNegativeInt32("maxRequestsPerConnection").optional(),
  maxRetries: nonNegativeInt32("maxRetries").optional(),
  idleTimeout: duration().optional(),
  h2UpgradePolicy: enumOf(H2_UPGRADE).optional(),
  useClientProtocol: bool().optional(),
  maxConcurrentStreams: nonNegativeInt32("maxConcurrentStreams").optional(),
  http2KeepAlive: obj({
    interval: duration(),
    timeout: duration(),
  }).optional(),
}, (v, report) => {
  if (v.h2UpgradePolicy === "UPGRADE" && v.useClientProtocol === true) {
    report(
      [],
      `h2UpgradePolicy UPGRADE conflicts with useClientProtocol: true (which keeps ` +
        `the client's protocol); set one of them`,
    );
  }
});

/** `ConnectionPoolSettings` (also Sidecar `inboundConnectionPool` and ingress `connectionPool`). */
export const connectionPoolSettings = obj({
  tcp: tcpSettings.optional(),
  http: httpSettings.optional(),
}, (v, report, { unknownFields }) => {
  if (unknownFields === 0 && !isSet(v.tcp) && !isSet(v.http)) {
    report([], `connectionPool is empty; set tcp and/or http limits, or remove it`);
  }
});

// ---------------------------------------------------------------------------
// Outlier detection

/** `OutlierDetection`. */
export const outlierDetection = obj({
  consecutiveErrors: int({ min: -2147483648, max: 2147483647, what: "consecutiveErrors" })
    .optional(),
  splitExternalLocalOriginErrors: bool().optional(),
  consecutiveLocalOriginFailures: uint32("consecutiveLocalOriginFailures").optional(),
  consecutiveGatewayErrors: uint32("consecutiveGatewayErrors").optional(),
  consecutive5xxErrors: uint32("consecutive5xxErrors").optional(),
  interval: duration().optional(),
  baseEjectionTime: duration().optional(),
  maxEjectionPercent: int({ min: 0, max: 100, what: "maxEjectionPercent" }).optional(),
  minHealthPercent: int({ min: 0, max: 100, what: "minHealthPercent" }).optional(),
  outlierDetectionHttpErrorCodes: list(int({ min: 100, max: 599, what: "HTTP status" }))
    .optional(),
}, (v, report) => {
  if (
    typeof v.consecutiveLocalOriginFailures === "number" && v.consecutiveLocalOriginFailures > 0 &&
    v.splitExternalLocalOriginErrors !== true
  ) {
    report(
      ["consecutiveLocalOriginFailures"],
      `consecutiveLocalOriginFailures only counts when ` +
        `splitExternalLocalOriginErrors is true; set splitExternalLocalOriginErrors: true or ` +
        `remove it`,
    );
  }
});

// ---------------------------------------------------------------------------
// Client TLS

const CLIENT_TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;

/** `ClientTLSSettings`. */
export const clientTlsSettings = obj({
  mode: enumOf(CLIENT_TLS_MODES).optional(),
  clientCertificate: text().optional(),
  privateKey: text().optional(),
  caCertificates: text().optional(),
  credentialName: text().optional(),
  subjectAltNames: stringList().optional(),
  sni: text().optional(),
  insecureSkipVerify: bool().optional(),
  caCrl: text().optional(),
}, (v, report) => {
  const files = setFields(v as Record<string, unknown>, [
    "clientCertificate",
    "privateKey",
    "caCertificates",
    "caCrl",
  ]).filter((f) => isNonEmptyString((v as Record<string, unknown>)[f]));
  if (v.mode === "ISTIO_MUTUAL") {
    const extra = [...files];
    if (isNonEmptyString(v.credentialName)) extra.push("credentialName");
    if (extra.length > 0) {
      report(
        [],
        `tls mode ISTIO_MUTUAL uses the mesh certificates, so ${listWords(extra)} ` +
          `must not be set; remove ${extra.length > 1 ? "them" : "it"} or use mode MUTUAL`,
      );
    }
    return;
  }
  if (v.insecureSkipVerify === true) {
    const conflicting = v.mode === "SIMPLE"
      ? ["caCertificates", "credentialName", "subjectAltNames"]
      : v.mode === "MUTUAL"
      ? ["caCertificates", "subjectAltNames"]
      : [];
    const set = setFields(v as Record<string, unknown>, conflicting);
    if (set.length > 0) {
      report(
        [],
        `insecureSkipVerify: true skips server verification, so ${listWords(set)} ` +
          `would be ignored; remove ${set.length > 1 ? "them" : "it"} or insecureSkipVerify`,
      );
    }
  }
  if ((v.mode === "SIMPLE" || v.mode === "MUTUAL") && isNonEmptyString(v.credentialName)) {
    if (files.length > 0) {
      report(
        [],
        `credentialName already provides the certificates, so ${listWords(files)} ` +
          `must not be set; remove ${files.length > 1 ? "them" : "it"}`,
      );
    }
    return;
  }
  if (v.mode === "MUTUAL") {
    for (const field of ["clientCertificate", "privateKey"] as const) {
      if (!isNonEmptyString(v[field])) {
        report(
          [],
          `tls mode MUTUAL needs ${field}; set clientCertificate and privateKey ` +
            `(file paths), or credentialName`,
        );
      }
    }
  }
});

// ---------------------------------------------------------------------------
// Traffic policy

const POLICY_BLOCKS = ["loadBalancer", "connectionPool", "outlierDetection", "tls"] as const;

const portTrafficPolicy = obj({
  port: portSelector.optional(),
  loadBalancer: loadBalancerSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTlsSettings.optional(),
}, (v, report, { unknownFields }) => {
  if (!isSet(v.port)) {
    report([], `portLevelSettings entry has no port; set port.number to the service port`);
  }
  if (
    unknownFields === 0 && setFields(v as Record<string, unknown>, [...POLICY_BLOCKS]).length === 0
  ) {
    report(
      [],
      `portLevelSettings entry sets no policy; set at least one of ` +
        `${listWords([...POLICY_BLOCKS], "or")}`,
    );
  }
});

const tunnel = obj({
  protocol: text().optional(),
  targetHost: text(),
  targetPort: port("targetPort"),
}, (v, report) => {
  if (typeof v.protocol === "string" && !["", "CONNECT", "POST"].includes(v.protocol)) {
    report(["protocol"], `tunnel protocol ${show(v.protocol)} is invalid; use "CONNECT" or "POST"`);
  }
  if (typeof v.targetHost === "string" && !isIP(v.targetHost)) {
    const error = checkDnsName(v.targetHost, "tunnel targetHost");
    if (error) report(["targetHost"], `${error} or an IP address`);
  }
});

const proxyProtocol = obj({ version: enumOf(["V1", "V2"] as const).optional() });

const retryBudget = obj({
  percent: num({ min: 0, max: 100, what: "retry budget percent" }).optional(),
  minRetryConcurrency: uint32("minRetryConcurrency").optional(),
  budgetInterval: duration({ min1ms: false }).optional(),
});

const TRAFFIC_POLICY_FIELDS = [
  ...POLICY_BLOCKS,
  "portLevelSettings",
  "tunnel",
  "proxyProtocol",
  "retryBudget",
];

/** `TrafficPolicy`. */
export const trafficPolicy = obj({
  loadBalancer: loadBalancerSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTlsSettings.optional(),
  portLevelSettings: list(portTrafficPolicy).optional(),
  tunnel: tunnel.optional(),
  proxyProtocol: proxyProtocol.optional(),
  retryBudget: retryBudget.optional(),
}, (v, report, { unknownFields }) => {
  if (
    unknownFields === 0 &&
    setFields(v as Record<string, unknown>, TRAFFIC_POLICY_FIELDS).length === 0
  ) {
    report(
      [],
      `trafficPolicy is empty; set at least one of ${listWords(TRAFFIC_POLICY_FIELDS, "or")}, ` +
        `or remove it`,
    );
  }
  if (isSet(v.tunnel) && isSet(v.proxyProtocol)) {
    report(
      [],
      `trafficPolicy sets both tunnel and proxyProtocol; they cannot be combined, keep one`,
    );
  }
});

const subset = obj({
  name: dnsLabel("subset name"),
  labels: labels().optional(),
  trafficPolicy: trafficPolicy.optional(),
});

// ---------------------------------------------------------------------------
// Spec

/** The DestinationRule `spec`. */
export const destinationRuleSpec = obj({
  host: text().superRefine((value, ctx) => {
    const error = checkHost(value, { what: "host" });
    if (error) ctx.addIssue({ code: "custom", message: error });
  }),
  trafficPolicy: trafficPolicy.optional(),
  subsets: list(subset).optional(),
  exportTo: exportTo().optional(),
  workloadSelector: workloadSelector.optional(),
}, (v, report) => {
  const seen = new Set<string>();
  asArray(v.subsets).forEach((s, index) => {
    const name = asObject(s)?.name;
    if (typeof name !== "string") return;
    if (seen.has(name)) {
      report(
        ["subsets", index, "name"],
        `subset name ${show(name)} is used twice; give every ` +
          `subset a unique name`,
      );
    }
    seen.add(name);
  });
  if (isSet(v.workloadSelector)) {
    const entries = asArray(v.exportTo);
    if (entries.length > 1 || entries.some((e) => e === "*" || e === "~")) {
      report(
        ["exportTo"],
        `a DestinationRule with workloadSelector applies only in its own ` +
          `namespace; set exportTo to ["."] or remove it`,
      );
    }
  }
});

/** The validated (not normalized) DestinationRule spec. */
export type DestinationRuleSpec = z.infer<typeof destinationRuleSpec>;
/** A validated `TrafficPolicy`. */
export type TrafficPolicy = z.infer<typeof trafficPolicy>;
/** A validated `ConnectionPoolSettings`. */
export type ConnectionPoolSettings = z.infer<typeof connectionPoolSettings>;
