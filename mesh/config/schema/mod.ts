/**
 * Zod schemas for the `spec` of every Istio resource kind mesh understands,
 * and the API groups and versions each kind is served under.
 *
 * `specSchemas[kind].safeParse(doc.spec)` validates one spec; issues carry
 * paths relative to `spec`. Unknown fields are reported per key with
 * `params: {mesh: "unknown_field", known}`; every other issue has a complete
 * message. The inferred types are the validated, not normalized, shapes.
 *
 * @module
 */

import type { z } from "zod";
import { authorizationPolicySpec } from "./authorization_policy.ts";
import { destinationRuleSpec } from "./destination_rule.ts";
import { gatewaySpec } from "./gateway.ts";
import { peerAuthenticationSpec } from "./peer_authentication.ts";
import { serviceEntrySpec } from "./service_entry.ts";
import { sidecarSpec } from "./sidecar.ts";
import { virtualServiceSpec } from "./virtual_service.ts";
import { workloadEntrySpec } from "./workload_entry.ts";

export type { AuthorizationPolicySpec } from "./authorization_policy.ts";
export type {
  ConnectionPoolSettings,
  DestinationRuleSpec,
  TrafficPolicy,
} from "./destination_rule.ts";
export type { GatewaySpec, ServerTLSSettings } from "./gateway.ts";
export type { PeerAuthenticationSpec } from "./peer_authentication.ts";
export type { ServiceEntrySpec } from "./service_entry.ts";
export type { SidecarSpec } from "./sidecar.ts";
export type {
  Destination,
  HTTPMatchRequest,
  HTTPRoute,
  VirtualServiceSpec,
} from "./virtual_service.ts";
export type { WorkloadEntrySpec } from "./workload_entry.ts";
export type { StringMatch, UnknownFieldParams } from "./primitives.ts";
export {
  authorizationPolicySpec,
  destinationRuleSpec,
  gatewaySpec,
  peerAuthenticationSpec,
  serviceEntrySpec,
  sidecarSpec,
  virtualServiceSpec,
  workloadEntrySpec,
};

/** The resource kinds mesh accepts. */
export type KindName =
  | "VirtualService"
  | "DestinationRule"
  | "ServiceEntry"
  | "Gateway"
  | "Sidecar"
  | "WorkloadEntry"
  | "PeerAuthentication"
  | "AuthorizationPolicy";

const NETWORKING = {
  group: "networking.istio.io",
  versions: ["v1alpha3", "v1beta1", "v1"],
} as const;
const SECURITY = { group: "security.istio.io", versions: ["v1beta1", "v1"] } as const;

/** API group and served versions of each kind (`apiVersion` is `<group>/<version>`). */
export const KINDS: Readonly<Record<KindName, { group: string; versions: readonly string[] }>> = {
  VirtualService: NETWORKING,
  DestinationRule: NETWORKING,
  ServiceEntry: NETWORKING,
  Gateway: NETWORKING,
  Sidecar: NETWORKING,
  WorkloadEntry: NETWORKING,
  PeerAuthentication: SECURITY,
  AuthorizationPolicy: SECURITY,
};

/** The `spec` schema of each kind. */
export const specSchemas: Readonly<Record<KindName, z.ZodType>> = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  ServiceEntry: serviceEntrySpec,
  Gateway: gatewaySpec,
  Sidecar: sidecarSpec,
  WorkloadEntry: workloadEntrySpec,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
};
