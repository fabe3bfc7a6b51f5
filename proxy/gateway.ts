/**
 * `mesh gateway`: an ingress or egress gateway. It serves the Gateway resources whose `selector`
 * matches its labels (one listener per server port, bound to `servers[].bind` or all
 * interfaces), routes with the VirtualServices bound to them, and follows its configuration
 * source (the control plane, or a `--config` file) — listeners open, close and reopen as the
 * Gateways change. Ready (admin `/ready`, and a line on stdout) once the first snapshot is
 * applied and its listeners accept; SIGTERM/SIGINT drain, SIGHUP re-reads a `--config` file.
 *
 * @module
 */

import { CliError, type Command, noPositionals, readToken, UsageError } from "../mesh/cli/mod.ts";
import {
  type ConfigSource,
  DiscoveryClient,
  StaticConfigError,
  StaticConfigSource,
} from "../mesh/discovery/mod.ts";
import { type AdminServer, startAdmin } from "./admin.ts";
import { GatewayProxy } from "./gateway_proxy.ts";
import { checkName, parseLabels, parsePortFlag, proxyIdentity } from "./identity.ts";
import { drainServers, Lifecycle } from "./lifecycle.ts";
import { ProxyMetrics } from "./metrics.ts";

/** How long a stopping gateway lets requests in flight finish. */
const DRAIN_MS = 5000;

/** `mesh gateway`: the edge proxy. */
export const gatewayCommand: Command = {
  name: "gateway",
  summary: "run an ingress or egress gateway for the Gateway resources selecting its labels",
  usage: "--name NAME [--namespace default] [--labels k=v,...] [--admin-port 15000] " +
    "[--control URL | --config FILE] [--state-dir DIR]",
  flags: [
    { name: "name", kind: "string", value: "NAME", description: "the gateway's name" },
    {
      name: "namespace",
      kind: "string",
      value: "NS",
      default: "default",
      description: "the gateway's namespace",
    },
    {
      name: "labels",
      kind: "list",
      value: "k=v,...",
      description: "labels Gateway selectors match (e.g. istio=ingressgateway)",
    },
    {
      name: "admin-port",
      kind: "string",
      value: "PORT",
      default: "15000",
      description: "admin server port on 127.0.0.1 (0: any free port)",
    },
    { name: "control", kind: "string", value: "URL", description: "the control plane's URL" },
    {
      name: "config",
      kind: "string",
      value: "FILE",
      description: "static mode: Istio YAML to serve, reloaded when it changes",
    },
    {
      name: "state-dir",
      kind: "string",
      value: "DIR",
      description: "where the last good snapshot is kept (default .state/gateway/<ns>/<name>)",
    },
    {
      name: "token-file",
      kind: "string",
      value: "FILE",
      description: "bearer token for the control plane",
    },
  ],
  async run(args, io) {
    noPositionals(args, "gateway");
    const name = checkName("--name", args.values.get("name"));
    const namespace = checkName("--namespace", args.values.get("namespace"));
    const labels = parseLabels(args.lists.get("labels"));
    const adminPort = parsePortFlag("--admin-port", args.values.get("admin-port"));
    const control = args.values.get("control");
    const configFile = args.values.get("config");
    if (control && configFile) {
      throw new UsageError("give either --control URL or --config FILE, not both");
    }
    if (!control && !configFile) {
      throw new UsageError(
        "give --control URL (follow a control plane) or --config FILE (static mode)",
      );
    }
    const tokenFile = args.values.get("token-file");
    const token = tokenFile ? await readToken(tokenFile) : undefined;
    const stateDir = args.values.get("state-dir") ?? `.state/gateway/${namespace}/${name}`;
    const log = (line: string) => io.err(line + "\n");

    const identity = proxyIdentity({ mode: "gateway", name, namespace, labels });
    const metrics = new ProxyMetrics(identity);
    let source: ConfigSource | undefined;
    const life = new Lifecycle({
      reload: () => source instanceof StaticConfigSource ? source.reload() : undefined,
      log,
    });
    const gateway = new GatewayProxy({
      readiness: life.readiness,
      log,
      onRequest: (record) => metrics.observe(record),
    });
    life.install();
    let admin: AdminServer | undefined;
    try {
      admin = await startAdmin({
        identity,
        readiness: life.readiness,
        metrics,
        pipeline: () => gateway.pipeline,
        source: () => source?.status(),
        listeners: () =>
          gateway.listeners().map((l) => ({
            name: l.key,
            address: `${l.bind}:${l.port}`,
            kind: l.kind,
            gateways: l.gateways,
          })),
      }, { port: adminPort });

      const apply = (snapshot: Parameters<GatewayProxy["apply"]>[0]) => gateway.apply(snapshot);
      if (configFile) {
        const file = new StaticConfigSource({ file: configFile, identity, apply, log });
        source = file;
        try {
          await file.start();
        } catch (error) {
          if (error instanceof StaticConfigError) throw new CliError(error.message);
          throw error;
        }
      } else {
        const client = new DiscoveryClient({
          control: control!,
          token,
          identity,
          apply,
          stateDir,
          log,
        });
        source = client;
        await client.start();
        const first = await Promise.race([client.ready.then(() => true), life.stopped]);
        if (first !== true) return await shutdown();
      }
      const ports = gateway.listeners().map((l) => l.port);
      io.out(
        `mesh gateway ${namespace}/${name} ready: admin 127.0.0.1:${admin.port} ` +
          `listeners [${ports.join(", ")}]\n`,
      );
      await life.stopped;
      return await shutdown();
    } catch (error) {
      await shutdown();
      throw error;
    }

    async function shutdown(): Promise<number> {
      life.readiness.startDraining();
      await source?.stop();
      await drainServers([gateway], { timeoutMs: DRAIN_MS });
      await admin?.close();
      admin = undefined;
      life.dispose();
      return 0;
    }
  },
};
