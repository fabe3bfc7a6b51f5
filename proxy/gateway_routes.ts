/**
 * Which Gateway server answers a request on a shared HTTP listener (SEMANTICS §5). The virtual
 * hosts of a server are the intersection of its `hosts` and the hosts of the VirtualServices
 * bound to its Gateway: a request is admitted by a server when its Host (port ignored) matches
 * one of the server's hosts and the Gateway's route table has a virtual host for it declared by
 * a VirtualService in a namespace that server host admits (`ns/host`, `./host`, `*\/host`).
 * Anything else is 404 NR. Built once per snapshot; lookups are cached per authority.
 *
 * @module
 */

import type { CompiledConfig, VirtualHost } from "../mesh/pipeline/mod.ts";
import { authorityHost } from "../mesh/pipeline/mod.ts";
import { hostMatches } from "../mesh/config/mod.ts";
import type { ServerBinding } from "./gateway_plan.ts";

/** Largest number of authorities remembered (they come from clients). */
const CACHE_LIMIT = 4096;

/** Picks the server binding for a request's authority. */
export class ServerSelector {
  readonly #servers: readonly ServerBinding[];
  readonly #config: CompiledConfig;
  readonly #cache = new Map<string, ServerBinding | null>();

  /** A selector over `servers` (one listener's) for the compiled `config`. */
  constructor(servers: readonly ServerBinding[], config: CompiledConfig) {
    this.#servers = servers;
    this.#config = config;
  }

  /** The binding that serves `authority`, or undefined (404 NR). */
  select(authority: string): ServerBinding | undefined {
    const cached = this.#cache.get(authority);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.#find(authority);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(authority, found ?? null);
    return found;
  }

  #find(authority: string): ServerBinding | undefined {
    if (authority === "") return undefined;
    const host = authorityHost(authority).toLowerCase();
    for (const binding of this.#servers) {
      let vhost: VirtualHost | undefined | null = null;
      for (const sh of binding.hosts) {
        if (!hostMatches(sh.host, host)) continue;
        if (vhost === null) vhost = this.#config.routeTableFor(binding.gateway)?.lookup(authority);
        if (vhost === undefined) break;
        if (sh.namespace === "*" || namespacesOf(vhost).includes(sh.namespace)) return binding;
      }
    }
    return undefined;
  }
}

/** Namespaces of the VirtualServices a gateway virtual host was built from (`ns/name,…`). */
function namespacesOf(vhost: VirtualHost): string[] {
  return vhost.name.split(",").map((id) => id.slice(0, id.indexOf("/")));
}
