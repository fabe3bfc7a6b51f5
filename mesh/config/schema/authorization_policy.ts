/**
 * AuthorizationPolicy spec (`security.istio.io` v1beta1/v1), every field of
 * `security/v1beta1/authorization_policy.proto` (with `type/v1beta1`
 * selectors and target references), validated the way Istio's
 * `ValidateAuthorizationPolicy` does.
 *
 * @module
 */

import { z } from "zod";
import { isIPOrCidr } from "../host.ts";
import {
  asArray,
  asObject,
  enumOf,
  isNonEmptyString,
  isSet,
  list,
  listWords,
  obj,
  type Report,
  setFields,
  show,
  stringList,
  text,
  workloadSelector,
} from "./primitives.ts";

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ALLOWED_TARGETS = [
  "core/Service",
  "networking.istio.io/ServiceEntry",
  "gateway.networking.k8s.io/Gateway",
  "gateway.networking.k8s.io/GatewayClass",
];

/** `PolicyTargetReference`. */
export const policyTargetReference = obj({
  group: text().optional(),
  kind: text(),
  name: text(),
  namespace: text().optional(),
}, (v, report) => {
  if (v.name === "") report(["name"], `targetRef name is empty; name the target resource`);
  if (isNonEmptyString(v.namespace)) {
    report(
      ["namespace"],
      `targetRef namespace must not be set; cross-namespace references are ` +
        `not supported, put the policy in the target's namespace`,
    );
  }
  if (typeof v.group === "string" && !GROUP.test(v.group)) {
    report(["group"], `targetRef group ${show(v.group)} is not a valid API group`);
  }
  if (typeof v.kind === "string") {
    const group = typeof v.group === "string" && v.group !== "" ? v.group : "core";
    if (!ALLOWED_TARGETS.includes(`${group}/${v.kind}`)) {
      report(
        [],
        `targetRef ${show(`${group}/${v.kind}`)} cannot be targeted; use one of ` +
          `${ALLOWED_TARGETS.join(", ")} (group "" means core)`,
      );
    }
  }
});

const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "trustDomains",
  "notTrustDomains",
];

function checkValues(v: Record<string, unknown>, fields: readonly string[], report: Report) {
  for (const field of fields) {
    asArray(v[field]).forEach((value, index) => {
      if (value === "") {
        report(
          [field, index],
          `${field} contains an empty value; remove it or write a value ` +
            `(use "*" to match any)`,
        );
      }
    });
  }
}

function checkIpLists(v: Record<string, unknown>, fields: readonly string[], report: Report) {
  for (const field of fields) {
    asArray(v[field]).forEach((value, index) => {
      if (typeof value === "string" && value !== "" && !isIPOrCidr(value)) {
        report(
          [field, index],
          `${show(value)} is not an IP address or CIDR block; write e.g. ` +
            `"10.1.2.3" or "10.0.0.0/16"`,
        );
      }
    });
  }
}

function checkServiceAccounts(v: Record<string, unknown>, report: Report): void {
  for (const field of ["serviceAccounts", "notServiceAccounts"]) {
    const values = asArray(v[field]);
    if (values.length > 16) {
      report([field], `${field} lists ${values.length} values; at most 16 are allowed`);
    }
    values.forEach((value, index) => {
      if (typeof value !== "string" || value === "") return;
      const parts = value.split("/");
      if (value.includes("*")) {
        report(
          [field, index],
          `${field} value ${show(value)} contains "*"; service accounts ` +
            `take no wildcards, use principals for patterns`,
        );
      } else if (parts.length > 2 || parts.some((p) => p === "") || value.length > 320) {
        report(
          [field, index],
          `${field} value ${show(value)} is invalid; write ` +
            `"<service account>" or "<namespace>/<service account>"`,
        );
      }
    });
  }
}

function checkWildcards(v: Record<string, unknown>, fields: readonly string[], report: Report) {
  for (const field of fields) {
    asArray(v[field]).forEach((value, index) => {
      if (typeof value !== "string") return;
      const stars = value.split("*").length - 1;
      if (
        stars > 1 || (stars === 1 && value !== "*" && !value.startsWith("*") &&
          !value.endsWith("*"))
      ) {
        report(
          [field, index],
          `${show(value)} may use one "*" only, at its start or end ` +
            `(prefix "abc*", suffix "*abc" or "*" alone)`,
        );
      } else if (value.includes("/")) {
        report([field, index], `trust domain ${show(value)} must not contain "/"`);
      }
    });
  }
}

const source = obj(
  {
    principals: stringList().optional(),
    notPrincipals: stringList().optional(),
    requestPrincipals: stringList().optional(),
    notRequestPrincipals: stringList().optional(),
    namespaces: stringList().optional(),
    notNamespaces: stringList().optional(),
    serviceAccounts: stringList().optional(),
    notServiceAccounts: stringList().optional(),
    ipBlocks: stringList().optional(),
    notIpBlocks: stringList().optional(),
    remoteIpBlocks: stringList().optional(),
    notRemoteIpBlocks: stringList().optional(),
    trustDomains: stringList().optional(),
    notTrustDomains: stringList().optional(),
  },
  (v, report, { unknownFields }) => {
    const raw = v as Record<string, unknown>;
    if (unknownFields === 0 && SOURCE_FIELDS.every((f) => asArray(raw[f]).length === 0)) {
      report(
        [],
        `source is empty; set at least one field such as principals, namespaces or ` +
          `ipBlocks, or remove the from entry`,
      );
    }
    const identity = setFields(raw, ["principals", "notPrincipals", "namespaces", "notNamespaces"]);
    const accounts = setFields(raw, ["serviceAccounts", "notServiceAccounts"]);
    if (identity.length > 0 && accounts.length > 0) {
      report(
        [],
        `source combines ${listWords(accounts)} with ${listWords(identity)}; ` +
          `serviceAccounts cannot be mixed with principals or namespaces, use separate from entries`,
      );
    }
    checkValues(raw, SOURCE_FIELDS, report);
    checkIpLists(raw, ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"], report);
    checkServiceAccounts(raw, report);
    checkWildcards(raw, ["trustDomains", "notTrustDomains"], report);
  },
);

const OPERATION_FIELDS = [
  "hosts",
  "notHosts",
  "ports",
  "notPorts",
  "methods",
  "notMethods",
  "paths",
  "notPaths",
] as const;

const PATH_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

function checkPathTemplate(path: string): string | undefined {
  if (!path.includes("{*}") && !path.includes("{**}")) {
    return undefined;
  }
  let sawAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, "").split("/")) {
    if (glob === "{*}" && !sawAny) continue;
    if (glob === "{**}" && !sawAny) {
      sawAny = true;
      continue;
    }
    if (glob === "{*}" || glob === "{**}") {
      return `path ${show(path)} has an operator after {**}; {**} must be the last operator`;
    }
    if (glob.includes("{") || glob.includes("}")) {
      return `path ${show(path)} uses "{" or "}" outside {*} and {**}; only those templates ` +
        `are supported`;
    }
    if (!PATH_LITERAL.test(glob)) {
      return `path ${show(path)} has a segment ${show(glob)} with characters not allowed in a ` +
        `path template`;
    }
  }
  return undefined;
}

const operation = obj({
  hosts: stringList().optional(),
  notHosts: stringList().optional(),
  ports: stringList().optional(),
  notPorts: stringList().optional(),
  methods: stringList().optional(),
  notMethods: stringList().optional(),
  paths: stringList().optional(),
  notPaths: stringList().optional(),
}, (v, report, { unknownFields }) => {
  const raw = v as Record<string, unknown>;
  if (unknownFields === 0 && OPERATION_FIELDS.every((f) => asArray(raw[f]).length === 0)) {
    report(
      [],
      `operation is empty; set at least one of hosts, ports, methods or paths (or ` +
        `their not* forms), or remove the to entry`,
    );
  }
  checkValues(raw, OPERATION_FIELDS, report);
  for (const field of ["ports", "notPorts"]) {
    asArray(raw[field]).forEach((value, index) => {
      if (typeof value !== "string" || value === "") return;
      if (!/^\d+$/.test(value) || Number(value) > 65535) {
        report(
          [field, index],
          `port ${show(value)} is invalid; write a port number 0-65535 as ` +
            `a string, e.g. "8080"`,
        );
      }
    });
  }
  for (const field of ["paths", "notPaths"]) {
    asArray(raw[field]).forEach((value, index) => {
      if (typeof value !== "string") return;
      const error = checkPathTemplate(value);
      if (error) report([field, index], error);
    });
  }
});

const IP_KEYS = new Set(["source.ip", "remote.ip", "destination.ip"]);
const PLAIN_KEYS = new Set([
  "source.namespace",
  "source.principal",
  "source.serviceAccount",
  "source.trustDomain",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.port",
  "connection.sni",
  ...IP_KEYS,
]);
const MAP_KEY_PREFIXES = ["request.headers", "request.auth.claims", "experimental.envoy.filters."];

function checkConditionKey(key: string): string | undefined {
  if (PLAIN_KEYS.has(key)) return undefined;
  const prefix = MAP_KEY_PREFIXES.find((p) => key.startsWith(p));
  if (prefix) {
    const open = key.indexOf("[");
    return key.endsWith("]") && open > 0 && open < key.length - 2 ? undefined : `condition key ` +
      `${show(key)} is malformed; write it as ${prefix.replace(/\.$/, "")}[<name>], e.g. ` +
      `request.headers[x-token]`;
  }
  if (key === "destination.namespace") {
    return `condition key "destination.namespace" is not supported; the policy's own ` +
      `namespace already scopes it`;
  }
  if (key.startsWith("destination.labels")) {
    return `condition key ${show(key)} is not supported; use the policy's selector instead`;
  }
  return `unknown condition key ${show(key)}; use one of ${[...PLAIN_KEYS].join(", ")}, ` +
    `request.headers[<name>] or request.auth.claims[<name>]`;
}

const condition = obj({
  key: text(),
  values: stringList().optional(),
  notValues: stringList().optional(),
}, (v, report) => {
  if (typeof v.key !== "string") return;
  if (v.key === "") {
    report(["key"], `condition key is empty; name an attribute such as request.headers[x-token]`);
    return;
  }
  const keyError = checkConditionKey(v.key);
  if (keyError) report(["key"], keyError);
  if (asArray(v.values).length === 0 && asArray(v.notValues).length === 0) {
    report([], `condition ${show(v.key)} has no values; set values or notValues`);
  }
  const raw = v as Record<string, unknown>;
  checkValues(raw, ["values", "notValues"], report);
  if (IP_KEYS.has(v.key)) checkIpLists(raw, ["values", "notValues"], report);
  if (v.key === "destination.port") {
    for (const field of ["values", "notValues"]) {
      asArray(raw[field]).forEach((value, index) => {
        if (typeof value === "string" && (!/^\d+$/.test(value) || Number(value) > 65535)) {
          report([field, index], `port ${show(value)} is invalid; write a port number 0-65535`);
        }
      });
    }
  }
});

const rule = obj({
  from: list(obj({ source: source.optional() }, (v, report, { unknownFields }) => {
    if (unknownFields === 0 && !isSet(v.source)) {
      report([], `from entry has no source; add source with at least one field`);
    }
  })).optional(),
  to: list(obj({ operation: operation.optional() }, (v, report, { unknownFields }) => {
    if (unknownFields === 0 && !isSet(v.operation)) {
      report([], `to entry has no operation; add operation with at least one field`);
    }
  })).optional(),
  when: list(condition).optional(),
}, (v, report) => {
  for (const field of ["from", "to"] as const) {
    if (Array.isArray(v[field]) && (v[field] as unknown[]).length === 0) {
      report([field], `${field} is an empty list; remove it (to match any) or add entries`);
    }
  }
});

const ACTIONS = ["ALLOW", "DENY", "AUDIT", "CUSTOM"] as const;
const CUSTOM_UNSUPPORTED_SOURCE = [
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
];
const CUSTOM_UNSUPPORTED_KEYS = [
  "source.namespace",
  "source.serviceAccount",
  "source.trustDomain",
  "source.principal",
];

/** The AuthorizationPolicy `spec`. */
export const authorizationPolicySpec = obj({
  selector: workloadSelector.optional(),
  targetRef: policyTargetReference.optional(),
  targetRefs: list(policyTargetReference).optional(),
  rules: list(rule).optional(),
  action: enumOf(ACTIONS).optional(),
  provider: obj({ name: text().optional() }).optional(),
}, (v, report) => {
  const scopes = setFields(v as Record<string, unknown>, ["selector", "targetRef"]);
  if (asArray(v.targetRefs).length > 0) scopes.push("targetRefs");
  if (scopes.length > 1) {
    report([], `policy sets ${listWords(scopes)}; choose one of selector, targetRef or targetRefs`);
  }
  if (asArray(v.targetRefs).length > 16) {
    report(
      ["targetRefs"],
      `targetRefs lists ${asArray(v.targetRefs).length} targets; at most ` +
        `16 are allowed`,
    );
  }
  const action = v.action ?? "ALLOW";
  const rulesSet = isSet(v.rules);
  if (action === "CUSTOM") {
    if (!isNonEmptyString(asObject(v.provider)?.name)) {
      report(
        ["provider"],
        `action CUSTOM needs provider.name, the extension provider that ` +
          `decides; set provider: {name: <provider>}`,
      );
    }
    if (!rulesSet) {
      report(
        [],
        `action CUSTOM without rules never triggers; add rules, e.g. rules: [{}] to ` +
          `apply it to every request`,
      );
    }
    asArray(v.rules).forEach((r, ri) => {
      const ruleObj = asObject(r);
      asArray(ruleObj?.from).forEach((f, fi) => {
        const src = asObject(asObject(f)?.source);
        if (!src) return;
        for (const field of CUSTOM_UNSUPPORTED_SOURCE) {
          if (asArray(src[field]).length > 0) {
            report(
              ["rules", ri, "from", fi, "source", field],
              `${field} is not supported with ` +
                `action CUSTOM; match on ipBlocks, remoteIpBlocks or the request instead`,
            );
          }
        }
      });
      asArray(ruleObj?.when).forEach((c, ci) => {
        const key = asObject(c)?.key;
        if (
          typeof key === "string" &&
          (CUSTOM_UNSUPPORTED_KEYS.includes(key) || key.startsWith("request.auth."))
        ) {
          report(
            ["rules", ri, "when", ci, "key"],
            `condition ${show(key)} is not supported ` +
              `with action CUSTOM; remove it`,
          );
        }
      });
    });
  } else if (isSet(v.provider)) {
    report(
      ["provider"],
      `provider is only used with action CUSTOM, but action is ${action}; ` +
        `set action: CUSTOM or remove provider`,
    );
  }
  if (action === "DENY" && !rulesSet) {
    report(
      [],
      `action DENY without rules never triggers; add rules, e.g. rules: [{}] to deny ` +
        `every request`,
    );
  }
});

/** The validated (not normalized) AuthorizationPolicy spec. */
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;
