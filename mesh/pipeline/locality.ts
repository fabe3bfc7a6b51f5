/**
 * Locality-aware host choice (SEMANTICS §3.4, §8.3): endpoints are sorted into priorities relative
 * to the client (or by `failoverPriority` labels), traffic spills to lower priorities as
 * availability falls (overprovisioning factor 1.4), a priority short of healthy hosts enters
 * panic and balances over all its hosts, and `distribute` weights split traffic by locality.
 * The chooser then delegates to the cluster's balancer over the chosen subset.
 *
 * Priorities and groups are fixed per endpoint set; loads, panic flags and host lists are
 * recomputed only when the set's version changes, so `pick` allocates nothing.
 *
 * @module
 */

import type { Endpoint, EndpointSet, Locality } from "./endpoints.ts";
import type { LoadBalancer, PickContext, RandomSource } from "./balance/types.ts";

/** Envoy's overprovisioning factor, in percent. */
export const OVERPROVISIONING = 140;
/** Envoy's panic threshold when no outlier detection sets one. */
export const DEFAULT_PANIC_THRESHOLD = 50;

/** Istio's `LocalityLoadBalancerSetting` (already resolved: a DR setting replaces the mesh one). */
export interface LocalityLbSetting {
  /** `false` turns locality load balancing off; default on (mesh `localityLbSetting.enabled`). */
  enabled?: boolean;
  /** Locality weights by client locality; exclusive with `failover`. */
  distribute?: readonly { from: string; to: Readonly<Record<string, number>> }[];
  /** Region failover targets. */
  failover?: readonly { from: string; to: string }[];
  /** Labels (`key` or `key=value`) ordering endpoints into priorities. */
  failoverPriority?: readonly string[];
}

/** Options for {@linkcode createHostChooser}. */
export interface HostChooserOptions {
  /** Makes one balancer per host group (from `balance/mod.ts balancerFactory`). */
  newBalancer: () => LoadBalancer;
  /** The client proxy's locality; empty or missing disables locality failover. */
  clientLocality?: Locality;
  /** The client proxy's labels, for `failoverPriority`. */
  clientLabels?: Readonly<Record<string, string>>;
  /** Effective locality setting; undefined = enabled with defaults. */
  locality?: LocalityLbSetting;
  /**
   * The cluster's outlier detection, when configured. Failover priorities exist only then (as
   * Istio), and its `minHealthPercent` becomes the panic threshold.
   */
  outlierDetection?: { minHealthPercent?: number };
  /** Overrides the panic threshold in percent (0 disables panic). */
  panicThreshold?: number;
  /** Random source for the priority draw. */
  random?: RandomSource;
}

/** Picks an endpoint for one attempt of a request. */
export interface HostChooser {
  /** Chooses an endpoint, or undefined when none is usable (503 UH). */
  pick(context?: PickContext): Endpoint | undefined;
  /** Current per-priority state, for tests and the admin `/clusters` page. */
  describe(): PriorityState[];
}

/** Observable state of one priority. */
export interface PriorityState {
  /** All hosts of the priority. */
  hosts: readonly Endpoint[];
  /** Percentage of traffic sent to its healthy hosts. */
  healthyLoad: number;
  /** Percentage of traffic sent to its degraded hosts. */
  degradedLoad: number;
  /** Whether it balances over all its hosts regardless of health. */
  panic: boolean;
}

/** Panic threshold: `minHealthPercent` (default 0) with outlier detection, else Envoy's 50 %. */
export function panicThresholdFor(outlierDetection?: { minHealthPercent?: number }): number {
  return outlierDetection ? outlierDetection.minHealthPercent ?? 0 : DEFAULT_PANIC_THRESHOLD;
}

/** Whether `locality` matches an Istio locality pattern (`region/zone/subzone`, `*`, prefixes). */
export function localityMatches(locality: Locality, pattern: string): boolean {
  const [region = "", zone = "", subzone = ""] = pattern.split("/");
  return (region === "*" || region === locality.region) &&
    (zone === "*" || zone === "" || zone === locality.zone) &&
    (subzone === "*" || subzone === "" || subzone === locality.subzone);
}

/** Default failover priority of an endpoint locality relative to the client (0 best … 3). */
export function localityPriority(client: Locality, endpoint: Locality): number {
  if (client.region !== endpoint.region) return 3;
  if (client.zone !== endpoint.zone) return 2;
  return client.subzone === endpoint.subzone ? 0 : 1;
}

// failoverPriority may name the topology labels; endpoints carry those as their locality.
function labelOf(
  labels: Readonly<Record<string, string>>,
  locality: Locality,
  key: string,
): string | undefined {
  switch (key) {
    case "topology.kubernetes.io/region":
      return locality.region;
    case "topology.kubernetes.io/zone":
      return locality.zone;
    case "topology.istio.io/subzone":
      return locality.subzone;
    default:
      return labels[key];
  }
}

/** Raw (uncompacted) priorities for every endpoint of `set`, or undefined for "all one". */
function assignPriorities(
  endpoints: readonly Endpoint[],
  options: HostChooserOptions,
): number[] | undefined {
  const setting = options.locality;
  if (setting?.enabled === false || options.outlierDetection === undefined) return undefined;
  if (setting?.distribute !== undefined && setting.distribute.length > 0) return undefined;
  const client = options.clientLocality ?? { region: "", zone: "", subzone: "" };
  const labels = options.clientLabels ?? {};
  const byLabel = setting?.failoverPriority ?? [];
  if (byLabel.length > 0) {
    if (Object.keys(labels).length === 0) return undefined;
    return endpoints.map((e) => {
      for (let j = 0; j < byLabel.length; j++) {
        const eq = byLabel[j].indexOf("=");
        const key = eq < 0 ? byLabel[j] : byLabel[j].slice(0, eq);
        const want = eq < 0 ? labelOf(labels, client, key) : byLabel[j].slice(eq + 1);
        if (labelOf(e.labels, e.locality, key) !== want) return byLabel.length - j;
      }
      return 0;
    });
  }
  if (client.region === "") return undefined;
  const rule = setting?.failover?.find((f) => f.from === client.region);
  return endpoints.map((e) => {
    const p = localityPriority(client, e.locality);
    return p === 3 && rule !== undefined && e.locality.region !== rule.to ? 4 : p;
  });
}

/** Locality weight of every endpoint under `distribute`; 0 = receives nothing. */
function distributeWeights(
  endpoints: readonly Endpoint[],
  options: HostChooserOptions,
): Map<string, number> | undefined {
  const setting = options.locality;
  if (setting?.enabled === false || !setting?.distribute?.length) return undefined;
  const client = options.clientLocality ?? { region: "", zone: "", subzone: "" };
  const rule = setting.distribute.find((d) => localityMatches(client, d.from));
  if (rule === undefined) return undefined;
  // A locality's own weight is the sum of its endpoints' weights (Istio's locality group weight).
  const own = new Map<string, { locality: Locality; weight: number }>();
  for (const e of endpoints) {
    const entry = own.get(e.localityKey);
    if (entry) entry.weight += e.weight;
    else own.set(e.localityKey, { locality: e.locality, weight: e.weight });
  }
  const result = new Map<string, number>();
  for (const key of own.keys()) result.set(key, 0);
  const matched = new Set<string>();
  for (const [pattern, weight] of Object.entries(rule.to)) {
    let total = 0;
    const hits: string[] = [];
    for (const [key, entry] of own) {
      if (matched.has(key) || !localityMatches(entry.locality, pattern)) continue;
      matched.add(key);
      hits.push(key);
      total += entry.weight;
    }
    // A wildcard matching several localities splits its weight by their own weights.
    for (const key of hits) result.set(key, Math.ceil(own.get(key)!.weight * weight / total));
  }
  return result;
}

const HEALTHY = 0;
const DEGRADED = 1;
const ALL = 2;

interface Group {
  readonly hosts: Endpoint[];
  readonly weight: number;
  readonly lists: [Endpoint[], Endpoint[], Endpoint[]];
  readonly balancer: LoadBalancer;
}

interface Level {
  readonly hosts: Endpoint[];
  readonly groups: Group[];
  /** Per source (healthy, degraded, all): effective locality weights and smooth-WRR state. */
  readonly effective: [Float64Array, Float64Array, Float64Array];
  readonly current: [Float64Array, Float64Array, Float64Array];
  readonly lists: [Endpoint[], Endpoint[], Endpoint[]];
  healthyLoad: number;
  degradedLoad: number;
  panic: boolean;
  balancer: LoadBalancer | undefined;
}

/**
 * Builds the chooser for one cluster's endpoint set. With no locality setting in effect this is
 * a single priority and a single balancer over the available hosts (plus panic).
 */
export function createHostChooser(set: EndpointSet, options: HostChooserOptions): HostChooser {
  const random = options.random ?? Math.random;
  const threshold = options.panicThreshold ?? panicThresholdFor(options.outlierDetection);
  const weights = distributeWeights(set.endpoints, options);
  const raw = assignPriorities(set.endpoints, options);
  const distinct = [...new Set(raw ?? [0])].sort((a, b) => a - b);
  const levels: Level[] = distinct.map(() => ({
    hosts: [],
    groups: [],
    effective: [new Float64Array(0), new Float64Array(0), new Float64Array(0)],
    current: [new Float64Array(0), new Float64Array(0), new Float64Array(0)],
    lists: [[], [], []],
    healthyLoad: 0,
    degradedLoad: 0,
    panic: false,
    balancer: undefined,
  }));
  set.endpoints.forEach((e, i) => {
    if (weights !== undefined && !weights.get(e.localityKey)) return;
    levels[distinct.indexOf(raw ? raw[i] : 0)].hosts.push(e);
  });
  for (const level of levels) {
    if (weights === undefined) {
      level.balancer = options.newBalancer();
      continue;
    }
    const byLocality = new Map<string, Group>();
    for (const e of level.hosts) {
      let group = byLocality.get(e.localityKey);
      if (group === undefined) {
        group = {
          hosts: [],
          weight: weights.get(e.localityKey)!,
          lists: [[], [], []],
          balancer: options.newBalancer(),
        };
        byLocality.set(e.localityKey, group);
        level.groups.push(group);
      }
      group.hosts.push(e);
    }
    const n = level.groups.length;
    for (let s = HEALTHY; s <= ALL; s++) {
      level.effective[s] = new Float64Array(n);
      level.current[s] = new Float64Array(n);
    }
  }
  const cumulative = new Float64Array(levels.length * 2);
  let version = -1;

  function refresh(): void {
    version = set.version;
    let normalized = 0;
    const health: number[] = [];
    const degradedHealth: number[] = [];
    for (const level of levels) {
      const healthy = level.hosts.filter((e) => e.available);
      const degraded = level.hosts.filter((e) => e.degraded);
      level.lists[HEALTHY] = healthy;
      level.lists[DEGRADED] = degraded;
      level.lists[ALL] = level.hosts;
      const total = level.hosts.length;
      const h = total ? Math.min(100, Math.floor(OVERPROVISIONING * healthy.length / total)) : 0;
      const d = total ? Math.min(100, Math.floor(OVERPROVISIONING * degraded.length / total)) : 0;
      health.push(h);
      degradedHealth.push(d);
      normalized += h + d;
      for (let g = 0; g < level.groups.length; g++) {
        const group = level.groups[g];
        group.lists[HEALTHY] = group.hosts.filter((e) => e.available);
        group.lists[DEGRADED] = group.hosts.filter((e) => e.degraded);
        group.lists[ALL] = group.hosts;
        const size = group.hosts.length;
        for (let s = HEALTHY; s <= ALL; s++) {
          const usable = s === ALL ? size : group.lists[s].length;
          level.effective[s][g] = group.weight *
            Math.min(100, (OVERPROVISIONING * usable) / size);
          level.current[s][g] = 0;
        }
      }
    }
    normalized = Math.min(100, normalized);
    const totalHosts = levels.reduce((n, l) => n + l.hosts.length, 0);
    if (normalized === 0) {
      // Total panic: with panic enabled, spread by host count and use every host.
      for (const level of levels) {
        level.healthyLoad = threshold > 0 && totalHosts > 0
          ? (100 * level.hosts.length) / totalHosts
          : 0;
        level.degradedLoad = 0;
        level.panic = threshold > 0;
      }
    } else {
      let remaining = 100;
      levels.forEach((level, i) => {
        level.healthyLoad = Math.min(remaining, Math.floor((health[i] * 100) / normalized));
        remaining -= level.healthyLoad;
      });
      levels.forEach((level, i) => {
        level.degradedLoad = Math.min(
          remaining,
          Math.floor((degradedHealth[i] * 100) / normalized),
        );
        remaining -= level.degradedLoad;
      });
      // Rounding leftovers go to the first priority that has usable hosts.
      if (remaining > 0) {
        const i = levels.findIndex((_, k) => health[k] > 0);
        if (i >= 0) levels[i].healthyLoad += remaining;
        else levels[degradedHealth.findIndex((d) => d > 0)].degradedLoad += remaining;
      }
      for (const level of levels) {
        const total = level.hosts.length;
        const usable = level.lists[HEALTHY].length + level.lists[DEGRADED].length;
        level.panic = normalized < 100 && total > 0 && (100 * usable) / total < threshold;
      }
    }
    let sum = 0;
    levels.forEach((level, i) => {
      sum += level.healthyLoad;
      cumulative[i] = sum;
    });
    levels.forEach((level, i) => {
      sum += level.degradedLoad;
      cumulative[levels.length + i] = sum;
    });
  }

  function chooseGroup(level: Level, source: number): Group | undefined {
    const effective = level.effective[source];
    const current = level.current[source];
    let best = -1;
    let total = 0;
    for (let g = 0; g < effective.length; g++) {
      if (effective[g] <= 0) continue;
      total += effective[g];
      current[g] += effective[g];
      if (best < 0 || current[g] > current[best]) best = g;
    }
    if (best < 0) return undefined;
    current[best] -= total;
    return level.groups[best];
  }

  return {
    pick(context?: PickContext): Endpoint | undefined {
      if (version !== set.version) refresh();
      const n = levels.length;
      const end = cumulative[2 * n - 1];
      if (!(end > 0)) return undefined;
      // Hash-based balancers choose the priority by hash too, so affinity survives the draw.
      const hash = context?.hash;
      const r = hash === undefined ? random() * end : (hash % 1e6) / 1e6 * end;
      let slot = 0;
      while (slot < 2 * n - 1 && r >= cumulative[slot]) slot++;
      const level = levels[slot % n];
      const source = level.panic ? ALL : slot < n ? HEALTHY : DEGRADED;
      if (level.balancer !== undefined) return level.balancer.pick(level.lists[source], context);
      const group = chooseGroup(level, source);
      return group?.balancer.pick(group.lists[source], context);
    },
    describe(): PriorityState[] {
      if (version !== set.version) refresh();
      return levels.map((l) => ({
        hosts: l.hosts,
        healthyLoad: l.healthyLoad,
        degradedLoad: l.degradedLoad,
        panic: l.panic,
      }));
    },
  };
}
