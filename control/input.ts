/**
 * Validation of what a caller hands the control plane (an apply request, the
 * files of `--config-dir`): each file through `mesh/config`, plus the check
 * that one request names each resource once. Pure: text in, findings out.
 *
 * @module
 */

import {
  type Diagnostic,
  formatDiagnostic,
  type Resource,
  validateSource,
} from "../mesh/config/mod.ts";
import type { ApiDiagnostic, ApiFile } from "../mesh/cli/mod.ts";
import { resourceKey } from "./store/mod.ts";

/** The resources of a set of files and every finding, as `mesh validate` reports them. */
export interface InputResult {
  resources: Resource[];
  diagnostics: Diagnostic[];
  errors: number;
}

/** Options of {@link validateFiles}. */
export interface InputOptions {
  /** DNS domain of the mesh (default `cluster.local`). */
  domain?: string;
}

/**
 * Validates every file; a resource named twice (in one file or across
 * files) is an error on its second definition, since one apply replaces
 * each resource with exactly one definition.
 */
export function validateFiles(files: readonly ApiFile[], options: InputOptions = {}): InputResult {
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  const firstFile = new Map<string, string>();
  for (const file of files) {
    const result = validateSource(file.yaml, file.name, { domain: options.domain });
    diagnostics.push(...result.diagnostics);
    for (const resource of result.resources) {
      const { kind, metadata } = resource;
      const key = resourceKey(kind, metadata.namespace, metadata.name);
      const first = firstFile.get(key);
      if (first !== undefined) {
        diagnostics.push({
          severity: "error",
          file: file.name,
          line: 0,
          column: 0,
          document: `${kind} ${metadata.namespace}/${metadata.name}`,
          path: "",
          message: `defined again (first in ${first}); keep one definition of each resource`,
        });
        continue;
      }
      firstFile.set(key, file.name);
      resources.push(resource);
    }
  }
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  return { resources, diagnostics, errors };
}

/** A diagnostic for the API: its fields plus the line `mesh validate` prints. */
export function toApiDiagnostic(diagnostic: Diagnostic): ApiDiagnostic {
  return { ...diagnostic, text: formatDiagnostic(diagnostic) };
}
