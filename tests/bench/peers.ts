/**
 * The proxies mesh is measured against, plus mesh's own pass-through and the upstream: each is
 * started on loopback in a temporary directory and described as a {@linkcode Target}.
 *
 * @module
 */

import { freePort, processTree, type Server, startListening, startPolled, which } from "./procs.ts";

/** Something a load generator can be pointed at. */
export interface Target {
  /** Row label: `direct`, `nginx`, `haproxy`, `mesh`, `mesh w2`, ... */
  name: string;
  /** Port on 127.0.0.1. */
  port: number;
  /** The process(es) whose memory and CPU count as the proxy's; empty for `direct`. */
  proxyPids(): number[];
  /** The server process, if this target started one. */
  server?: Server;
}

/** A proxy that could not be started, with the reason to print. */
export interface Skipped {
  /** Target name. */
  name: string;
  /** Why it is missing from the tables. */
  reason: string;
}

const BENCH_DIR = new URL(".", import.meta.url).pathname;

/** Path of the upstream script next to this file. */
export const UPSTREAM_SCRIPT = `${BENCH_DIR}upstream.ts`;

/** Default path of mesh's pass-through entry (helper-owned file, may not exist yet). */
export const PASSTHROUGH_SCRIPT = `${BENCH_DIR}passthrough_main.ts`;

/** Starts the benchmark upstream serving `size`-byte bodies. */
export async function startUpstream(size: number): Promise<Target> {
  const server = await startListening(
    [Deno.execPath(), "run", "-A", UPSTREAM_SCRIPT, "--port", "0", "--size", String(size)],
    { name: `upstream (${size} B)` },
  );
  return { name: "direct", port: server.port, proxyPids: () => [], server };
}

/**
 * nginx configuration: one worker, keep-alive upstream pool, no access log, no per-connection
 * request limit (HAProxy has none either).
 */
export function nginxConfig(dir: string, listenPort: number, upstreamPort: number): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # The default (1000) closes client connections mid-run, and h2load does not reconnect.
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** HAProxy configuration: one thread, HTTP mode, connection reuse always, no logging. */
export function haproxyConfig(listenPort: number, upstreamPort: number): string {
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s

frontend bench
  bind 127.0.0.1:${listenPort}
  default_backend upstream

backend upstream
  server s1 127.0.0.1:${upstreamPort}
`;
}

/** Starts nginx in front of `upstreamPort`, or says why it cannot. */
export async function startNginx(
  upstreamPort: number,
  tmpDir: string,
): Promise<Target | Skipped> {
  const bin = which("nginx");
  if (!bin) return { name: "nginx", reason: "nginx is not installed (see the install command)" };
  const dir = await Deno.makeTempDir({ dir: tmpDir, prefix: "nginx-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, port, upstreamPort));
  const server = await startPolled([bin, "-p", dir, "-c", `${dir}/nginx.conf`], port, {
    name: "nginx",
  });
  // The master only forks and supervises; requests are served by the worker.
  const workers = () => processTree(server.pid).filter((p) => p !== server.pid);
  return { name: "nginx", port, proxyPids: workers, server };
}

/** Starts HAProxy in front of `upstreamPort`, or says why it cannot. */
export async function startHaproxy(
  upstreamPort: number,
  tmpDir: string,
): Promise<Target | Skipped> {
  const bin = which("haproxy");
  if (!bin) {
    return { name: "haproxy", reason: "haproxy is not installed (see the install command)" };
  }
  const dir = await Deno.makeTempDir({ dir: tmpDir, prefix: "haproxy-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, haproxyConfig(port, upstreamPort));
  // -db: stay in the foreground, one process.
  const server = await startPolled([bin, "-db", "-f", `${dir}/haproxy.cfg`], port, {
    name: "haproxy",
  });
  return { name: "haproxy", port, proxyPids: () => [server.pid], server };
}

/** Options of {@linkcode startMesh}. */
export interface MeshOptions {
  /** Entry script (default tests/bench/passthrough_main.ts). */
  entry: string;
  /** `--workers N`; omitted when undefined. */
  workers?: number;
  /** Row label (default `mesh`). */
  name?: string;
}

/** Starts mesh's pass-through in front of `upstreamPort`, or says why it cannot. */
export async function startMesh(
  upstreamPort: number,
  options: MeshOptions,
): Promise<Target | Skipped> {
  const name = options.name ?? "mesh";
  try {
    await Deno.stat(options.entry);
  } catch {
    return { name, reason: `${options.entry} does not exist yet` };
  }
  const cmd = [
    Deno.execPath(),
    "run",
    "-A",
    // The same V8 setting the compiled binary carries (deno.json "compile"):
    // a 4 MiB young generation cuts peak RSS by ~16-20 MiB at no CPU cost.
    // --unstable-net lets --workers use reusePort without re-executing itself.
    "--v8-flags=--max-semi-space-size=4",
    "--unstable-net",
    options.entry,
    "--port",
    "0",
    "--upstream",
    `127.0.0.1:${upstreamPort}`,
  ];
  if (options.workers !== undefined) cmd.push("--workers", String(options.workers));
  try {
    const server = await startListening(cmd, { name });
    // Deno workers are threads of one process, but count children too in case the entry forks.
    return { name, port: server.port, proxyPids: () => processTree(server.pid), server };
  } catch (err) {
    return { name, reason: (err as Error).message };
  }
}

/** Narrows a start result. */
export function isSkipped(t: Target | Skipped): t is Skipped {
  return "reason" in t;
}
