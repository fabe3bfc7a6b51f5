/**
 * Shared fixtures of the control-plane tests: temporary state directories
 * and small Istio documents.
 *
 * @module
 */

import { type Resource, validateSource } from "../../mesh/config/mod.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-control-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A VirtualService document routing `host` to `dest` (default: host). */
export function vsYaml(
  name: string,
  options: { host?: string; dest?: string; ns?: string; labels?: Record<string, string> } = {},
): string {
  const host = options.host ?? name;
  const labels = options.labels
    ? `\n  labels: {${Object.entries(options.labels).map(([k, v]) => `${k}: "${v}"`).join(", ")}}`
    : "";
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${options.ns ?? "default"}${labels}
spec:
  hosts: [${host}]
  http:
  - route:
    - destination: {host: ${options.dest ?? host}}
`;
}

/** Validated resources of a YAML text; throws on any error. */
export function resources(text: string): Resource[] {
  const result = validateSource(text, "test.yaml");
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  return result.resources;
}
