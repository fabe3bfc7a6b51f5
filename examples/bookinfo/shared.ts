/**
 * What every bookinfo app shares: its settings (flags or environment
 * variables), the headers it propagates, and calls to other services through
 * the sidecar.
 *
 * Apps name other services by plain URLs (`http://reviews:9080/reviews/0`).
 * With `MESH_OUTBOUND` set (e.g. `http://127.0.0.1:15001`) the request goes
 * to that address with the service in the `Host` header; otherwise `fetch`
 * sends it, and Deno's `fetch` honours `HTTP_PROXY` / `NO_PROXY` (the sidecar
 * as an explicit proxy, absolute-form request URIs).
 *
 * @module
 */

import http from "node:http";
import { parseArgs } from "node:util";

/** How one app instance runs. */
export interface AppSettings {
  /** Service name, shown in responses (`SERVICE_NAME`, `--service-name`). */
  service: string;
  /** Version label, e.g. `v2` (`VERSION`, `--version`; default `v1`). */
  version: string;
  /** Listen port on 127.0.0.1 (`PORT`, `--port`; default 9080, 0 picks a free port). */
  port: number;
}

/**
 * Reads the app's settings from its flags (`--port`, `--version`,
 * `--service-name`), then environment variables (`PORT`, `VERSION`,
 * `SERVICE_NAME`), then defaults. Exits with a one-line message on a bad value.
 */
export function readSettings(defaultService: string): AppSettings {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        port: { type: "string" },
        version: { type: "string" },
        "service-name": { type: "string" },
      },
    }).values;
  } catch (error) {
    fail(
      defaultService,
      `${error instanceof Error ? error.message : error}; flags: --port, --version, --service-name`,
    );
  }
  const service = values["service-name"] ?? Deno.env.get("SERVICE_NAME") ?? defaultService;
  const version = values.version ?? Deno.env.get("VERSION") ?? "v1";
  const portText = values.port ?? Deno.env.get("PORT") ?? "9080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    fail(service, `PORT ${portText}: give a port number 0-65535 (0 picks a free port)`);
  }
  return { service, version, port };
}

function fail(service: string, message: string): never {
  console.error(`${service}: ${message}`);
  Deno.exit(1);
}

/**
 * Serves `handler` on 127.0.0.1 and prints
 * `SERVICE VERSION listening on http://127.0.0.1:PORT/` once it accepts
 * connections (tests read the port from that line).
 */
export function serve(
  settings: AppSettings,
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: settings.port,
    onListen: ({ port }) => {
      console.log(`${settings.service} ${settings.version} listening on http://127.0.0.1:${port}/`);
    },
  }, handler);
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

/**
 * The headers bookinfo forwards from an incoming request to its outgoing
 * calls: the user (`end-user`, `cookie`, `authorization`), the client and the
 * trace context. Forwarding `end-user` is what lets header-based routing
 * (`end-user: jason`) work on every hop.
 */
export const PROPAGATED_HEADERS: readonly string[] = [
  "end-user",
  "cookie",
  "authorization",
  "user-agent",
  "x-request-id",
  "traceparent",
  "tracestate",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "x-ot-span-context",
];

/** The subset of `incoming` named in {@link PROPAGATED_HEADERS}. */
export function propagatedHeaders(incoming: Headers): Headers {
  const headers = new Headers();
  for (const name of PROPAGATED_HEADERS) {
    const value = incoming.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

/** The status and body of a call to another service. */
export interface ServiceResponse {
  /** HTTP status code. */
  status: number;
  /** Response body as text. */
  body: string;
}

/** Options of {@link callService}. */
export interface CallOptions {
  /** Request headers (usually {@link propagatedHeaders}). */
  headers: Headers;
  /** Give up after this many milliseconds, body included. */
  timeoutMs: number;
}

const OUTBOUND = Deno.env.get("MESH_OUTBOUND");

/**
 * GETs `url` (e.g. `http://details:9080/details/0`) through the sidecar.
 * Rejects on a connection error or after `timeoutMs`; any HTTP status resolves.
 */
export function callService(url: string, options: CallOptions): Promise<ServiceResponse> {
  if (OUTBOUND) return viaOutbound(new URL(OUTBOUND), new URL(url), options);
  return viaFetch(url, options);
}

async function viaFetch(url: string, options: CallOptions): Promise<ServiceResponse> {
  const response = await fetch(url, {
    headers: options.headers,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  return { status: response.status, body: await response.text() };
}

// `fetch` always derives `Host` from the URL, so the Host-header form uses node:http, which
// sends the header it is given.
function viaOutbound(outbound: URL, target: URL, options: CallOptions): Promise<ServiceResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    function settle(error?: Error, result?: ServiceResponse) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(result!);
    }
    const headers: Record<string, string> = Object.fromEntries(options.headers);
    headers.host = target.host;
    const request = http.request({
      host: outbound.hostname,
      port: Number(outbound.port || 80),
      path: target.pathname + target.search,
      headers,
    }, (response) => {
      const chunks: Uint8Array[] = [];
      response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      response.on("error", settle);
      response.on("end", () => {
        const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let offset = 0;
        for (const chunk of chunks) {
          bytes.set(chunk, offset);
          offset += chunk.length;
        }
        settle(undefined, {
          status: response.statusCode ?? 0,
          body: new TextDecoder().decode(bytes),
        });
      });
    });
    const timer = setTimeout(() => {
      settle(new Error(`${target.host}: no response within ${options.timeoutMs} ms`));
      request.destroy();
    }, options.timeoutMs);
    request.on("error", settle);
    request.end();
  });
}
