/**
 * Sidecar spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field of
 * `networking/v1alpha3/sidecar.proto`, validated the way Istio's
 * `ValidateSidecar` does.
 *
 * @module
 */

import { z } from "zod";
import { isDns1123Label, isIP } from "../host.ts";
import {
  asArray,
  asObject,
  checkDnsName,
  checkHost,
  enumOf,
  hasContent,
  isSet,
  labelSelector,
  list,
  obj,
  portName,
  type Report,
  show,
  stringList,
  text,
  uint32,
} from "./primitives.ts";
import { connectionPoolSettings } from "./destination_rule.ts";
import { isTlsProtocol, protocol, serverTlsSettings } from "./gateway.ts";
import { destination } from "./virtual_service.ts";

const CAPTURE_MODES = ["DEFAULT", "IPTABLES", "NONE"] as const;
const UNIX = "unix://";

const sidecarPort = obj({
  number: uint32("port number").optional(),
  protocol: protocol().optional(),
  name: portName().optional(),
  targetPort: uint32("targetPort").optional(),
}, (v, report) => {
  if (typeof v.targetPort === "number" && v.targetPort > 0) {
    report(["targetPort"], `targetPort has no effect on Sidecars; remove it`);
  }
});

function checkPortNumber(value: unknown, report: Report, path: PropertyKey[]): void {
  if (typeof value === "number" && Number.isInteger(value) && (value < 1 || value > 65535)) {
    report(path, `port number ${value} is out of range; use 1-65535`);
  }
}

function checkBindIP(bind: unknown, report: Report): void {
  if (typeof bind === "string" && bind !== "" && !isIP(bind)) {
    report(["bind"], `bind ${show(bind)} is not an IP address; write e.g. "127.0.0.1"`);
  }
}

function checkUnixPath(address: string, report: Report, path: PropertyKey[]): void {
  const socket = address.slice(UNIX.length);
  if (!(socket.startsWith("/") || socket.startsWith("@")) || socket.endsWith("/")) {
    report(
      path,
      `${show(address)} is not a socket path; write unix:///absolute/path or ` +
        `unix://@abstract`,
    );
  }
}

const DEFAULT_ENDPOINT_HOSTS = new Set(["127.0.0.1", "0.0.0.0", "::1", "::", ""]);

function checkDefaultEndpoint(value: string, report: Report): void {
  if (value.startsWith(UNIX)) {
    checkUnixPath(value, report, ["defaultEndpoint"]);
    return;
  }
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(value);
  const hostPart = match ? (match[1] ?? match[2]) : undefined;
  const portNumber = match ? Number(match[3]) : NaN;
  if (
    !match || !DEFAULT_ENDPOINT_HOSTS.has(hostPart ?? "") || portNumber < 1 ||
    portNumber > 65535
  ) {
    report(
      ["defaultEndpoint"],
      `defaultEndpoint ${show(value)} is invalid; write ` +
        `127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path`,
    );
  }
}

const ingressListener = obj({
  port: sidecarPort,
  bind: text().optional(),
  captureMode: enumOf(CAPTURE_MODES).optional(),
  defaultEndpoint: text().optional(),
  tls: serverTlsSettings.optional(),
  connectionPool: connectionPoolSettings.optional(),
}, (v, report) => {
  const p = asObject(v.port);
  if (p) {
    if (!isSet(p.number)) report(["port", "number"], `ingress port needs a number (1-65535)`);
    checkPortNumber(p.number, report, ["port", "number"]);
  }
  checkBindIP(v.bind, report);
  if (typeof v.defaultEndpoint === "string" && v.defaultEndpoint !== "") {
    checkDefaultEndpoint(v.defaultEndpoint, report);
  }
  const tls = asObject(v.tls);
  if (tls) {
    const unsupported = [
      "subjectAltNames",
      "httpsRedirect",
      "credentialName",
      "credentialNames",
      "tlsCertificates",
    ]
      .filter((f) => hasContent(tls[f]) && tls[f] !== false);
    for (const field of unsupported) {
      report(["tls", field], `${field} is not supported in Sidecar ingress tls; remove it`);
    }
    if (tls.mode === "ISTIO_MUTUAL" || tls.mode === "AUTO_PASSTHROUGH") {
      report(
        ["tls", "mode"],
        `tls mode ${tls.mode} cannot be used on a Sidecar ingress ` +
          `listener; use SIMPLE, MUTUAL or OPTIONAL_MUTUAL`,
      );
    }
    if (p && !isTlsProtocol(p.protocol)) {
      report(
        ["tls"],
        `tls settings need an HTTPS or TLS port; change port.protocol or ` +
          `remove tls`,
      );
    }
  }
});

/**
 * Checks one egress host: exactly one `/` separating a namespace part (`*`,
 * `.`, `~`, a namespace, or `~namespace`) from a host (`*`, `*.suffix` or a
 * dotted DNS name).
 */
export function checkEgressHost(value: string): string | undefined {
  const fix = `write "<namespace>/<host>", e.g. "istio-system/*", "./*" or ` +
    `"*/api.example.com" (namespace may be *, ., ~ or a name)`;
  const parts = value.split("/");
  if (parts.length !== 2) {
    return `egress host ${show(value)} must contain exactly one "/"; ${fix}`;
  }
  const [ns, dnsName] = parts;
  if (ns === "" || dnsName === "") return `egress host ${show(value)} has an empty part; ${fix}`;
  const bare = ns.startsWith("~") ? ns.slice(1) : ns;
  if (bare !== "" && bare !== "*" && bare !== "." && !isDns1123Label(bare)) {
    return `egress host ${show(value)} has an invalid namespace ${show(ns)}; ${fix}`;
  }
  if (dnsName === "*") return undefined;
  if (!dnsName.includes(".")) {
    return `egress host ${show(value)} uses the short name ${show(dnsName)}; Sidecar hosts ` +
      `must be fully qualified (e.g. "default/reviews.default.svc.cluster.local") or "*"`;
  }
  return checkHost(dnsName, { what: "egress host" });
}

const egressListener = obj({
  port: sidecarPort.optional(),
  bind: text().optional(),
  captureMode: enumOf(CAPTURE_MODES).optional(),
  hosts: stringList(),
}, (v, report) => {
  const p = asObject(v.port);
  const bind = typeof v.bind === "string" ? v.bind : "";
  if (p) {
    if (p.number === 0 || !isSet(p.number)) {
      if (!bind.startsWith(UNIX)) {
        report(
          ["port", "number"],
          `egress port number 0 (or unset) needs a unix socket bind ` +
            `(unix:///path); set a port number 1-65535 or a unix bind`,
        );
      } else {
        checkUnixPath(bind, report, ["bind"]);
        if (isSet(v.captureMode) && v.captureMode !== "DEFAULT" && v.captureMode !== "NONE") {
          report(["captureMode"], `a unix socket listener takes captureMode DEFAULT or NONE`);
        }
      }
    } else {
      checkPortNumber(p.number, report, ["port", "number"]);
      checkBindIP(v.bind, report);
    }
  }
  const hosts = v.hosts;
  if (Array.isArray(hosts) && hosts.length === 0) {
    report(
      ["hosts"],
      `egress listener has no hosts; list at least one, e.g. "./*" or ` +
        `"istio-system/*"`,
    );
  }
  asArray(hosts).forEach((h, index) => {
    if (typeof h !== "string") return;
    const error = checkEgressHost(h);
    if (error) report(["hosts", index], error);
  });
});

const outboundTrafficPolicy = obj({
  mode: z.enum(["REGISTRY_ONLY", "ALLOW_ANY"], {
    error: (issue) =>
      issue.input === "ALLOW_ANY_DYNAMIC_DNS"
        ? `mode ALLOW_ANY_DYNAMIC_DNS is only available in the mesh config, not in a Sidecar; ` +
          `use ALLOW_ANY or REGISTRY_ONLY`
        : `invalid mode ${show(issue.input)}; use ALLOW_ANY or REGISTRY_ONLY`,
  }).optional(),
  egressProxy: destination.optional(),
}, (v, report) => {
  const proxy = asObject(v.egressProxy);
  if (!proxy) return;
  if (v.mode !== "ALLOW_ANY") {
    report(
      ["egressProxy"],
      `egressProxy is only used with mode ALLOW_ANY; set mode: ALLOW_ANY ` +
        `or remove egressProxy`,
    );
  }
  if (typeof proxy.host === "string" && proxy.host !== "*") {
    const error = proxy.host.startsWith("*")
      ? `egressProxy host ${show(proxy.host)} must not ` +
        `be a wildcard; name the proxy service`
      : checkDnsName(proxy.host, "egressProxy host");
    if (error) report(["egressProxy", "host"], error);
  }
  if (!isSet(proxy.port)) {
    report(
      ["egressProxy", "port"],
      `egressProxy needs a port; set port.number to the proxy's port`,
    );
  }
});

/** The Sidecar `spec`. */
export const sidecarSpec = obj({
  workloadSelector: labelSelector.optional(),
  ingress: list(ingressListener).optional(),
  egress: list(egressListener).optional(),
  inboundConnectionPool: connectionPoolSettings.optional(),
  outboundTrafficPolicy: outboundTrafficPolicy.optional(),
}, (v, report, { unknownFields }) => {
  if (
    unknownFields === 0 && !hasContent(v.ingress) && !hasContent(v.egress) &&
    !isSet(v.outboundTrafficPolicy) &&
    !isSet(v.inboundConnectionPool)
  ) {
    report(
      [],
      `Sidecar is empty; set egress, ingress, outboundTrafficPolicy or ` +
        `inboundConnectionPool`,
    );
  }
  const ingressPorts = new Map<number, number>();
  asArray(v.ingress).forEach((l, index) => {
    const n = asObject(asObject(l)?.port)?.number;
    if (typeof n !== "number") return;
    if (ingressPorts.has(n)) {
      report(
        ["ingress", index, "port", "number"],
        `ingress port ${n} is already used by ` +
          `ingress[${ingressPorts.get(n)}]; each listener needs its own port`,
      );
    } else ingressPorts.set(n, index);
  });
  const egress = asArray(v.egress);
  const egressPorts = new Map<number, number>();
  const sockets = new Set<string>();
  let catchAll = -1;
  egress.forEach((l, index) => {
    const listener = asObject(l);
    if (!listener) return;
    const p = asObject(listener.port);
    if (!p) {
      if (catchAll !== -1) {
        report(
          ["egress", index],
          `only one egress listener may omit port (the catch-all); ` +
            `merge it with egress[${catchAll}] or give it a port`,
        );
      } else if (index !== egress.length - 1) {
        report(
          ["egress", index],
          `the egress listener without port catches all remaining ` +
            `traffic and must be the last listener; move it to the end`,
        );
      }
      if (catchAll === -1) catchAll = index;
      return;
    }
    if (p.number === 0 || !isSet(p.number)) {
      const bind = typeof listener.bind === "string" ? listener.bind : "";
      if (sockets.has(bind)) {
        report(["egress", index, "bind"], `unix socket ${show(bind)} is used by two listeners`);
      }
      sockets.add(bind);
    } else if (typeof p.number === "number") {
      if (egressPorts.has(p.number)) {
        report(
          ["egress", index, "port", "number"],
          `egress port ${p.number} is already used by ` +
            `egress[${egressPorts.get(p.number)}]; each listener needs its own port`,
        );
      } else egressPorts.set(p.number, index);
    }
  });
});

/** The validated (not normalized) Sidecar spec. */
export type SidecarSpec = z.infer<typeof sidecarSpec>;
