/**
 * What listeners a gateway proxy opens for a snapshot: a pure function of the Gateway resources
 * the snapshot carries (the snapshot builder already kept only those whose `selector` matches
 * the proxy's labels). One listener per (bind address, port); the servers of every Gateway on
 * that port share it. Servers carry their parsed `hosts` (SEMANTICS §1: `host` and `*\/host` admit
 * VirtualServices from any namespace, `ns/host` only those declared in `ns`, `./host` only those
 * in the Gateway's own namespace).
 *
 * A listener's `signature` covers what cannot change on an open socket (kind and TLS settings):
 * when it changes the listener is reopened; otherwise only its routing is swapped.
 *
 * @module
 */

import { hostMatches, type NormalizedResource, type Server } from "../mesh/config/mod.ts";

/** Default bind address of gateway listeners (DESIGN "Behaviour defaults"). */
export const DEFAULT_GATEWAY_BIND = "0.0.0.0";

/** How a listener treats its connections. */
export type ListenerKind = "http" | "https" | "tcp" | "tls";

/** One parsed entry of `servers[].hosts`. */
export interface ServerHost {
  /** `*` (any namespace) or the namespace whose VirtualServices it admits. */
  readonly namespace: string;
  /** Host pattern (`*`, `*.suffix` or a name), lower-case. */
  readonly host: string;
}

/** TLS termination of a listener. */
export interface TlsPlan {
  /** `SIMPLE` or `MUTUAL` (client certificate required and verified). */
  readonly mode: "SIMPLE" | "MUTUAL";
  /** Path of the PEM certificate chain. */
  readonly serverCertificate: string;
  /** Path of the PEM private key. */
  readonly privateKey: string;
  /** Path of the PEM CA bundle client certificates must chain to (MUTUAL). */
  readonly caCertificates?: string;
}

/** One Gateway server bound to a listener. */
export interface ServerBinding {
  /** The Gateway, `ns/name`. */
  readonly gateway: string;
  /** The server as configured. */
  readonly server: Server;
  /** Parsed `hosts`. */
  readonly hosts: readonly ServerHost[];
  /** Plain-HTTP server with `tls.httpsRedirect`: answer 301 to `https://`. */
  readonly httpsRedirect: boolean;
}

/** One listener to open. */
export interface ListenerPlan {
  /** `bind:port`. */
  readonly key: string;
  /** Address to bind. */
  readonly bind: string;
  /** Port to bind. */
  readonly port: number;
  /** HTTP, HTTPS (terminated), TCP, or TLS terminated then proxied as TCP. */
  readonly kind: ListenerKind;
  /** TLS termination for `https` and `tls` listeners. */
  readonly tls?: TlsPlan;
  /** Servers on this port, in Gateway name order. */
  readonly servers: readonly ServerBinding[];
  /** Kind and TLS settings: a change reopens the socket. */
  readonly signature: string;
}

/** The listeners of one snapshot. */
export interface GatewayPlan {
  /** By key, in port order. */
  readonly listeners: readonly ListenerPlan[];
  /** Gateway `ns/name`s served. */
  readonly gateways: readonly string[];
  /** Servers that cannot be served, and why. */
  readonly warnings: readonly string[];
}

/** Options of {@linkcode planListeners}. */
export interface PlanOptions {
  /** Bind address for servers without `bind`; default `0.0.0.0`. */
  defaultBind?: string;
}

const HTTP_KINDS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"]);

/** Parses one `servers[].hosts` entry of a Gateway in `namespace`. */
export function parseServerHost(entry: string, namespace: string): ServerHost {
  const slash = entry.indexOf("/");
  if (slash < 0) return { namespace: "*", host: entry.toLowerCase() };
  let ns = entry.slice(0, slash);
  if (ns === ".") ns = namespace;
  return { namespace: ns, host: entry.slice(slash + 1).toLowerCase() };
}

/**
 * Whether a server host admits a VirtualService host declared in `namespace`: the namespace
 * fits and the two host patterns overlap (either matches the other).
 */
export function serverHostAdmits(sh: ServerHost, namespace: string, host: string): boolean {
  if (sh.namespace !== "*" && sh.namespace !== namespace) return false;
  return hostMatches(sh.host, host) || hostMatches(host, sh.host);
}

/** The listeners for the Gateway resources among `resources`. */
export function planListeners(
  resources: readonly NormalizedResource[],
  options: PlanOptions = {},
): GatewayPlan {
  const defaultBind = options.defaultBind ?? DEFAULT_GATEWAY_BIND;
  const gateways = resources.filter((r): r is NormalizedResource & { kind: "Gateway" } =>
    r.kind === "Gateway"
  ).sort((a, b) => {
    const x = `${a.metadata.namespace}/${a.metadata.name}`;
    const y = `${b.metadata.namespace}/${b.metadata.name}`;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const warnings: string[] = [];
  const byKey = new Map<string, ListenerPlan & { servers: ServerBinding[] }>();
  for (const gw of gateways) {
    const id = `${gw.metadata.namespace}/${gw.metadata.name}`;
    gw.spec.servers.forEach((server, i) => {
      const where = `Gateway ${id}: spec.servers[${i}] (port ${server.port.number})`;
      const shape = listenerShape(server);
      if (typeof shape === "string") {
        warnings.push(`${where}: ${shape}; server not served`);
        return;
      }
      const bind = server.bind ?? defaultBind;
      const port = server.port.number;
      const key = `${bind}:${port}`;
      const binding: ServerBinding = {
        gateway: id,
        server,
        hosts: server.hosts.map((h) => parseServerHost(h, gw.metadata.namespace)),
        httpsRedirect: shape.kind === "http" && server.tls?.httpsRedirect === true,
      };
      const signature = JSON.stringify([shape.kind, shape.tls ?? null]);
      const existing = byKey.get(key);
      if (existing === undefined) {
        byKey.set(key, { key, bind, port, ...shape, servers: [binding], signature });
        return;
      }
      if (existing.signature !== signature) {
        warnings.push(
          `${where}: port ${port} is already served as ${existing.kind}` +
            `${existing.tls ? ` with other TLS settings` : ""} by ` +
            `${existing.servers[0].gateway}; one port has one protocol and one certificate ` +
            `here (no SNI selection), so this server is not served`,
        );
        return;
      }
      existing.servers.push(binding);
    });
  }
  const listeners = [...byKey.values()].sort((a, b) =>
    a.port - b.port || (a.bind < b.bind ? -1 : a.bind > b.bind ? 1 : 0)
  );
  return {
    listeners,
    gateways: gateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`),
    warnings,
  };
}

/** The listener kind and TLS plan of a server, or why it cannot be served. */
function listenerShape(server: Server): { kind: ListenerKind; tls?: TlsPlan } | string {
  const protocol = server.port.protocol.toUpperCase();
  const tls = server.tls;
  if (HTTP_KINDS.has(protocol)) return { kind: "http" };
  if (protocol === "HTTPS" || protocol === "TLS") {
    if (tls === undefined) return `${protocol} servers need a tls block`;
    if (tls.mode !== "SIMPLE" && tls.mode !== "MUTUAL") {
      return `tls.mode ${tls.mode} is not supported (use SIMPLE or MUTUAL)`;
    }
    if (tls.credentialName || tls.credentialNames?.length) {
      return "tls.credentialName is not supported; give serverCertificate and privateKey files";
    }
    if (!tls.serverCertificate || !tls.privateKey) {
      return `tls.mode ${tls.mode} needs serverCertificate and privateKey`;
    }
    if (tls.mode === "MUTUAL" && !tls.caCertificates) {
      return "tls.mode MUTUAL needs caCertificates to verify client certificates";
    }
    const plan: TlsPlan = {
      mode: tls.mode,
      serverCertificate: tls.serverCertificate,
      privateKey: tls.privateKey,
      ...(tls.mode === "MUTUAL" ? { caCertificates: tls.caCertificates } : {}),
    };
    return { kind: protocol === "HTTPS" ? "https" : "tls", tls: plan };
  }
  if (protocol === "TCP" || protocol === "MONGO" || protocol === "MYSQL" || protocol === "REDIS") {
    return { kind: "tcp" };
  }
  return `protocol ${server.port.protocol} is not supported on gateways`;
}
