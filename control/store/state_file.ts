/**
 * The on-disk form of the config store: ONE YAML file, `resources.yaml`, a
 * Kubernetes `kind: List` whose `metadata.resourceVersion` is the store
 * revision and whose `items` are the stored resources.
 *
 * Why one file: an apply is all-or-nothing across every resource it names.
 * With one file replaced by an atomic rename (see `../persist.ts`) a crash
 * leaves exactly the old or the new state; one file per resource would need
 * a journal to get the same guarantee. The cost is rewriting the whole store
 * on each change, which is small at the sizes a mesh's configuration has.
 *
 * The file is a valid `mesh validate` / `mesh apply` input, so an operator
 * can inspect it, back it up or re-apply it elsewhere.
 *
 * @module
 */

import { stringify } from "yaml";
import { formatDiagnostic, validateSource } from "../../mesh/config/mod.ts";
import type { StoredResource } from "../../mesh/cli/mod.ts";

/** File name of the store inside the state directory. */
export const STATE_FILE = "resources.yaml";

/** What a state file holds. */
export interface StoreState {
  revision: number;
  resources: StoredResource[];
}

/** Renders a state as the text of `resources.yaml`. */
export function encodeState(state: StoreState): string {
  const header = "# mesh control plane state: written atomically by `mesh control`; do not edit\n" +
    "# while it runs. `mesh apply -f` accepts this file.\n";
  return header + stringify(
    {
      apiVersion: "v1",
      kind: "List",
      metadata: { resourceVersion: String(state.revision) },
      items: state.resources,
    },
    { lineWidth: 0 },
  );
}

/** A state file that cannot be loaded; the message lists every problem. */
export class StateFileError extends Error {
  override name = "StateFileError";
}

const HEADER_REVISION = /^metadata:\n {2}resourceVersion: "(\d+)"$/m;

/**
 * Parses the text of `resources.yaml`. Every resource is validated as
 * `mesh validate` would, so a hand edit that broke the file is reported
 * with file and line rather than loaded half-way.
 */
export function decodeState(text: string, file: string): StoreState {
  const result = validateSource(text, file);
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    throw new StateFileError(
      `the state file ${file} is invalid; fix or restore it (it is plain YAML), ` +
        `or move it away to start empty:\n${errors.map(formatDiagnostic).join("\n")}`,
    );
  }
  let revision = Number(HEADER_REVISION.exec(text)?.[1] ?? 0);
  const resources: StoredResource[] = [];
  for (const resource of result.resources) {
    const meta = resource.metadata;
    const version = Number(meta.resourceVersion ?? 0);
    if (!Number.isSafeInteger(version)) {
      throw new StateFileError(
        `the state file ${file}: ${resource.kind} ${meta.namespace}/${meta.name} has ` +
          `metadata.resourceVersion ${JSON.stringify(meta.resourceVersion)}, not a number`,
      );
    }
    revision = Math.max(revision, version);
    resources.push({
      ...resource,
      metadata: {
        ...meta,
        uid: String(meta.uid ?? crypto.randomUUID()),
        resourceVersion: String(version),
        generation: typeof meta.generation === "number" ? meta.generation : 1,
        creationTimestamp: String(meta.creationTimestamp ?? new Date(0).toISOString()),
      },
    });
  }
  return { revision, resources };
}
