/**
 * Control-plane benchmark: a `mesh control` process with 500 services (a
 * VirtualService, a DestinationRule and 10 registered instances each, 10
 * namespaces with a `./*` Sidecar each) and 1,000 proxies connected over
 * real streams from one load process (`control_load.ts`, 100 with
 * `--quick`).
 *
 * Figures: time from `POST /v1/apply` to the last proxy's ACK (through
 * `GET /v1/wait`) for a change seen by one namespace and for a mesh-wide
 * change every proxy must receive (target < 2 s); the control plane's peak
 * RSS (VmHWM, target < 300 MB); and the snapshot build time per proxy
 * (target < 1 ms median), measured in this process on the same input.
 *
 * Standalone: `deno run -A tests/bench/control_bench.ts [--quick]`.
 *
 * @module
 */

import { normalize, validateSource } from "../../mesh/config/mod.ts";
import {
  buildSnapshot,
  DEFAULT_MESH_SETTINGS,
  type ProxyIdentity,
  type ServiceInstance,
  type SnapshotInput,
  type WaitResponse,
} from "../../mesh/model/mod.ts";
import { percentile, procStatusKb } from "./parse.ts";
import { cpuTicks, freePort, startPolled, stop } from "./procs.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const LOAD = new URL("./control_load.ts", import.meta.url).pathname;

const SERVICES = 500;
const NAMESPACES = 10;
const INSTANCES_PER_SERVICE = 10;

/** Figures of one run. */
export interface ControlBenchResult {
  proxies: number;
  services: number;
  instances: number;
  /** Typical snapshot size (one namespace's scope). */
  "snapshot KB": number;
  /** From starting the load process to every proxy's first ACK. */
  "connect all, ms": number;
  /** Apply → last ACK, change in one namespace (that namespace's proxies get it). */
  "apply→last ACK, one namespace, ms": number;
  /** Apply → last ACK, mesh-wide change: median of 3. */
  "apply→last ACK, mesh-wide, median ms": number;
  "apply→last ACK, mesh-wide, max ms": number;
  /** VmHWM once the configuration and registrations are loaded, before any proxy. */
  "control peak RSS after setup MB": number;
  /** VmHWM once every proxy is connected (Deno holds about 70 KB per streaming response). */
  "control peak RSS with proxies connected MB": number;
  "control peak RSS MB": number;
  /** CPU time (user + system) the control plane spent per mesh-wide change. */
  "CPU ms per mesh-wide push, control": number;
  /** CPU time the load process spent per mesh-wide change (reading and ACKing). */
  "CPU ms per mesh-wide push, load process": number;
  "snapshot build per proxy, median µs": number;
  "snapshot build per proxy, p99 µs": number;
  /** Includes indexing the input and building each distinct scope once. */
  "snapshot build all proxies, ms": number;
}

function service(s: number): { name: string; ns: string } {
  return { name: `svc-${s}`, ns: `ns-${s % NAMESPACES}` };
}

/** The benchmark's configuration: a Sidecar per namespace, a VS and a DR per service. */
export function configYaml(): string {
  const docs: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns-${n}}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
`);
  }
  for (let s = 0; s < SERVICES; s++) {
    const { name, ns } = service(s);
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: ${name}, subset: v2}}]
  - route:
    - destination: {host: ${name}, subset: v1}
      weight: 90
    - destination: {host: ${name}, subset: v2}
      weight: 10
    retries: {attempts: 3, perTryTimeout: 2s}
`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`);
  }
  return docs.join("---\n");
}

/** Registration `k` of service `s`. */
export function registration(s: number, k: number): {
  service: string;
  namespace: string;
  labels: Record<string, string>;
  address: string;
  port: number;
  locality: string;
} {
  const { name, ns } = service(s);
  return {
    service: name,
    namespace: ns,
    labels: { version: `v${k % 2 + 1}` },
    address: `10.${Math.floor(s / 250)}.${s % 250}.${k + 1}`,
    port: 15006,
    locality: `region-${k % 2}/zone-${k % 3}`,
  };
}

/** A root-namespace policy every proxy receives; `round` varies its content. */
export function meshWidePolicy(round: number): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: ["blocked-${round}"]}}]}]
`;
}

async function call<T>(url: string, method: string, path: string, body?: string): Promise<T> {
  const response = await fetch(url + path, {
    method,
    body,
    headers: body?.startsWith("{") ? { "content-type": "application/json" } : {},
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Applies `yaml`, then waits until every connected proxy ACKed; returns milliseconds. */
async function applyAndWait(url: string, yaml: string, proxies: number): Promise<number> {
  const t0 = performance.now();
  const { revision } = await call<{ revision: string }>(url, "POST", "/v1/apply", yaml);
  const wait = await call<WaitResponse>(url, "GET", `/v1/wait?revision=${revision}&timeout=60s`);
  const ms = performance.now() - t0;
  if (!wait.synced || wait.connected !== proxies) {
    throw new Error(
      `revision ${revision}: synced=${wait.synced}, ${wait.connected}/${proxies} connected, ` +
        `${wait.pending.length} pending`,
    );
  }
  return ms;
}

/** Times `buildSnapshot` per proxy on an input equal to the control plane's. */
function buildTimes(proxies: number): { perProxyUs: number[]; totalMs: number; bytes: number } {
  const validated = validateSource(configYaml() + "---\n" + meshWidePolicy(0), "bench.yaml");
  const resources = validated.resources.map((r) => normalize(r));
  const instances: ServiceInstance[] = [];
  for (let s = 0; s < SERVICES; s++) {
    for (let k = 0; k < INSTANCES_PER_SERVICE; k++) {
      const r = registration(s, k);
      instances.push({
        host: `${r.service}.${r.namespace}.svc.cluster.local`,
        namespace: r.namespace,
        address: r.address,
        port: r.port,
        labels: { app: r.service, ...r.labels },
        locality: r.locality,
        source: "registry",
      });
    }
  }
  const input: SnapshotInput = { resources, instances, mesh: DEFAULT_MESH_SETTINGS };
  const perProxyUs: number[] = [];
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < proxies; i++) {
    const svc = i % SERVICES;
    const { name, ns } = service(svc);
    const identity: ProxyIdentity = {
      mode: "sidecar",
      name,
      namespace: ns,
      labels: { app: name, version: `v${i % 2 + 1}` },
      id: `${name}-${i}.${ns}`,
    };
    const b0 = performance.now();
    const snapshot = buildSnapshot(input, identity);
    perProxyUs.push((performance.now() - b0) * 1000);
    if (i === 0) bytes = JSON.stringify(snapshot).length;
  }
  return { perProxyUs, totalMs: performance.now() - t0, bytes };
}

/** Runs the benchmark (`quick`: 100 proxies instead of 1,000). */
export async function runControlBench(
  opts: { quick?: boolean } = {},
): Promise<ControlBenchResult> {
  const quick = opts.quick ?? Deno.args.includes("--quick");
  const proxies = quick ? 100 : 1000;
  const stateDir = await Deno.makeTempDir({ prefix: "mesh-control-bench-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const control = await startPolled(
    [
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      "control",
      "--port",
      String(port),
      "--state-dir",
      stateDir,
      "--registry-ttl",
      "30m",
    ],
    port,
    { name: "mesh control" },
  );
  let load: Deno.ChildProcess | undefined;
  try {
    await call(url, "POST", "/v1/apply", configYaml() + "---\n" + meshWidePolicy(0));
    const registrations: ReturnType<typeof registration>[] = [];
    for (let s = 0; s < SERVICES; s++) {
      for (let k = 0; k < INSTANCES_PER_SERVICE; k++) registrations.push(registration(s, k));
    }
    for (let i = 0; i < registrations.length; i += 50) {
      await Promise.all(
        registrations.slice(i, i + 50).map((r) =>
          call(url, "POST", "/v1/registry/register", JSON.stringify(r))
        ),
      );
    }

    const hwm = () =>
      Math.round(
        procStatusKb(Deno.readTextFileSync(`/proc/${control.pid}/status`), "VmHWM") / 1024,
      );
    const setupRssMb = hwm();
    const t0 = performance.now();
    load = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        LOAD,
        url,
        String(proxies),
        String(SERVICES),
        String(NAMESPACES),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = load.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes(`ready ${proxies}`)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the load process exited: ${out}`);
      out += value;
    }
    const connectMs = performance.now() - t0;
    const connectedRssMb = hwm();
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
    })();

    const vsChange = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-0, namespace: ns-0}
spec:
  hosts: [svc-0]
  http:
  - route: [{destination: {host: svc-0, subset: v2}}]
`;
    const oneNamespace = await applyAndWait(url, vsChange, proxies);
    const meshWide: number[] = [];
    const c0 = cpuTicks([control.pid]);
    const l0 = cpuTicks([load.pid]);
    for (let round = 1; round <= 3; round++) {
      meshWide.push(await applyAndWait(url, meshWidePolicy(round), proxies));
    }
    meshWide.sort((a, b) => a - b);
    const cpu = { control: cpuTicks([control.pid]) - c0, load: cpuTicks([load.pid]) - l0 };
    const rssMb = hwm();

    const build = buildTimes(proxies);
    const sorted = [...build.perProxyUs].sort((a, b) => a - b);
    const result: ControlBenchResult = {
      proxies,
      services: SERVICES,
      instances: SERVICES * INSTANCES_PER_SERVICE,
      "snapshot KB": Math.round(build.bytes / 1024),
      "connect all, ms": Math.round(connectMs),
      "apply→last ACK, one namespace, ms": Math.round(oneNamespace),
      "apply→last ACK, mesh-wide, median ms": Math.round(meshWide[1]),
      "apply→last ACK, mesh-wide, max ms": Math.round(meshWide[2]),
      "control peak RSS after setup MB": setupRssMb,
      "control peak RSS with proxies connected MB": connectedRssMb,
      "control peak RSS MB": rssMb,
      "CPU ms per mesh-wide push, control": Math.round(cpu.control * 10 / 3),
      "CPU ms per mesh-wide push, load process": Math.round(cpu.load * 10 / 3),
      "snapshot build per proxy, median µs": Number(percentile(sorted, 50).toFixed(1)),
      "snapshot build per proxy, p99 µs": Number(percentile(sorted, 99).toFixed(1)),
      "snapshot build all proxies, ms": Math.round(build.totalMs),
    };
    console.log(
      "  targets: apply→last ACK < 2000 ms, control peak RSS < 300 MB, build median < 1000 µs",
    );
    return result;
  } finally {
    if (load) {
      try {
        load.kill("SIGTERM");
      } catch { /* gone */ }
      await load.status;
    }
    await stop(control.child);
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const result = await runControlBench();
  for (const [key, value] of Object.entries(result)) console.log(`${key.padEnd(40)} ${value}`);
}
