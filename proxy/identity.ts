/**
 * Who a proxy is, from its flags: `--labels` parsing, locality and name checks, and the
 * {@linkcode ProxyIdentity} the snapshot builder scopes by and `sourceLabels` match against.
 *
 * @module
 */

import { UsageError } from "../mesh/cli/mod.ts";
import type { ProxyIdentity } from "../mesh/model/mod.ts";

/** A DNS-1123 label: what service, gateway and namespace names must be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A label key: optional DNS prefix and `/`, then a name (Kubernetes' rules, loosely). */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * Parses `--labels` values (`k=v,k2=v2`; the flag may repeat) into a map. Throws a
 * {@linkcode UsageError} naming the bad entry.
 */
export function parseLabels(
  values: readonly string[] | undefined,
  flag = "--labels",
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values ?? []) {
    for (const part of value.split(",")) {
      const entry = part.trim();
      if (entry === "") continue;
      const eq = entry.indexOf("=");
      const key = eq > 0 ? entry.slice(0, eq).trim() : "";
      const val = eq > 0 ? entry.slice(eq + 1).trim() : "";
      if (eq <= 0 || !LABEL_KEY.test(key)) {
        throw new UsageError(
          `${flag} "${entry}": give key=value pairs separated by commas, e.g. ${flag} team=a,tier=web`,
        );
      }
      if (!LABEL_VALUE.test(val)) {
        throw new UsageError(
          `${flag} "${entry}": a label value has at most 63 letters, digits, '-', '_' or '.', ` +
            "and starts and ends with a letter or digit",
        );
      }
      labels[key] = val;
    }
  }
  return labels;
}

/** Checks a DNS-1123 label flag (`--service`, `--name`, `--namespace`); throws a UsageError. */
export function checkName(flag: string, value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new UsageError(`${flag} is required`);
  }
  if (!DNS_LABEL.test(value)) {
    throw new UsageError(
      `${flag} "${value}": use lower-case letters, digits and '-' (at most 63, starting and ` +
        "ending with a letter or digit), e.g. reviews",
    );
  }
  return value;
}

/** Checks `--locality region/zone/subzone` (parts may be empty, at most three). */
export function checkLocality(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (value.split("/").length > 3 || /\s/.test(value)) {
    throw new UsageError(
      `--locality "${value}": give region[/zone[/subzone]], e.g. us-east/us-east-1a`,
    );
  }
  return value;
}

/** Parses a port flag; 0 lets the OS pick one. */
export function parsePortFlag(flag: string, text: string | undefined): number {
  const port = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(`${flag} ${text ?? ""}: give a port number 0-65535 (0 picks a free port)`);
  }
  return port;
}

/** What {@linkcode proxyIdentity} builds an identity from. */
export interface IdentityOptions {
  mode: "sidecar" | "gateway";
  /** Sidecar: the service; gateway: its `--name`. */
  name: string;
  namespace: string;
  /** `--labels`. */
  labels?: Record<string, string>;
  /** Sidecar `--version`: adds `version=<v>`. */
  version?: string;
  locality?: string;
  serviceAccount?: string;
}

/**
 * The proxy's identity. A sidecar's labels always include `app=<service>` and, with a version,
 * `version=<v>` (DESIGN.md); its id is unique per process (`reviews-v1-3f2a.default`).
 */
export function proxyIdentity(options: IdentityOptions): ProxyIdentity {
  const labels: Record<string, string> = { ...options.labels };
  if (options.mode === "sidecar") {
    labels.app = options.name;
    if (options.version) labels.version = options.version;
  }
  const suffix = crypto.getRandomValues(new Uint16Array(1))[0].toString(16).padStart(4, "0");
  const base = options.version ? `${options.name}-${options.version}` : options.name;
  const identity: ProxyIdentity = {
    mode: options.mode,
    name: options.name,
    namespace: options.namespace,
    labels,
    id: `${base}-${suffix}.${options.namespace}`,
  };
  if (options.locality) identity.locality = options.locality;
  if (options.serviceAccount) identity.serviceAccount = options.serviceAccount;
  return identity;
}

/** The workload name used in metrics: `<name>-<version>` when versioned, else the name. */
export function workloadName(identity: ProxyIdentity): string {
  const version = identity.labels.version;
  return identity.mode === "sidecar" && version ? `${identity.name}-${version}` : identity.name;
}
