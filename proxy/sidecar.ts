/**
 * `mesh sidecar`: a proxy next to one application instance.
 *
 * - **Outbound** on `127.0.0.1:<outbound-port>`: the app's calls (explicit proxy with
 *   absolute-form URIs, or the service in `Host`) go through the pipeline; callers are internal,
 *   so `x-envoy-*` override headers are honoured.
 * - **Inbound** on `<address or 0.0.0.0>:<inbound-port>`: forwarded to the app at
 *   `<app-host>:<app-port>` over a keep-alive pool; no VirtualService logic (SEMANTICS §2.1);
 *   503 UF when the app does not answer. Peers' active health checks (`x-mesh-health-check`)
 *   are answered by the sidecar itself (see `inboundHandler`).
 * - **Admin** on `127.0.0.1:<admin-port>` (`admin.ts`).
 * - Registers `<address>:<inbound-port>` once the app accepts connections, heartbeats, and
 *   deregisters before draining on SIGTERM/SIGINT. SIGHUP reloads a `--config` file.
 * - **Exec mode** (`-- COMMAND ARGS`): starts the app once ready with `MESH_OUTBOUND` and
 *   `HTTP_PROXY` pointing at the outbound listener, passes signals to it, keeps proxying while
 *   it stops, and exits with its exit code.
 *
 * @module
 */

import { CliError, type CliIo, type ParsedArgs, readToken, UsageError } from "../mesh/cli/mod.ts";
import {
  type ByteListener,
  ConnectionPool,
  forward,
  type Handler,
  HttpServer,
  listenTcp,
} from "../mesh/http/mod.ts";
import type { Registration } from "../mesh/model/mod.ts";
import { HEALTH_CHECK_HEADER } from "../mesh/pipeline/mod.ts";
import { startAdmin } from "./admin.ts";
import { checkLocality, checkName, parseLabels, parsePortFlag, proxyIdentity } from "./identity.ts";
import { drainServers, exitCodeOf, parseDrainTimeout, type Readiness } from "./lifecycle.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { ProxyRuntime } from "./runtime.ts";

/** Everything a sidecar runs with, checked. */
export interface SidecarSettings {
  service: string;
  namespace: string;
  version?: string;
  labels: Record<string, string>;
  appHost: string;
  appPort: number;
  /** `--address`: bound by the inbound listener and registered; undefined binds 0.0.0.0. */
  address?: string;
  inboundPort: number;
  outboundPort: number;
  adminPort: number;
  locality?: string;
  serviceAccount?: string;
  control?: string;
  config?: string;
  tokenFile?: string;
  stateDir: string;
  drainTimeoutMs: number;
  /** Exec mode: the app's command line. */
  exec: string[];
}

/** Keep accepting this long after deregistering so callers learn the instance is gone. */
const DEREGISTER_HOLD_MS = 1000;

/** Reads and checks the sidecar's flags; throws a UsageError naming the bad one. */
export function sidecarSettings(args: ParsedArgs): SidecarSettings {
  if (args.positionals.length > 0) {
    throw new UsageError(
      `unexpected argument "${args.positionals[0]}"; to start an application put it after ` +
        "'--', e.g. mesh sidecar --service web --app-port 8080 -- ./web",
    );
  }
  const v = args.values;
  const service = checkName("--service", v.get("service"));
  const namespace = checkName("--namespace", v.get("namespace"));
  if (!v.has("app-port")) throw new UsageError("--app-port is required (the port your app serves)");
  const appPort = parsePortFlag("--app-port", v.get("app-port"));
  if (appPort === 0) throw new UsageError("--app-port 0: give the port your app listens on");
  const version = v.get("version") || undefined;
  if (version !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(version)) {
    throw new UsageError(`--version "${version}": use letters, digits, '-', '_' or '.', e.g. v2`);
  }
  const labels = parseLabels(args.lists.get("labels"));
  const address = v.get("address") || undefined;
  if (address !== undefined && !isIp(address)) {
    throw new UsageError(`--address ${address}: give this instance's IP address, e.g. 10.0.0.5`);
  }
  const defaultStateDir = `.state/sidecar/${namespace}/${service}${version ? `-${version}` : ""}`;
  return {
    service,
    namespace,
    version,
    labels,
    appHost: v.get("app-host") ?? "127.0.0.1",
    appPort,
    address,
    inboundPort: parsePortFlag("--inbound-port", v.get("inbound-port")),
    outboundPort: parsePortFlag("--outbound-port", v.get("outbound-port")),
    adminPort: parsePortFlag("--admin-port", v.get("admin-port")),
    locality: checkLocality(v.get("locality")),
    serviceAccount: v.get("service-account") || undefined,
    control: v.get("control") || undefined,
    config: v.get("config") || undefined,
    tokenFile: v.get("token-file") || undefined,
    stateDir: v.get("state-dir") || defaultStateDir,
    drainTimeoutMs: parseDrainTimeout(v.get("drain-timeout")),
    exec: args.rest,
  };
}

function isIp(text: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) ||
    (text.includes(":") && /^[0-9a-fA-F:.]+$/.test(text));
}

function listen(flag: string, hostname: string, port: number): ByteListener {
  try {
    return listenTcp({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `${flag} ${port}: port ${port} on ${hostname} is already in use; stop the other ` +
          `process or pick another ${flag}`,
      );
    }
    throw new CliError(
      `${flag} ${port}: cannot listen on ${hostname}:${port}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
}

/** What the inbound handler needs to answer health-check probes itself. */
interface ProbeTarget {
  readiness: Readiness;
  appHost: string;
  appPort: number;
}

/** Time the app gets to accept a probe's TCP connection (the checker's timeout is 1 s). */
const PROBE_CONNECT_MS = 800;

/**
 * The inbound handler: a plain forward to the local app, observed as `reporter="destination"`.
 *
 * A request carrying `x-mesh-health-check` (a peer proxy's active health check) is answered here
 * and never reaches the app: 503 while this sidecar is not ready or draining, else 200 when the
 * app accepts a TCP connection within the probe timeout and 503 when it does not (its process is
 * gone or hung). An app sheds load by failing readiness, i.e. draining its sidecar; asking the
 * app itself over an application-level probe path is future work.
 */
function inboundHandler(pool: ConnectionPool, metrics: ProxyMetrics, probe: ProbeTarget): Handler {
  return async (req, res) => {
    if (req.head.has(HEALTH_CHECK_HEADER)) {
      if (!req.body.done) res.keepAlive = false;
      const ready = probe.readiness.ready;
      const up = ready && await accepts(probe.appHost, probe.appPort, PROBE_CONNECT_MS);
      const why = !ready ? probe.readiness.reason() : up ? "ok" : "application not accepting";
      return res.respond(up ? 200 : 503, ["content-type", "text/plain"], why + "\n");
    }
    const result = await forward(req, res, { pool, timeoutMs: 0, appendForwardedFor: false });
    metrics.observeInbound({
      status: result.status,
      flag: result.flag,
      durationMs: Date.now() - req.startTime,
      requestBytes: result.requestBytes,
      responseBytes: result.responseBytes,
    });
  };
}

/** Whether `host:port` accepts a TCP connection within `timeoutMs`. */
async function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname: host, port });
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    if (conn === undefined) {
      // Close a connection that completes after the deadline.
      connecting.then((c) => c.close(), () => {});
      return false;
    }
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `host:port` accepts a TCP connection (or `signal` aborts). */
async function waitForApp(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    try {
      const conn = await Deno.connect({ hostname: host, port });
      conn.close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return false;
}

function shown(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** Runs a sidecar until it is stopped (or its app exits, in exec mode); returns the exit code. */
export async function runSidecar(settings: SidecarSettings, io: CliIo): Promise<number> {
  const log = (line: string) => io.err(line + "\n");
  const identity = proxyIdentity({
    mode: "sidecar",
    name: settings.service,
    namespace: settings.namespace,
    labels: settings.labels,
    version: settings.version,
    locality: settings.locality,
    serviceAccount: settings.serviceAccount,
  });
  const token = settings.tokenFile ? await readToken(settings.tokenFile) : undefined;
  let app: Deno.ChildProcess | undefined;
  let appStatus: Deno.CommandStatus | undefined;
  const runtime = new ProxyRuntime({
    identity,
    control: settings.control,
    config: settings.config,
    token,
    stateDir: settings.stateDir,
    log,
    forwardSignal: (signal) => {
      if (app === undefined || appStatus !== undefined) return;
      try {
        app.kill(signal);
      } catch {
        // already gone
      }
    },
  });

  // Listeners first: port 0 must resolve to real ports before registering and printing them.
  const bindHost = settings.address ?? "0.0.0.0";
  const outboundListener = listen("--outbound-port", "127.0.0.1", settings.outboundPort);
  let inboundListener: ByteListener;
  try {
    inboundListener = listen("--inbound-port", bindHost, settings.inboundPort);
  } catch (error) {
    outboundListener.close();
    throw error;
  }
  const appPool = new ConnectionPool(settings.appHost, settings.appPort, {
    connectTimeoutMs: 2000,
  });
  const outbound = new HttpServer(
    runtime.handler({
      internal: true,
      port: 80,
      source: {
        name: identity.name,
        namespace: identity.namespace,
      },
    }),
  );
  const inbound = new HttpServer(
    inboundHandler(appPool, runtime.metrics, {
      readiness: runtime.readiness,
      appHost: settings.appHost,
      appPort: settings.appPort,
    }),
  );
  outbound.serve(outboundListener);
  inbound.serve(inboundListener);
  const outboundAddr = `127.0.0.1:${outboundListener.port}`;
  const inboundAddr = `${shown(inboundListener.hostname)}:${inboundListener.port}`;
  runtime.addListener({ name: "outbound", address: outboundAddr });
  runtime.addListener({
    name: "inbound",
    address: inboundAddr,
    app: `${shown(settings.appHost)}:${settings.appPort}`,
  });
  runtime.readiness.markListening();

  let admin;
  try {
    admin = await startAdmin(runtime, { port: settings.adminPort });
  } catch (error) {
    await Promise.all([outbound.close(0), inbound.close(0)]);
    throw error;
  }
  const cleanup = async () => {
    appPool.close();
    await runtime.close();
    await admin.close();
  };

  try {
    await runtime.start();
  } catch (error) {
    await Promise.all([outbound.close(0), inbound.close(0)]);
    await cleanup();
    throw error;
  }

  if (!(await runtime.configured())) {
    // Stopped before the first snapshot: nothing was registered or started.
    await Promise.all([outbound.close(0), inbound.close(0)]);
    await cleanup();
    return 0;
  }

  const name = `${identity.name}.${identity.namespace}`;
  const status = runtime.source();
  io.out(
    `mesh sidecar ${name} ready: outbound ${outboundAddr} inbound ${inboundAddr} admin ` +
      `127.0.0.1:${admin.port} (snapshot ${status?.version ?? "?"} from ${
        status?.origin ?? "?"
      })\n`,
  );

  const registration: Registration = {
    service: settings.service,
    namespace: settings.namespace,
    labels: identity.labels,
    address: settings.address ?? "127.0.0.1",
    port: inboundListener.port,
  };
  if (settings.locality) registration.locality = settings.locality;
  if (settings.serviceAccount) registration.serviceAccount = settings.serviceAccount;
  const stopWaiting = new AbortController();
  if (settings.control !== undefined) {
    // Register only once the app answers, so callers are not sent to an instance that refuses.
    waitForApp(settings.appHost, settings.appPort, stopWaiting.signal).then((up) => {
      if (up && !runtime.readiness.draining) runtime.register(registration);
    });
  }

  let appExited: Promise<Deno.CommandStatus> | undefined;
  if (settings.exec.length > 0) {
    const outboundUrl = `http://${outboundAddr}`;
    const env: Record<string, string> = {
      MESH_OUTBOUND: outboundUrl,
      HTTP_PROXY: outboundUrl,
      http_proxy: outboundUrl,
    };
    if (Deno.env.get("NO_PROXY") === undefined && Deno.env.get("no_proxy") === undefined) {
      env.NO_PROXY = "127.0.0.1,localhost,::1";
    }
    try {
      app = new Deno.Command(settings.exec[0], {
        args: settings.exec.slice(1),
        env,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      stopWaiting.abort();
      await runtime.deregister();
      await Promise.all([outbound.close(0), inbound.close(0)]);
      await cleanup();
      const reason = error instanceof Deno.errors.NotFound
        ? "no such command"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new CliError(`cannot start ${settings.exec[0]}: ${reason}`);
    }
    appExited = app.status.then((s) => appStatus = s);
  }

  const first = await Promise.race([
    runtime.lifecycle.stopped.then((signal) => ({ signal })),
    ...(appExited ? [appExited.then((s) => ({ app: s }))] : []),
  ]);
  runtime.readiness.startDraining();
  stopWaiting.abort();
  if ("signal" in first) {
    log(`mesh sidecar ${name}: ${first.signal}: deregistering and draining`);
  } else {
    log(`mesh sidecar ${name}: the application exited (code ${exitCodeOf(first.app)}); draining`);
  }
  await runtime.deregister();
  let code = 0;
  if (appExited !== undefined) {
    // The app got the signal already (forwarded); keep proxying until it is done.
    code = exitCodeOf(await appExited);
    await drainServers([inbound, outbound], { timeoutMs: settings.drainTimeoutMs });
  } else {
    await drainServers([inbound, outbound], {
      timeoutMs: settings.drainTimeoutMs,
      holdMs: settings.control !== undefined ? DEREGISTER_HOLD_MS : 0,
    });
  }
  await cleanup();
  log(`mesh sidecar ${name}: stopped`);
  return code;
}
