/**
 * Fixtures of the discovery tests: an in-process control plane on a real
 * loopback socket, a `mesh control` subprocess, `mesh` CLI runs, polling,
 * and an `apply` callback that records what it was given.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ApiOptions,
  ControlPlane,
  type ControlPlaneOptions,
  createApi,
} from "../../control/mod.ts";
import type { ProxyIdentity, Snapshot } from "../../mesh/model/mod.ts";

/** Path of the `mesh` entry point. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running in-process control plane. */
export interface Plane {
  url: string;
  plane: ControlPlane;
  dir: string;
  /** Calls the API; JSON in and out. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Applies YAML through the API; returns the revision. */
  apply(yaml: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a control plane in this process, serving its API on 127.0.0.1:0. */
export async function startPlane(
  options: Partial<ControlPlaneOptions> & ApiOptions = {},
): Promise<Plane> {
  const dir = options.stateDir ?? await Deno.makeTempDir({ prefix: "mesh-discovery-" });
  const plane = await ControlPlane.open({
    log: () => {},
    pushDebounceMs: 30,
    ...options,
    stateDir: dir,
  });
  plane.start();
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: (a) => listening.resolve(a.port) },
    createApi(plane, options).fetch,
  );
  const url = `http://127.0.0.1:${await listening.promise}`;
  const call: Plane["call"] = async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (typeof body === "string") init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    if (options.token) {
      (init.headers as Record<string, string>).authorization ??= `Bearer ${options.token}`;
    }
    const response = await fetch(url + path, init);
    return { status: response.status, json: await response.json() };
  };
  return {
    url,
    plane,
    dir,
    call,
    async apply(yaml) {
      const result = await call("POST", "/v1/apply", yaml);
      assert.equal(result.status, 200, JSON.stringify(result.json));
      return result.json.revision as string;
    },
    async stop() {
      plane.push.close();
      await server.shutdown();
      await plane.close();
      if (options.stateDir === undefined) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A `mesh control` subprocess. */
export interface ControlProcess {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  /** Sends `signal` and waits for the exit; resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Starts `mesh control` on `port` (0: any) and waits until it listens. */
export async function startControlProcess(
  stateDir: string,
  options: { port?: number; args?: string[] } = {},
): Promise<ControlProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "control",
      "--port",
      String(options.port ?? 0),
      "--state-dir",
      stateDir,
      ...(options.args ?? []),
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`mesh control exited before listening: ${first} ${await stderr}`);
    first += value;
  }
  const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(first);
  assert.ok(match, `unexpected first line: ${first}`);
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    url: match[1],
    port: Number(match[2]),
    child,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await drained;
      await stderr;
      return status.code;
    },
  };
}

/** Result of a `mesh` CLI run. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mesh ARGS` as a real process. */
export async function mesh(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Polls `check` every 20 ms until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** An `apply` callback recording every snapshot; `reject` decides which ones throw. */
export function recorder(reject?: (snapshot: Snapshot) => string | undefined) {
  const seen: Snapshot[] = [];
  return {
    seen,
    apply(snapshot: Snapshot): void {
      const problem = reject?.(snapshot);
      if (problem) throw new Error(problem);
      seen.push(snapshot);
    },
    /** Names (`Kind/ns/name`) in the last applied snapshot. */
    names(): string[] {
      const last = seen.at(-1);
      return last
        ? last.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`)
        : [];
    },
  };
}

/** A sidecar identity. */
export function sidecarIdentity(name: string, namespace = "default"): ProxyIdentity {
  return { mode: "sidecar", name, namespace, labels: { app: name }, id: `${name}-1.${namespace}` };
}

/** A VirtualService document. */
export function vs(name: string, options: { ns?: string; dest?: string; exportTo?: string } = {}) {
  const exportTo = options.exportTo ? `\n  exportTo: ["${options.exportTo}"]` : "";
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${options.ns ?? "default"}}
spec:
  hosts: [${name}]${exportTo}
  http:
  - route:
    - destination: {host: ${options.dest ?? name}}
`;
}
