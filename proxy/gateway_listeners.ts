/**
 * The sockets of a gateway proxy, kept in step with its snapshots: each {@linkcode ListenerPlan}
 * becomes one open listener (plain TCP, TLS through `Deno.listenTls`, or mutual TLS through
 * `node:tls`, which can require client certificates). Applying a new plan diffs by `bind:port`:
 * a listener whose kind and TLS settings are unchanged keeps its socket and connections and only
 * gets new routing; a changed one is reopened; a removed one stops accepting and drains its own
 * connections. Other ports are never touched.
 *
 * HTTP listeners select the Gateway server per request ({@linkcode ServerSelector}), answer
 * `httpsRedirect` servers with a 301, and hand everything else to the pipeline's handler for
 * that Gateway (which strips `x-envoy-*` headers, appends `x-forwarded-for`, and answers 404 NR
 * for unknown hosts). TCP and terminated-TLS listeners proxy at L4 ({@linkcode TcpProxy}).
 *
 * @module
 */

import {
  type ByteListener,
  type Handler,
  HttpServer,
  type IncomingRequest,
  listenNodeTls,
  listenTcp,
  type ResponseSink,
} from "../mesh/http/mod.ts";
import type { NormalizedResource } from "../mesh/config/mod.ts";
import {
  type CompiledConfig,
  compileTcpRoute,
  type Pipeline,
  type TcpRoute,
} from "../mesh/pipeline/mod.ts";
import {
  type GatewayPlan,
  type ListenerPlan,
  type ServerBinding,
  serverHostAdmits,
} from "./gateway_plan.ts";
import { ServerSelector } from "./gateway_routes.ts";
import { type TcpConnectionRecord, TcpProxy } from "./tcp_proxy.ts";

/** Options of {@linkcode GatewayListeners}. */
export interface GatewayListenersOptions {
  /** The proxy's pipeline (its config is the one routing reads). */
  pipeline: Pipeline;
  /** Operational messages. */
  log: (line: string) => void;
  /** How long a removed or reopened listener's connections may finish; default 5 s. */
  drainMs?: number;
  /** Called per finished L4 connection. */
  onTcpConnection?: (record: TcpConnectionRecord) => void;
}

/** What an open listener serves; replaced as a whole on every snapshot. */
interface HttpRouting {
  selector: ServerSelector;
  handlers: Map<string, Handler>;
}

interface OpenListener {
  plan: ListenerPlan;
  listener: ByteListener;
  http?: HttpServer;
  tcp?: TcpProxy;
  routing?: HttpRouting;
  tcpRoute?: TcpRoute;
  /** Pipeline handlers by gateway, kept across snapshots (they read the current config). */
  handlers: Map<string, Handler>;
  noRoute: Handler;
}

/** Summary of an open listener (admin, ready line). */
export interface ListenerInfo {
  /** `bind:port`. */
  key: string;
  /** Bound address. */
  bind: string;
  /** Bound port. */
  port: number;
  /** Listener kind. */
  kind: string;
  /** Gateways served on it. */
  gateways: string[];
}

/**
 * A Gateway name that never has a route table: the pipeline answers it 404 NR, so requests no
 * server admits get the same local reply and request record as any unrouted request.
 */
const NO_GATEWAY = "~no-matching-server";

/** Redirect target for `httpsRedirect`: same authority and path (Envoy's `require_tls`). */
async function redirectToHttps(req: IncomingRequest, res: ResponseSink): Promise<void> {
  const head = req.head;
  const path = head.path === "" || head.path === "*" ? "/" : head.path;
  await res.respond(301, ["location", `https://${head.authority}${path}`]);
}

/** The listeners of one gateway proxy. */
export class GatewayListeners {
  readonly #options: GatewayListenersOptions;
  readonly #open = new Map<string, OpenListener>();
  #closed = false;

  /** Creates an empty set; call {@linkcode GatewayListeners.apply} with each snapshot's plan. */
  constructor(options: GatewayListenersOptions) {
    this.#options = options;
  }

  /** The open listeners, in port order. */
  listeners(): ListenerInfo[] {
    return [...this.#open.values()].map((o) => ({
      key: o.plan.key,
      bind: o.plan.bind,
      port: o.listener.port,
      kind: o.plan.kind,
      gateways: [...new Set(o.plan.servers.map((s) => s.gateway))],
    })).sort((a, b) => a.port - b.port);
  }

  /**
   * Brings the open listeners in line with `plan` for the configuration `config` (already
   * swapped into the pipeline). Returns a message per listener that could not be opened; the
   * others are served regardless.
   */
  async apply(
    plan: GatewayPlan,
    resources: readonly NormalizedResource[],
    config: CompiledConfig,
  ): Promise<string[]> {
    if (this.#closed) return [];
    const problems: string[] = [];
    const wanted = new Map(plan.listeners.map((l) => [l.key, l]));
    const drains: Promise<void>[] = [];
    for (const [key, open] of this.#open) {
      const next = wanted.get(key);
      if (next === undefined || next.signature !== open.plan.signature) {
        this.#open.delete(key);
        drains.push(this.#shut(open, next === undefined ? "removed" : "reopened"));
      }
    }
    // A reopened port must be free before it is bound again.
    await Promise.all(drains.map((d) => Promise.race([d, delay(250)])));
    for (const next of plan.listeners) {
      let open = this.#open.get(next.key);
      if (open === undefined) {
        try {
          open = await this.#openListener(next);
        } catch (error) {
          problems.push(
            `cannot open listener ${next.key} (${next.kind}) for ` +
              `${next.servers.map((s) => s.gateway).join(", ")}: ${messageOf(error)}`,
          );
          continue;
        }
        this.#open.set(next.key, open);
      }
      open.plan = next;
      this.#route(open, resources, config);
    }
    return problems;
  }

  /** Stops accepting everywhere, lets connections finish for up to `graceMs`, then closes. */
  async close(graceMs = 0): Promise<void> {
    this.#closed = true;
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(all.map((o) => this.#stop(o, graceMs)));
  }

  /** Routing for `open` under the new configuration. */
  #route(
    open: OpenListener,
    resources: readonly NormalizedResource[],
    config: CompiledConfig,
  ): void {
    const servers = open.plan.servers;
    if (open.plan.kind === "http" || open.plan.kind === "https") {
      for (const s of servers) {
        if (!open.handlers.has(s.gateway)) {
          open.handlers.set(
            s.gateway,
            this.#options.pipeline.handler({
              gateway: s.gateway,
              port: open.plan.port,
              internal: false,
            }),
          );
        }
      }
      open.routing = { selector: new ServerSelector(servers, config), handlers: open.handlers };
      return;
    }
    open.tcpRoute = tcpRouteFor(servers, resources, config, open.plan.port, this.#options.log);
  }

  async #openListener(plan: ListenerPlan): Promise<OpenListener> {
    const listener = await bindListener(plan);
    const open: OpenListener = {
      plan,
      listener,
      handlers: new Map(),
      noRoute: this.#options.pipeline.handler({
        gateway: NO_GATEWAY,
        port: plan.port,
        internal: false,
      }),
    };
    if (plan.kind === "http" || plan.kind === "https") {
      const handler: Handler = (req, res) => {
        const routing = open.routing!;
        const binding: ServerBinding | undefined = routing.selector.select(req.head.authority);
        if (binding === undefined) return open.noRoute(req, res);
        if (binding.httpsRedirect) return redirectToHttps(req, res);
        return routing.handlers.get(binding.gateway)!(req, res);
      };
      open.http = new HttpServer(handler, {
        onError: (error) => this.#options.log(`mesh gateway: listener ${plan.key}: ${error}`),
      });
      open.http.serve(listener);
    } else {
      open.tcp = new TcpProxy(listener, {
        route: () => open.tcpRoute,
        onConnection: this.#options.onTcpConnection,
      });
      open.tcp.serve();
    }
    return open;
  }

  async #shut(open: OpenListener, why: string): Promise<void> {
    this.#options.log(`mesh gateway: listener ${open.plan.key} ${why}; draining its connections`);
    await this.#stop(open, this.#options.drainMs ?? 5000);
  }

  async #stop(open: OpenListener, graceMs: number): Promise<void> {
    if (open.http) await open.http.close(graceMs);
    if (open.tcp) await open.tcp.close(graceMs);
    open.listener.close();
  }
}

/** The `tcp` route for an L4 listener: the first server (in Gateway order) that has one. */
function tcpRouteFor(
  servers: readonly ServerBinding[],
  resources: readonly NormalizedResource[],
  config: CompiledConfig,
  port: number,
  log: (line: string) => void,
): TcpRoute | undefined {
  for (const s of servers) {
    const route = compileTcpRoute(resources, config, {
      gateway: s.gateway,
      port,
      admits: (ns, host) => s.hosts.some((sh) => serverHostAdmits(sh, ns, host)),
      warn: (message) => log(`mesh gateway: ${message}`),
    });
    if (route !== undefined) return route;
  }
  return undefined;
}

/** Opens the socket of a plan, retrying briefly while a just-closed socket frees the port. */
async function bindListener(plan: ListenerPlan): Promise<ByteListener> {
  const tls = plan.tls;
  let files: { cert: string; key: string; ca?: string } | undefined;
  if (tls !== undefined) {
    files = {
      cert: await readPem(tls.serverCertificate, "serverCertificate"),
      key: await readPem(tls.privateKey, "privateKey"),
    };
    if (tls.caCertificates) files.ca = await readPem(tls.caCertificates, "caCertificates");
  }
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      if (files === undefined) return listenTcp({ hostname: plan.bind, port: plan.port });
      if (tls?.mode === "MUTUAL") {
        return await listenNodeTls({
          hostname: plan.bind,
          port: plan.port,
          cert: files.cert,
          key: files.key,
          clientCa: [files.ca!],
        });
      }
      return listenTcp({ hostname: plan.bind, port: plan.port, cert: files.cert, key: files.key });
    } catch (error) {
      const inUse = error instanceof Deno.errors.AddrInUse ||
        (error as { code?: string }).code === "EADDRINUSE";
      if (!inUse || Date.now() >= deadline) {
        if (inUse) throw new Error(`port ${plan.port} on ${plan.bind} is already in use`);
        throw error;
      }
      await delay(50);
    }
  }
}

async function readPem(path: string, field: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`tls.${field} ${path}: ${messageOf(error)}`);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
