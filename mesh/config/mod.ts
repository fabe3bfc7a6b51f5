/**
 * Istio configuration: loading YAML/JSON with source positions, validation
 * (schemas, envelope, warnings) with located diagnostics, and normalization
 * into the canonical model every other part of mesh consumes.
 *
 * ```ts
 * const { resources, diagnostics } = validateSource(text, "rules.yaml");
 * const model = resources.map((r) => normalize(r));
 * ```
 *
 * @module
 */

export * from "./diagnostics.ts";
export * from "./duration.ts";
export * from "./host.ts";
export * from "./normalize.ts";
export * from "./source.ts";
export * from "./suggest.ts";
export * from "./types.ts";
export * from "./validate.ts";
export * from "./warnings.ts";
export { fastParseDocument } from "./yaml_fast.ts";
/** The zod schemas of every kind's `spec` (validated, not normalized, shapes and types). */
export * as schema from "./schema/mod.ts";
export { KINDS, specSchemas } from "./schema/mod.ts";
export type { UnknownFieldParams } from "./schema/mod.ts";
