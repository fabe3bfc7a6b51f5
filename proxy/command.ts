/**
 * The `mesh sidecar` command: flags (each with its `MESH_*` environment twin) and dispatch to
 * {@linkcode runSidecar}.
 *
 * @module
 */

import type { Command } from "../mesh/cli/mod.ts";
import { DEFAULT_DRAIN_TIMEOUT } from "./lifecycle.ts";
import { runSidecar, sidecarSettings } from "./sidecar.ts";

/** `mesh sidecar`: a proxy next to one application instance. */
export const sidecarCommand: Command = {
  name: "sidecar",
  summary: "run a sidecar proxy next to an application (optionally starting it: -- COMMAND)",
  usage: "--service NAME --app-port PORT [--namespace default] [--version V] [--labels k=v,...] " +
    "[--app-host 127.0.0.1] [--address IP] [--inbound-port 15006] [--outbound-port 15001] " +
    "[--admin-port 15000] [--locality region/zone/subzone] [--service-account NAME] " +
    "[--control URL | --config FILE] [--state-dir DIR] [--drain-timeout 5s] [-- COMMAND ARGS...]",
  flags: [
    { name: "service", kind: "string", value: "NAME", description: "the service this app serves" },
    { name: "app-port", kind: "string", value: "PORT", description: "port the app listens on" },
    {
      name: "namespace",
      kind: "string",
      value: "NS",
      default: "default",
      description: "the service's namespace",
    },
    {
      name: "version",
      kind: "string",
      value: "V",
      description: "version label of this instance (adds version=V)",
    },
    {
      name: "labels",
      kind: "list",
      value: "k=v,...",
      description: "more instance labels (app=<service> is always set)",
    },
    {
      name: "app-host",
      kind: "string",
      value: "HOST",
      default: "127.0.0.1",
      description: "where the app listens",
    },
    {
      name: "address",
      kind: "string",
      value: "IP",
      description: "this instance's IP: inbound binds it and it is registered " +
        "(default: bind 0.0.0.0, register 127.0.0.1)",
    },
    {
      name: "inbound-port",
      kind: "string",
      value: "PORT",
      default: "15006",
      description: "inbound listener, the registered port (0: any free port)",
    },
    {
      name: "outbound-port",
      kind: "string",
      value: "PORT",
      default: "15001",
      description: "outbound listener on 127.0.0.1 for the app's calls (0: any free port)",
    },
    {
      name: "admin-port",
      kind: "string",
      value: "PORT",
      default: "15000",
      description: "admin server on 127.0.0.1: /ready, /config_dump, /clusters, /stats/prometheus",
    },
    {
      name: "locality",
      kind: "string",
      value: "REGION/ZONE/SUBZONE",
      description: "where this instance runs (locality-aware load balancing)",
    },
    {
      name: "service-account",
      kind: "string",
      value: "NAME",
      description: "the workload's service account (identity)",
    },
    {
      name: "control",
      kind: "string",
      value: "URL",
      description: "control plane URL, e.g. http://127.0.0.1:15010",
    },
    {
      name: "config",
      kind: "string",
      value: "FILE",
      description: "static Istio YAML instead of a control plane (reloaded when it changes)",
    },
    {
      name: "token-file",
      kind: "string",
      value: "FILE",
      description: "bearer token for the control plane",
    },
    {
      name: "state-dir",
      kind: "string",
      value: "DIR",
      description: "where the last good snapshot is kept " +
        "(default .state/sidecar/<namespace>/<service>[-<version>])",
    },
    {
      name: "drain-timeout",
      kind: "string",
      value: "DURATION",
      default: DEFAULT_DRAIN_TIMEOUT,
      description: "how long requests in flight may finish on shutdown",
    },
  ],
  run(args, io) {
    return runSidecar(sidecarSettings(args), io);
  },
};
