/**
 * WorkloadEntry spec (`networking.istio.io` v1alpha3/v1beta1/v1), every field of
 * `networking/v1alpha3/workload_entry.proto`. The same message is a
 * ServiceEntry's inline endpoint; {@link workloadEntryShape} is shared.
 *
 * @module
 */

import { z } from "zod";
import { checkFqdn, isDns1123Label, isIP } from "../host.ts";
import {
  asObject,
  isNonEmptyString,
  labels,
  map,
  obj,
  port,
  type Report,
  show,
  text,
  uint32,
} from "./primitives.ts";

/** The fields of a WorkloadEntry (also ServiceEntry `endpoints[]`). */
export const workloadEntryShape = {
  address: text().optional(),
  ports: map(port()).optional(),
  labels: labels().optional(),
  network: text().optional(),
  locality: text().optional(),
  weight: uint32("weight").optional(),
  serviceAccount: text().optional(),
};

const UNIX = "unix://";

/** Rules every WorkloadEntry obeys, whatever resolution uses it. */
export function checkWorkloadEntry(v: Record<string, unknown>, report: Report): void {
  const address = typeof v.address === "string" ? v.address : "";
  if (address === "" && !isNonEmptyString(v.network)) {
    report(
      [],
      `address is required; set the workload's IP address or DNS name ` +
        `(or network, for a workload reached through a network gateway)`,
    );
  }
  if (address.startsWith(UNIX)) {
    const path = address.slice(UNIX.length);
    if (!(path.startsWith("/") || path.startsWith("@")) || path.endsWith("/")) {
      report(
        ["address"],
        `address ${show(address)} is not a socket path; write ` +
          `unix:///absolute/path or unix://@abstract`,
      );
    }
    if (Object.keys(asObject(v.ports) ?? {}).length > 0) {
      report(["ports"], `a unix socket endpoint has no ports; remove ports`);
    }
  } else if (address !== "" && !isIP(address) && checkFqdn(address) !== undefined) {
    report(
      ["address"],
      `address ${show(address)} is neither an IP address nor a valid DNS ` +
        `name (${checkFqdn(address)}); write e.g. "10.0.0.5" or "vm1.example.com"`,
    );
  }
  for (const name of Object.keys(asObject(v.ports) ?? {})) {
    if (!isDns1123Label(name)) {
      report(
        ["ports", name],
        `port name ${show(name)} is invalid; use the name of a service ` +
          `port (a DNS-1123 label such as "http")`,
      );
    }
  }
  if (typeof v.locality === "string" && v.locality !== "") {
    const parts = v.locality.split("/");
    if (parts.length > 3 || parts.some((p) => p === "")) {
      report(
        ["locality"],
        `locality ${show(v.locality)} is invalid; write region, ` +
          `region/zone or region/zone/subzone`,
      );
    }
  }
}

/** The WorkloadEntry `spec`. */
export const workloadEntrySpec = obj(workloadEntryShape, checkWorkloadEntry);

/** The validated (not normalized) WorkloadEntry spec. */
export type WorkloadEntrySpec = z.infer<typeof workloadEntrySpec>;
