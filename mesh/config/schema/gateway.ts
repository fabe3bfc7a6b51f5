/**
 * Gateway spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field of
 * `networking/v1alpha3/gateway.proto`, validated the way Istio's
 * `ValidateGateway` does. `ServerTLSSettings` and the protocol list are shared
 * with the Sidecar schema.
 *
 * @module
 */

import { z } from "zod";
import { isDns1123Label, isIP } from "../host.ts";
import {
  asArray,
  asObject,
  bool,
  checkHost,
  enumOf,
  isNonEmptyString,
  list,
  listWords,
  obj,
  portName,
  type Report,
  selectorLabels,
  show,
  stringList,
  text,
  uint32,
} from "./primitives.ts";

/** Protocols Istio accepts on ports (compared case-insensitively). */
export const PROTOCOLS = [
  "HTTP",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "HTTP2",
  "MONGO",
  "TCP",
  "TLS",
  "UDP",
  "REDIS",
  "MYSQL",
  "HTTP_PROXY",
] as const;

const PROTOCOL_SET = new Set<string>(PROTOCOLS);
const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"]);
const TLS_PROTOCOLS = new Set(["HTTPS", "TLS"]);

/** A protocol name (`HTTP`, `TCP`, ...); case-insensitive like Istio. */
export function protocol(): z.ZodString {
  return text().superRefine((value, ctx) => {
    if (!PROTOCOL_SET.has(value.toUpperCase())) {
      ctx.addIssue({
        code: "custom",
        message: `unsupported protocol ${show(value)}; use one of ${PROTOCOLS.join(", ")}`,
      });
    }
  }) as unknown as z.ZodString;
}

/** True for protocols that carry HTTP (HTTP, HTTP2, GRPC, GRPC-WEB). */
export function isHttpProtocol(value: unknown): boolean {
  return typeof value === "string" && HTTP_PROTOCOLS.has(value.toUpperCase());
}

/** True for HTTPS and TLS. */
export function isTlsProtocol(value: unknown): boolean {
  return typeof value === "string" && TLS_PROTOCOLS.has(value.toUpperCase());
}

const SERVER_TLS_MODES = [
  "PASSTHROUGH",
  "SIMPLE",
  "MUTUAL",
  "AUTO_PASSTHROUGH",
  "ISTIO_MUTUAL",
  "OPTIONAL_MUTUAL",
] as const;
const TLS_PROTOCOL_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;

const tlsCertificate = obj({
  serverCertificate: text().optional(),
  privateKey: text().optional(),
  caCertificates: text().optional(),
});

/** `ServerTLSSettings` (Gateway servers and Sidecar ingress listeners). */
export const serverTlsSettings = obj({
  httpsRedirect: bool().optional(),
  mode: enumOf(SERVER_TLS_MODES).optional(),
  serverCertificate: text().optional(),
  privateKey: text().optional(),
  caCertificates: text().optional(),
  caCrl: text().optional(),
  credentialName: text().optional(),
  credentialNames: stringList().optional(),
  caCertCredentialName: text().optional(),
  tlsCertificates: list(tlsCertificate).optional(),
  subjectAltNames: stringList().optional(),
  verifyCertificateSpki: stringList().optional(),
  verifyCertificateHash: stringList().optional(),
  minProtocolVersion: enumOf(TLS_PROTOCOL_VERSIONS).optional(),
  maxProtocolVersion: enumOf(TLS_PROTOCOL_VERSIONS).optional(),
  cipherSuites: stringList().optional(),
  ecdhCurves: stringList().optional(),
  insecureSkipVerify: bool().optional(),
}, checkServerTls);

function checkServerTls(v: Record<string, unknown>, report: Report): void {
  for (const field of ["credentialNames", "tlsCertificates"]) {
    const items = v[field];
    if (Array.isArray(items) && (items.length < 1 || items.length > 2)) {
      report(
        [field],
        `${field} must list 1 or 2 entries (one RSA and one ECDSA certificate), ` +
          `not ${items.length}`,
      );
    }
  }
  const sources: string[] = [];
  if (isNonEmptyString(v.serverCertificate) && isNonEmptyString(v.privateKey)) {
    sources.push("serverCertificate/privateKey");
  }
  if (isNonEmptyString(v.credentialName)) sources.push("credentialName");
  if (asArray(v.credentialNames).length > 0) sources.push("credentialNames");
  if (asArray(v.tlsCertificates).length > 0) sources.push("tlsCertificates");
  if (sources.length > 1) {
    report([], `tls sets ${listWords(sources)}; give the server certificate one way only`);
  }
  const mode = v.mode ?? "PASSTHROUGH";
  if (mode === "ISTIO_MUTUAL") {
    const set = [
      "serverCertificate",
      "privateKey",
      "caCertificates",
      "credentialName",
    ].filter((f) => isNonEmptyString(v[f]));
    for (const f of ["credentialNames", "tlsCertificates"]) if (asArray(v[f]).length) set.push(f);
    if (set.length > 0) {
      report(
        [],
        `tls mode ISTIO_MUTUAL uses the mesh certificates, so ${listWords(set)} must ` +
          `not be set; remove ${set.length > 1 ? "them" : "it"} or use mode SIMPLE/MUTUAL`,
      );
    }
    return;
  }
  if (mode !== "SIMPLE" && mode !== "MUTUAL" && mode !== "OPTIONAL_MUTUAL") return;
  const mutual = mode !== "SIMPLE";
  if (isNonEmptyString(v.caCrl)) {
    if (isNonEmptyString(v.credentialName)) {
      report(
        ["caCrl"],
        `caCrl cannot be combined with credentialName; put the CRL into the ` +
          `credential instead`,
      );
    }
    if (!mutual) {
      report(
        ["caCrl"],
        `caCrl has no effect with tls mode SIMPLE (no client certificates); ` +
          `remove it or use MUTUAL`,
      );
    }
  }
  if (isNonEmptyString(v.credentialName) || asArray(v.credentialNames).length > 0) return;
  if (mutual && !isNonEmptyString(v.caCertificates)) {
    report(
      [],
      `tls mode ${mode} needs caCertificates to verify client certificates; set ` +
        `caCertificates (a file path) or credentialName`,
    );
  }
  const certs = asArray(v.tlsCertificates).length > 0
    ? asArray(v.tlsCertificates).map((c) => asObject(c) ?? {})
    : [v];
  for (const cert of certs) {
    const missing = ["serverCertificate", "privateKey"].filter((f) => !isNonEmptyString(cert[f]));
    if (missing.length > 0) {
      report(
        [],
        `tls mode ${mode} needs ${listWords(missing)}; set serverCertificate and ` +
          `privateKey (file paths), tlsCertificates, or credentialName`,
      );
      break;
    }
  }
}

const gatewayPort = obj({
  number: uint32("port number"),
  protocol: protocol(),
  name: portName(),
  targetPort: uint32("targetPort").optional(),
}, (v, report) => {
  if (typeof v.targetPort === "number" && v.targetPort > 0) {
    report(["targetPort"], `targetPort has no effect on Gateways; remove it`);
  }
});

/**
 * Checks one Gateway server host: `host`, `ns/host`, `./host` or any-namespace (`*` + `/host`),
 * where host is `*`, a wildcard domain, a DNS name with a dot, or an IP.
 */
export function checkServerHost(value: string): string | undefined {
  const fix = `write "<host>", "*/<host>", "./<host>" or "<namespace>/<host>", e.g. ` +
    `"*/bookinfo.example.com"`;
  const slash = value.indexOf("/");
  let dnsName = value;
  if (slash !== -1) {
    const ns = value.slice(0, slash);
    dnsName = value.slice(slash + 1);
    if (ns === "" || dnsName === "") return `server host ${show(value)} has an empty part; ${fix}`;
    if (ns !== "*" && ns !== "." && !isDns1123Label(ns)) {
      return `server host ${show(value)} has an invalid namespace ${show(ns)}; ${fix}`;
    }
  }
  if (dnsName === "*" || isIP(dnsName)) return undefined;
  if (!dnsName.includes(".")) {
    return `server host ${show(value)} is a short name; Gateway hosts must be fully qualified ` +
      `(e.g. "reviews.example.com") or "*"`;
  }
  const error = checkHost(dnsName, { what: "server host" });
  return error;
}

const UNIX = "unix://";

const server = obj({
  port: gatewayPort,
  bind: text().optional(),
  hosts: stringList(),
  tls: serverTlsSettings.optional(),
  defaultEndpoint: text().optional(),
  name: text().optional(),
}, (v, report) => {
  const hosts = v.hosts;
  if (Array.isArray(hosts)) {
    if (hosts.length === 0) report(["hosts"], `server has no hosts; list at least one, e.g. "*"`);
    hosts.forEach((h, index) => {
      if (typeof h !== "string") return;
      const error = checkServerHost(h);
      if (error) report(["hosts", index], error);
    });
  }
  const p = asObject(v.port);
  const bind = typeof v.bind === "string" ? v.bind : "";
  if (bind.startsWith(UNIX)) {
    const path = bind.slice(UNIX.length);
    if (!(path.startsWith("/") || path.startsWith("@")) || path.endsWith("/")) {
      report(
        ["bind"],
        `bind ${show(bind)} is not a socket path; write unix:///absolute/path ` +
          `or unix://@abstract`,
      );
    }
    if (p && typeof p.number === "number" && p.number !== 0) {
      report(["port", "number"], `a server bound to a unix socket must have port number 0`);
    }
  } else {
    if (bind !== "" && !isIP(bind)) {
      report(
        ["bind"],
        `bind ${show(bind)} is not an IP address; write e.g. "0.0.0.0" or ` +
          `"unix:///path"`,
      );
    }
    if (
      p && typeof p.number === "number" && Number.isInteger(p.number) &&
      (p.number < 1 || p.number > 65535)
    ) {
      report(["port", "number"], `port number ${p.number} is out of range; use 1-65535`);
    }
  }
  const protocolName = p?.protocol;
  if (typeof protocolName !== "string") return;
  const tls = asObject(v.tls);
  if (isTlsProtocol(protocolName) && !tls) {
    report(
      [],
      `a ${protocolName.toUpperCase()} server needs tls settings; add tls with a mode ` +
        `(e.g. SIMPLE with credentialName, or PASSTHROUGH)`,
    );
  } else if (!isTlsProtocol(protocolName) && tls) {
    if (isHttpProtocol(protocolName)) {
      const onlyRedirect = (tls.mode === undefined || tls.mode === "PASSTHROUGH" ||
        tls.mode === "AUTO_PASSTHROUGH") &&
        !isNonEmptyString(tls.caCertificates) &&
        !isNonEmptyString(tls.privateKey) && !isNonEmptyString(tls.serverCertificate);
      if (!onlyRedirect) {
        report(
          ["tls"],
          `a plain-text ${protocolName.toUpperCase()} server cannot terminate TLS; ` +
            `use protocol HTTPS for TLS, or keep only tls.httpsRedirect here`,
        );
      }
    } else {
      report(
        ["tls"],
        `tls settings are only allowed on HTTPS/TLS servers (and httpsRedirect on ` +
          `HTTP); change the protocol or remove tls`,
      );
    }
  }
});

/** The Gateway `spec`. */
export const gatewaySpec = obj({
  servers: list(server),
  selector: selectorLabels().optional(),
}, (v, report) => {
  const servers = v.servers;
  if (Array.isArray(servers) && servers.length === 0) {
    report(["servers"], `Gateway has no servers; add at least one server with port and hosts`);
  }
  const names = new Map<string, number>();
  asArray(servers).forEach((s, index) => {
    const name = asObject(asObject(s)?.port)?.name;
    if (typeof name !== "string" || name === "") return;
    if (names.has(name)) {
      report(
        ["servers", index, "port", "name"],
        `port name ${show(name)} is already used by ` +
          `servers[${names.get(name)}]; port names must be unique within a Gateway`,
      );
    } else names.set(name, index);
  });
});

/** The validated (not normalized) Gateway spec. */
export type GatewaySpec = z.infer<typeof gatewaySpec>;
/** A validated `ServerTLSSettings`. */
export type ServerTLSSettings = z.infer<typeof serverTlsSettings>;
