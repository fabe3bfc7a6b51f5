/**
 * The admin server of a sidecar or gateway (127.0.0.1, default port 15000), off the data path:
 *
 * | path | answer |
 * | --- | --- |
 * | `/ready` | 200 `LIVE` once the first snapshot is applied and listeners accept; 503 with the reason before, and while draining |
 * | `/config_dump` | JSON: identity, configuration source, listeners, the compiled configuration |
 * | `/clusters` | every cluster's endpoints with health and outlier-ejection state, as Envoy's `/clusters` (`?format=json` for JSON) |
 * | `/stats/prometheus` | Istio's request metrics |
 * | `/healthz` | 200 while the process runs (liveness) |
 *
 * @module
 */

import { CliError } from "../mesh/cli/mod.ts";
import type { SourceStatus } from "../mesh/discovery/mod.ts";
import type { ProxyIdentity } from "../mesh/model/mod.ts";
import type { Cluster, Pipeline } from "../mesh/pipeline/mod.ts";
import type { Readiness } from "./lifecycle.ts";
import type { ProxyMetrics } from "./metrics.ts";

/** What the admin server reports on; read on every admin request. */
export interface AdminSource {
  identity: ProxyIdentity;
  readiness: Readiness;
  metrics: ProxyMetrics;
  /** The pipeline, once the first snapshot was applied. */
  pipeline(): Pipeline | undefined;
  /** The configuration source's state. */
  source(): SourceStatus | undefined;
  /** The proxy's listeners (`{name, address}`), for `/config_dump`. */
  listeners(): Record<string, unknown>[];
}

/** Options of {@linkcode startAdmin}. */
export interface AdminOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** 0 picks a free port. */
  port: number;
  /** Flag named in the port-in-use message (default `--admin-port`). */
  flag?: string;
}

/** A running admin server. */
export interface AdminServer {
  hostname: string;
  /** The bound port. */
  port: number;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts the admin server. Throws a {@linkcode CliError} when the port is taken.
 */
export function startAdmin(source: AdminSource, options: AdminOptions): Promise<AdminServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const listening = Promise.withResolvers<number>();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname,
      port: options.port,
      onListen: (addr) => listening.resolve(addr.port),
    }, (req) => handleAdmin(source, req));
  } catch (error) {
    const flag = options.flag ?? "--admin-port";
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `${flag} ${options.port}: port ${options.port} on ${hostname} is already in use; stop ` +
          `the other process or pick another ${flag}`,
      );
    }
    throw new CliError(
      `${flag} ${options.port}: cannot listen on ${hostname}:${options.port}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  return listening.promise.then((port) => ({
    hostname,
    port,
    close: () => server.shutdown(),
  }));
}

/** Answers one admin request. */
export function handleAdmin(source: AdminSource, req: Request): Response {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/ready":
    case "/healthz/ready": {
      const readiness = source.readiness;
      return readiness.ready
        ? text(200, "LIVE\n")
        : text(503, `${readiness.draining ? "DRAINING" : "NOT READY"}: ${readiness.reason()}\n`);
    }
    case "/healthz":
      return text(200, "OK\n");
    case "/config_dump":
      return json(configDump(source));
    case "/clusters": {
      const clusters = source.pipeline()?.config.clusters() ?? [];
      if (url.searchParams.get("format") === "json") {
        return json({ clusters: clusters.map(clusterJson) });
      }
      return text(200, clusters.map(clusterText).join(""));
    }
    case "/stats/prometheus":
      return new Response(source.metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    case "/":
      return text(
        200,
        "mesh admin\n  /ready\n  /healthz\n  /config_dump\n  /clusters\n  /stats/prometheus\n",
      );
    default:
      return text(404, `no admin endpoint ${url.pathname}; see /\n`);
  }
}

function configDump(source: AdminSource): Record<string, unknown> {
  const pipeline = source.pipeline();
  return {
    identity: source.identity,
    ready: source.readiness.ready,
    draining: source.readiness.draining,
    source: source.source() ?? null,
    listeners: source.listeners(),
    snapshot: pipeline ? { version: pipeline.config.version } : null,
    config: pipeline ? pipeline.config.describe() : null,
    health: pipeline ? pipeline.healthStatus() : [],
  };
}

/** Envoy's health flags of an endpoint: `healthy` or `/failed_active_hc/failed_outlier_check`. */
function healthFlags(e: Cluster["endpoints"]["endpoints"][number]): string {
  let flags = "";
  if (e.health === "unhealthy") flags += "/failed_active_hc";
  if (e.health === "degraded") flags += "/degraded_active_hc";
  if (e.outlier.ejected) flags += "/failed_outlier_check";
  return flags === "" ? "healthy" : flags;
}

function clusterText(c: Cluster): string {
  let out = "";
  const cb = c.admission.describe() as Record<string, unknown>;
  for (const [k, v] of Object.entries(cb)) {
    if (typeof v === "number" || typeof v === "string") {
      out += `${c.name}::circuit_breakers::${k}::${v}\n`;
    }
  }
  for (const e of c.endpoints.endpoints) {
    const p = `${c.name}::${e.key}::`;
    out += `${p}health_flags::${healthFlags(e)}\n`;
    out += `${p}weight::${e.weight}\n`;
    out += `${p}region::${e.locality.region}\n`;
    out += `${p}zone::${e.locality.zone}\n`;
    out += `${p}sub_zone::${e.locality.subzone}\n`;
    out += `${p}rq_active::${e.active}\n`;
    out += `${p}ejections::${e.outlier.multiplier}\n`;
  }
  return out;
}

function clusterJson(c: Cluster): Record<string, unknown> {
  return {
    name: c.name,
    host: c.host,
    subset: c.subset,
    port: c.port,
    ...(c.notFound ? { notFound: c.notFoundReason ?? true } : {}),
    circuitBreakers: c.admission.describe(),
    endpoints: c.endpoints.endpoints.map((e) => ({
      address: e.key,
      labels: e.labels,
      locality: e.localityKey,
      weight: e.weight,
      health: e.health,
      healthFlags: healthFlags(e),
      ejected: e.outlier.ejected,
      ejectedUntil: e.outlier.ejected ? e.outlier.ejectedUntil : undefined,
      timesEjected: e.outlier.multiplier,
      active: e.active,
    })),
  };
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    headers: { "content-type": "application/json" },
  });
}
