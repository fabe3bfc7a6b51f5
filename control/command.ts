/**
 * `mesh control`: runs the control plane (config store, registry, API) until
 * SIGTERM or SIGINT.
 *
 * @module
 */

import { formatDuration, parseDuration } from "../mesh/config/mod.ts";
import { CliError, type Command, noPositionals, readToken, UsageError } from "../mesh/cli/mod.ts";
import { createApi, DEFAULT_MAX_BODY_BYTES } from "./api.ts";
import { ConfigDirError, ControlPlane } from "./plane.ts";
import { DEFAULT_TTL_MS } from "./registry/mod.ts";
import { StateFileError } from "./store/mod.ts";

/** Default state directory, relative to the working directory. */
export const DEFAULT_STATE_DIR = ".state/control";

/** `mesh control`: the control plane. */
export const controlCommand: Command = {
  name: "control",
  summary: "run the control plane: config store, service registry and API",
  usage: "[--host 127.0.0.1] [--port 15010] [--state-dir DIR] [--config-dir DIR] " +
    "[--domain cluster.local] [--token-file FILE] [--registry-ttl 30s]",
  flags: [
    {
      name: "host",
      kind: "string",
      value: "ADDR",
      default: "127.0.0.1",
      description: "address to listen on",
    },
    {
      name: "port",
      kind: "string",
      value: "PORT",
      default: "15010",
      description: "API port (0: any free port)",
    },
    {
      name: "state-dir",
      kind: "string",
      value: "DIR",
      default: DEFAULT_STATE_DIR,
      description: "where resources and registrations persist",
    },
    {
      name: "config-dir",
      kind: "string",
      value: "DIR",
      description: "read-only directory of Istio YAML, watched for changes (GitOps)",
    },
    {
      name: "domain",
      kind: "string",
      value: "DOMAIN",
      default: "cluster.local",
      description: "DNS domain of the mesh",
    },
    {
      name: "token-file",
      kind: "string",
      value: "FILE",
      description: "require 'Authorization: Bearer <token>' with the token in FILE",
    },
    {
      name: "registry-ttl",
      kind: "string",
      value: "DURATION",
      default: formatDuration(DEFAULT_TTL_MS),
      description: "how long a registration lives without a heartbeat",
    },
    {
      name: "etcd",
      kind: "string",
      value: "URL[,URL...]",
      description: "share state through etcd (not supported yet)",
    },
  ],
  async run(args, io) {
    noPositionals(args, "control");
    if (args.values.has("etcd")) {
      throw new CliError(
        "etcd is not supported yet; run one control plane with the embedded store " +
          "(--state-dir) and drop --etcd",
      );
    }
    const host = args.values.get("host")!;
    const port = parsePort(args.values.get("port")!);
    const ttl = parseDuration(args.values.get("registry-ttl")!);
    if (ttl === undefined || ttl < 100) {
      throw new UsageError(
        `--registry-ttl ${
          args.values.get("registry-ttl")
        }: give a duration of at least 100ms, e.g. 30s`,
      );
    }
    const tokenFile = args.values.get("token-file");
    const token = tokenFile ? await readToken(tokenFile) : undefined;
    const stateDir = args.values.get("state-dir")!;

    let plane: ControlPlane;
    try {
      plane = await ControlPlane.open({
        stateDir,
        configDir: args.values.get("config-dir"),
        domain: args.values.get("domain"),
        registryTtlMs: ttl,
        log: (line) => io.err(line + "\n"),
      });
    } catch (error) {
      if (error instanceof StateFileError || error instanceof ConfigDirError) {
        throw new CliError(error.message);
      }
      if (
        error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
      ) {
        throw new CliError(`cannot use --state-dir ${stateDir}: ${error.message}`);
      }
      throw error;
    }

    // SIGHUP re-reads --config-dir (installed before listening: the
    // default action would end the process).
    const reload = () => {
      plane.reloadConfigDir().then(
        (problem) =>
          io.err(
            problem
              ? `mesh control: ${problem}\n`
              : args.values.has("config-dir")
              ? "mesh control: SIGHUP: reloaded --config-dir\n"
              : "mesh control: SIGHUP: no --config-dir to reload\n",
          ),
        (error) => io.err(`mesh control: reload failed: ${error}\n`),
      );
    };
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", reload);
    const app = createApi(plane, { token, maxBodyBytes: DEFAULT_MAX_BODY_BYTES });
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        hostname: host,
        port,
        onListen: (addr) => {
          const shown = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
          io.out(`mesh control listening on http://${shown}:${addr.port}\n`);
        },
      }, app.fetch);
    } catch (error) {
      await plane.close();
      if (error instanceof Deno.errors.AddrInUse) {
        throw new CliError(
          `port ${port} on ${host} is already in use; stop the other process or pick --port`,
        );
      }
      throw new CliError(
        `cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : error}`,
      );
    }
    plane.start();

    const stopped = Promise.withResolvers<void>();
    const stop = () => stopped.resolve();
    const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
    for (const signal of signals) Deno.addSignalListener(signal, stop);
    await stopped.promise;
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", reload);
    // End the discovery streams (they never finish by themselves), stop accepting, let
    // requests in flight finish, then persist what is pending.
    plane.push.close();
    await server.shutdown();
    await plane.close();
    return 0;
  },
};

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(`--port ${text}: give a port number 0-65535 (0 picks a free port)`);
  }
  return port;
}
