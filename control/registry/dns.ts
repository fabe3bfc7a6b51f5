/**
 * Periodic DNS resolution for `resolution: DNS` ServiceEntries.
 *
 * Names are resolved with `Deno.resolveDns` (A records, AAAA when there are
 * none) when they first appear and every refresh interval after. A failed
 * lookup keeps the last good addresses, so a resolver hiccup does not empty a
 * service.
 *
 * @module
 */

/** Resolves one name; the default uses `Deno.resolveDns`. */
export type Resolver = (name: string) => Promise<string[]>;

/** Options of {@link DnsCache}. */
export interface DnsCacheOptions {
  /** Refresh period in milliseconds (default 30000). */
  refreshMs?: number;
  resolver?: Resolver;
  /** Called after any name's addresses changed. */
  onChange?: () => void;
}

/**
 * Resolves like the C library does, in the order `/etc/nsswitch.conf`
 * usually gives: `localhost` names (RFC 6761) and `/etc/hosts` first, then
 * DNS. `Deno.resolveDns` alone would skip `/etc/hosts` and send every name,
 * even `localhost`, to the configured nameserver.
 */
export async function systemResolver(name: string): Promise<string[]> {
  const local = await hostsFileLookup(name);
  if (local.length > 0) return local;
  const v4 = await Deno.resolveDns(name, "A").catch(() => [] as string[]);
  if (v4.length > 0) return v4.sort();
  return (await Deno.resolveDns(name, "AAAA")).sort();
}

/**
 * Addresses of `name` from `localhost` rules and `/etc/hosts` (re-read on
 * every call: it is small and lookups happen once per refresh interval).
 */
export async function hostsFileLookup(name: string, path = "/etc/hosts"): Promise<string[]> {
  const wanted = name.toLowerCase().replace(/\.$/, "");
  if (wanted === "localhost" || wanted.endsWith(".localhost")) return ["127.0.0.1"];
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  return parseHostsFile(text, wanted);
}

/** The addresses `/etc/hosts`-format `text` gives `name` (lower case), IPv4 first. */
export function parseHostsFile(text: string, name: string): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const raw of text.split("\n")) {
    const fields = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (fields.length < 2) continue;
    if (!fields.slice(1).some((alias) => alias.toLowerCase() === name)) continue;
    (fields[0].includes(":") ? v6 : v4).push(fields[0]);
  }
  return v4.length > 0 ? v4.sort() : v6.sort();
}

/** Addresses of the names currently wanted, refreshed in the background. */
export class DnsCache {
  #names = new Set<string>();
  #addresses = new Map<string, string[]>();
  #timer?: ReturnType<typeof setTimeout>;
  #inflight = new Set<Promise<void>>();
  #closed = false;
  readonly #refreshMs: number;
  readonly #resolver: Resolver;
  readonly #onChange: () => void;

  constructor(options: DnsCacheOptions = {}) {
    this.#refreshMs = options.refreshMs ?? 30_000;
    this.#resolver = options.resolver ?? systemResolver;
    this.#onChange = options.onChange ?? (() => {});
  }

  /** The last addresses `name` resolved to, or `undefined`. */
  lookup(name: string): readonly string[] | undefined {
    return this.#addresses.get(name);
  }

  /** Sets the wanted names; new ones are resolved at once, dropped ones forgotten. */
  setNames(names: readonly string[]): void {
    const wanted = new Set(names);
    for (const name of this.#addresses.keys()) {
      if (!wanted.has(name)) this.#addresses.delete(name);
    }
    const added = names.filter((name) => !this.#names.has(name));
    this.#names = wanted;
    for (const name of added) this.#resolve(name);
    if (this.#names.size > 0 && this.#timer === undefined && !this.#closed) {
      this.#timer = setInterval(() => {
        for (const name of this.#names) this.#resolve(name);
      }, this.#refreshMs);
    }
  }

  /** Resolves once every lookup started so far has finished. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Stops refreshing and waits for lookups in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.settled();
  }

  #resolve(name: string): void {
    const task = this.#resolver(name).then(
      (addresses) => {
        if (this.#closed || !this.#names.has(name)) return;
        const previous = this.#addresses.get(name);
        if (previous && previous.join(",") === addresses.join(",")) return;
        this.#addresses.set(name, addresses);
        this.#onChange();
      },
      () => {/* keep the last good addresses; the next refresh tries again */},
    ).finally(() => this.#inflight.delete(task));
    this.#inflight.add(task);
  }
}
