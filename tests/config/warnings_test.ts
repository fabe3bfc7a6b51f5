import assert from "node:assert/strict";
import {
  destinationRuleWarnings,
  isHttpCatchAll,
  peerAuthenticationWarnings,
  sidecarWarnings,
  virtualServiceWarnings,
} from "../../mesh/config/warnings.ts";

const to = { route: [{ destination: { host: "a" } }] };

Deno.test("a fault without a percentage warns (100% here, 0% in Istio)", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    http: [{
      ...to,
      fault: { delay: { fixedDelay: "5s" }, abort: { httpStatus: 500, percentage: { value: 1 } } },
    }],
  });
  assert.equal(w.length, 1);
  assert.deepEqual(w[0].path, ["spec", "http", 0, "fault", "delay"]);
  assert.match(w[0].message, /100% of requests.*current Istio to 0%/);
});

Deno.test("the integer percent warns as deprecated", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    http: [{ ...to, fault: { abort: { httpStatus: 500, percent: 10 } } }],
  });
  assert.deepEqual(w.map((x) => x.path), [["spec", "http", 0, "fault", "abort", "percent"]]);
  assert.match(w[0].message, /deprecated.*percentage: \{value: 10\}/);
});

Deno.test("a rule after a catch-all rule is unreachable", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    http: [
      { match: [{ headers: { u: { exact: "j" } } }], ...to },
      { match: [{ uri: { prefix: "/" } }], ...to },
      { match: [{ uri: { prefix: "/api" } }], ...to },
      to,
    ],
  });
  assert.deepEqual(w.map((x) => x.path), [["spec", "http", 2], ["spec", "http", 3]]);
  assert.match(w[0].message, /unreachable: http\[1\]/);
});

Deno.test("catch-all detection", () => {
  assert.equal(isHttpCatchAll({}), true);
  assert.equal(isHttpCatchAll({ match: [] }), true);
  assert.equal(isHttpCatchAll({ match: [{ name: "all" }] }), true);
  assert.equal(isHttpCatchAll({ match: [{ uri: { prefix: "/" } }] }), true);
  assert.equal(
    isHttpCatchAll({ match: [{ uri: { prefix: "/a" } }, { method: { exact: "GET" } }] }),
    false,
  );
  assert.equal(isHttpCatchAll({ match: [{ uri: { prefix: "/" }, port: 80 }] }), false);
  assert.equal(isHttpCatchAll({ match: [{ uri: { exact: "/" } }] }), false);
});

Deno.test("tcp rules after a match-less tcp rule are unreachable", () => {
  const w = virtualServiceWarnings({ hosts: ["a"], tcp: [to, { match: [{ port: 1 }], ...to }] });
  assert.deepEqual(w.map((x) => x.path), [["spec", "tcp", 1]]);
});

Deno.test("mirrorPercent, allowOrigin and legacy gateway names warn", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    gateways: ["gw.edge", "edge/gw", "mesh"],
    http: [{
      ...to,
      mirror: { host: "m" },
      mirrorPercent: 5,
      corsPolicy: { allowOrigin: ["x"] },
      match: [{ gateways: ["g.ns.svc.cluster.local"] }],
    }],
  });
  const messages = w.map((x) => x.message).join("\n");
  assert.match(messages, /"gw\.edge" uses the legacy name\.namespace form; write "edge\/gw"/);
  assert.match(messages, /write "ns\/g"/);
  assert.match(messages, /mirrorPercent is deprecated; use mirrorPercentage: \{value: 5\}/);
  assert.match(messages, /allowOrigin is deprecated/);
  assert.equal(w.length, 4);
});

Deno.test("sourceLabels on a gateway-only VS never apply", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    gateways: ["gw"],
    http: [{ match: [{ sourceLabels: { app: "x" } }], ...to }],
  });
  assert.equal(w.length, 1);
  assert.match(w[0].message, /never applies/);
});

Deno.test("unsupported redirect codes warn", () => {
  const w = virtualServiceWarnings({
    hosts: ["a"],
    http: [{ redirect: { uri: "/", redirectCode: 300 } }],
  });
  assert.match(w[0].message, /300 is not one of 301/);
});

Deno.test("DR: LEAST_CONN, consecutiveErrors, maxEjectionPercent 0, useless gateway errors", () => {
  const w = destinationRuleWarnings({
    host: "a",
    trafficPolicy: {
      loadBalancer: { simple: "LEAST_CONN" },
      outlierDetection: {
        consecutiveErrors: 5,
        maxEjectionPercent: 0,
        consecutiveGatewayErrors: 7,
      },
    },
    subsets: [{
      name: "v1",
      trafficPolicy: {
        portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: "LEAST_CONN" } }],
      },
    }],
  });
  assert.deepEqual(w.map((x) => x.path.join(".")), [
    "spec.trafficPolicy.loadBalancer.simple",
    "spec.trafficPolicy.outlierDetection.consecutiveErrors",
    "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
    "spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors",
    "spec.subsets.0.trafficPolicy.portLevelSettings.0.loadBalancer.simple",
  ]);
  assert.match(w[0].message, /LEAST_CONN is deprecated.*LEAST_REQUEST/);
  assert.match(w[1].message, /ignored/);
});

Deno.test("a valid, modern configuration has no warnings", () => {
  assert.deepEqual(
    virtualServiceWarnings({
      hosts: ["a"],
      http: [
        {
          match: [{ uri: { prefix: "/api" } }],
          ...to,
          fault: { abort: { httpStatus: 500, percentage: { value: 5 } } },
        },
        to,
      ],
    }),
    [],
  );
  assert.deepEqual(
    destinationRuleWarnings({ host: "a", trafficPolicy: { loadBalancer: { simple: "RANDOM" } } }),
    [],
  );
});

Deno.test("Sidecar and PeerAuthentication warnings", () => {
  assert.match(sidecarWarnings({ outboundTrafficPolicy: {} })[0].message, /REGISTRY_ONLY/);
  assert.deepEqual(sidecarWarnings({ outboundTrafficPolicy: { mode: "ALLOW_ANY" } }), []);
  assert.match(
    peerAuthenticationWarnings({ portLevelMtls: { "8080": { mode: "DISABLE" } } })[0].message,
    /needs|without a selector/,
  );
});
