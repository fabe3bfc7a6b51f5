/**
 * PeerAuthentication spec (`security.istio.io` v1beta1/v1), every field of
 * `security/v1beta1/peer_authentication.proto`, validated the way Istio's
 * `ValidatePeerAuthentication` does.
 *
 * @module
 */

import { z } from "zod";
import { asObject, enumOf, isSet, map, obj, show, workloadSelector } from "./primitives.ts";

const MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"] as const;

const mutualTls = obj({ mode: enumOf(MODES).optional() });

/** The PeerAuthentication `spec`. */
export const peerAuthenticationSpec = obj({
  selector: workloadSelector.optional(),
  mtls: mutualTls.optional(),
  portLevelMtls: map(mutualTls).optional(),
}, (v, report) => {
  const ports = asObject(v.portLevelMtls);
  if (!ports) return;
  const keys = Object.keys(ports);
  if (keys.length === 0) {
    report(["portLevelMtls"], `portLevelMtls is empty; list at least one port, or remove it`);
  }
  for (const key of keys) {
    const n = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!(n >= 1 && n <= 65535)) {
      report(
        ["portLevelMtls", key],
        `portLevelMtls key ${show(key)} is not a port number; ` +
          `use a workload port between 1 and 65535`,
      );
    }
  }
  const labels = asObject(asObject(v.selector)?.matchLabels);
  if (keys.length > 0 && (!isSet(v.selector) || !labels || Object.keys(labels).length === 0)) {
    report(
      ["portLevelMtls"],
      `portLevelMtls applies only to selected workloads; add ` +
        `selector.matchLabels, or move the mode to mtls for the whole namespace`,
    );
  }
});

/** The validated (not normalized) PeerAuthentication spec. */
export type PeerAuthenticationSpec = z.infer<typeof peerAuthenticationSpec>;
