/**
 * The config store: Istio resources with resourceVersion and generation,
 * persisted atomically as one YAML file in the state directory.
 *
 * @module
 */

export * from "./state_file.ts";
export * from "./store.ts";
