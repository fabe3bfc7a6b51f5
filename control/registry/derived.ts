/**
 * Instances that configuration defines (ServiceEntry endpoints and selected
 * WorkloadEntries). The pure derivation lives in `mesh/model` because the
 * proxies' static `--config` source needs it too; re-exported here for the
 * registry.
 *
 * @module
 */

export { deriveInstances, type DeriveOptions, dnsNames } from "../../mesh/model/mod.ts";
