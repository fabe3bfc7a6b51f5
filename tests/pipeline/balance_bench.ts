// Micro-benchmarks of one pick over 100 endpoints: `deno bench tests/pipeline/balance_bench.ts`.
import { EndpointSet } from "../../mesh/pipeline/endpoints.ts";
import { createHostChooser } from "../../mesh/pipeline/locality.ts";
import {
  balancerFactory,
  hashString,
  type LoadBalancerSettings,
  seededRandom,
} from "../../mesh/pipeline/balance/mod.ts";

function endpointSet(weighted: boolean): EndpointSet {
  return new EndpointSet(Array.from({ length: 100 }, (_, i) => ({
    address: `10.0.${i >> 8}.${i & 255}`,
    port: 15006,
    weight: weighted ? 1 + (i % 3) : 1,
    locality: { region: i < 50 ? "us-west" : "us-east", zone: "z1", subzone: "s1" },
  })));
}

const KEYS = Array.from({ length: 1024 }, (_, i) => hashString(`user-${i}`));
const cases: [string, LoadBalancerSettings, boolean][] = [
  ["ROUND_ROBIN", { simple: "ROUND_ROBIN" }, false],
  ["ROUND_ROBIN weighted", { simple: "ROUND_ROBIN" }, true],
  ["RANDOM", { simple: "RANDOM" }, false],
  ["LEAST_REQUEST", { simple: "LEAST_REQUEST" }, false],
  ["LEAST_REQUEST weighted", { simple: "LEAST_REQUEST" }, true],
  ["RING_HASH", { consistentHash: { httpHeaderName: "x-user" } }, false],
  ["MAGLEV", { consistentHash: { httpHeaderName: "x-user", maglev: {} } }, false],
];

for (const [name, settings, weighted] of cases) {
  const set = endpointSet(weighted);
  const hosts = set.available();
  const balancer = balancerFactory(settings, { random: seededRandom(1) })();
  const context = { hash: 0 as number | undefined };
  balancer.pick(hosts, context); // builds tables outside the timed loop
  let i = 0;
  Deno.bench(`balancer ${name}`, { group: "balancer" }, () => {
    context.hash = KEYS[i++ & 1023];
    balancer.pick(hosts, context);
  });
  const chooser = createHostChooser(set, {
    newBalancer: balancerFactory(settings, { random: seededRandom(1) }),
    clientLocality: { region: "us-west", zone: "z1", subzone: "s1" },
    outlierDetection: {},
    random: seededRandom(2),
  });
  chooser.pick(context);
  Deno.bench(`chooser ${name} (2 priorities)`, { group: "chooser" }, () => {
    context.hash = KEYS[i++ & 1023];
    chooser.pick(context);
  });
}

{
  const set = endpointSet(false);
  const balancer = balancerFactory(undefined, { random: seededRandom(1) })();
  const tried = new Set([set.endpoints[0], set.endpoints[1]]);
  const context = { avoid: tried };
  Deno.bench("balancer ROUND_ROBIN retry avoiding 2 hosts", { group: "balancer" }, () => {
    balancer.pick(set.available(), context);
  });
}
