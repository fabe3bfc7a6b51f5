/**
 * ServiceEntry spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field of
 * `networking/v1alpha3/service_entry.proto`, validated the way Istio's
 * `ValidateServiceEntry` does.
 *
 * @module
 */

import { z } from "zod";
import { checkFqdn, isIP } from "../host.ts";
import {
  asArray,
  asObject,
  checkHost,
  enumOf,
  exportTo,
  hasContent,
  ipOrCidr,
  isSet,
  labelSelector,
  list,
  obj,
  port,
  portName,
  show,
  stringList,
} from "./primitives.ts";
import { isHttpProtocol, isTlsProtocol, protocol } from "./gateway.ts";
import { checkWorkloadEntry, workloadEntryShape } from "./workload_entry.ts";

const servicePort = obj({
  number: port("port number"),
  protocol: protocol().optional(),
  name: portName(),
  targetPort: port("targetPort").optional(),
});

const endpoint = obj(workloadEntryShape, checkWorkloadEntry);

const LOCATIONS = ["MESH_EXTERNAL", "MESH_INTERNAL"] as const;
const RESOLUTIONS = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"] as const;
const DYNAMIC_DNS_PROTOCOLS = new Set(["HTTP", "TLS", "GRPC", "HTTP2"]);

/** The ServiceEntry `spec`. */
export const serviceEntrySpec = obj({
  hosts: stringList(),
  addresses: list(ipOrCidr()).optional(),
  ports: list(servicePort).optional(),
  location: enumOf(LOCATIONS).optional(),
  resolution: enumOf(RESOLUTIONS).optional(),
  endpoints: list(endpoint).optional(),
  workloadSelector: labelSelector.optional(),
  exportTo: exportTo({ allowNone: true }).optional(),
  subjectAltNames: stringList().optional(),
}, (v, report) => {
  const resolution = typeof v.resolution === "string" ? v.resolution : "NONE";
  const hosts = asArray(v.hosts).filter((h): h is string => typeof h === "string");
  const endpoints = asArray(v.endpoints);
  const ports = asArray(v.ports).map((p) => asObject(p) ?? {});

  if (Array.isArray(v.hosts) && v.hosts.length === 0) {
    report(["hosts"], `hosts is empty; list at least one host name, e.g. "api.example.com"`);
  }
  asArray(v.hosts).forEach((h, index) => {
    if (typeof h !== "string") return;
    const error = h === "*"
      ? `host "*" is not allowed in a ServiceEntry; name the host or use a wildcard domain ` +
        `such as "*.example.com"`
      : checkHost(h, { what: "host" });
    if (error) report(["hosts", index], error);
  });

  if (isSet(v.workloadSelector) && isSet(v.endpoints)) {
    report(
      [],
      `ServiceEntry sets both endpoints and workloadSelector; list endpoints inline or ` +
        `select WorkloadEntries, not both`,
    );
  }

  const hasCidr = asArray(v.addresses).some((a) => typeof a === "string" && a.includes("/"));
  if (hasCidr && resolution !== "NONE" && resolution !== "STATIC") {
    report(
      ["addresses"],
      `CIDR addresses work only with resolution NONE or STATIC, not ` +
        `${resolution}; use single IP addresses or change the resolution`,
    );
  }

  // Ports: unique names and numbers.
  const names = new Set<string>();
  const numbers = new Set<number>();
  ports.forEach((p, index) => {
    if (typeof p.name === "string") {
      if (names.has(p.name)) {
        report(
          ["ports", index, "name"],
          `port name ${show(p.name)} is used twice; give every ` +
            `port a unique name`,
        );
      }
      names.add(p.name);
    }
    if (typeof p.number === "number") {
      if (numbers.has(p.number)) {
        report(["ports", index, "number"], `port ${p.number} is listed twice; list each port once`);
      }
      numbers.add(p.number);
    }
  });

  // Endpoint ports must name service ports.
  endpoints.forEach((e, index) => {
    const ep = asObject(e);
    if (!ep) return;
    for (const name of Object.keys(asObject(ep.ports) ?? {})) {
      if (!names.has(name)) {
        report(
          ["endpoints", index, "ports", name],
          `endpoint port ${show(name)} is not a port ` +
            `of this ServiceEntry; use one of the names in ports (${
              [...names].join(", ") || "none"
            })`,
        );
      }
    }
  });

  switch (resolution) {
    case "NONE":
      if (isSet(v.endpoints)) {
        report(
          ["endpoints"],
          `resolution NONE forwards to the address the client dialled, so ` +
            `endpoints are not used; remove them or set resolution to STATIC or DNS`,
        );
      }
      break;
    case "STATIC":
      endpoints.forEach((e, index) => {
        const address = asObject(e)?.address;
        if (
          typeof address === "string" && address !== "" && !address.startsWith("unix://") &&
          !isIP(address)
        ) {
          report(
            ["endpoints", index, "address"],
            `endpoint address ${show(address)} is not an ` +
              `IP address, which resolution STATIC requires; use an IP, or resolution DNS for names`,
          );
        }
      });
      break;
    case "DNS":
    case "DNS_ROUND_ROBIN":
      if (endpoints.length === 0) {
        const bad = hosts.find((h) => h.startsWith("*") || checkFqdn(h) !== undefined);
        if (bad !== undefined) {
          report(
            ["hosts"],
            `resolution ${resolution} without endpoints resolves the hosts ` +
              `themselves, but ${show(bad)} is not a resolvable name; list endpoints or use ` +
              `plain DNS names`,
          );
        }
      }
      if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) {
        report(
          ["endpoints"],
          `resolution DNS_ROUND_ROBIN takes at most one endpoint, found ` +
            `${endpoints.length}; use resolution DNS for several endpoints`,
        );
      }
      break;
    case "DYNAMIC_DNS":
      hosts.forEach((h, index) => {
        if (!h.startsWith("*")) {
          report(
            ["hosts", index],
            `resolution DYNAMIC_DNS needs wildcard hosts, but ${show(h)} ` +
              `is not one; write e.g. "*.example.com" or use resolution DNS`,
          );
        }
      });
      if (hasContent(v.addresses)) {
        report(["addresses"], `resolution DYNAMIC_DNS does not use addresses; remove them`);
      }
      if (isSet(v.endpoints)) {
        report(
          ["endpoints"],
          `resolution DYNAMIC_DNS resolves each request's host, so ` +
            `endpoints are not used; remove them`,
        );
      }
      ports.forEach((p, index) => {
        if (
          typeof p.protocol === "string" && !DYNAMIC_DNS_PROTOCOLS.has(p.protocol.toUpperCase())
        ) {
          report(
            ["ports", index, "protocol"],
            `resolution DYNAMIC_DNS supports only HTTP, TLS, ` +
              `GRPC and HTTP2 ports, not ${show(p.protocol)}`,
          );
        }
      });
      break;
  }

  if (resolution !== "NONE" && hosts.length > 1) {
    const opaque = ports.findIndex((p) =>
      !isHttpProtocol(p.protocol) && !isTlsProtocol(p.protocol)
    );
    if (opaque !== -1) {
      report(
        ["ports", opaque],
        `several hosts share a ${
          typeof ports[opaque].protocol === "string" ? ports[opaque].protocol : "TCP"
        } port, but opaque TCP cannot tell the hosts apart; use one host per ServiceEntry, ` +
          `an HTTP/TLS protocol, or resolution NONE`,
      );
    }
  }
});

/** The validated (not normalized) ServiceEntry spec. */
export type ServiceEntrySpec = z.infer<typeof serviceEntrySpec>;
