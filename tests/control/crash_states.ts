/**
 * The two complete states the crash test alternates between: the same
 * resources, every one labeled with its state and with a spec of a
 * state-specific size (so a torn write could not look complete).
 *
 * @module
 */

/** Number of resources in each state. */
export const RESOURCES = 150;

/** The YAML of state `a` or `b`. */
export function bigState(state: "a" | "b"): string {
  const docs: string[] = [];
  const routes = state === "a" ? 12 : 20;
  for (let i = 0; i < RESOURCES; i++) {
    const http: string[] = [];
    for (let r = 0; r < routes; r++) {
      http.push(
        `  - match: [{uri: {prefix: /${state}/path-${r}}}]\n` +
          `    route: [{destination: {host: svc-${i}-${state}, subset: v${r}}}]`,
      );
    }
    docs.push(
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\n` +
        `metadata: {name: svc-${i}, labels: {state: "${state}"}}\n` +
        `spec:\n  hosts: [svc-${i}]\n  http:\n${http.join("\n")}\n`,
    );
  }
  return docs.join("---\n");
}
