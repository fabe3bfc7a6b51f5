import assert from "node:assert/strict";
import { type KindName, specSchemas } from "../../../mesh/config/schema/mod.ts";
import { virtualServiceSpec } from "../../../mesh/config/schema/virtual_service.ts";

function accepts(kind: KindName, spec: unknown): void {
  const result = specSchemas[kind].safeParse(spec);
  assert.ok(result.success, JSON.stringify(result.error?.issues));
}

const route = [{ destination: { host: "reviews", subset: "v1" } }];

Deno.test("accepts valid edge cases that Istio accepts", async (t) => {
  const cases: [string, KindName, unknown][] = [
    ["regex * means present", "VirtualService", {
      hosts: ["r"],
      http: [{ match: [{ headers: { x: { regex: "*" } } }], route }],
    }],
    ["empty StringMatch means present", "VirtualService", {
      hosts: ["r"],
      http: [{
        match: [{ headers: { x: {} }, withoutHeaders: { y: {} }, queryParams: { q: {} } }],
        route,
      }],
    }],
    ["exportTo ~ (visible nowhere) on a VirtualService", "VirtualService", {
      hosts: ["r"],
      exportTo: ["~"],
      http: [{ route }],
    }],
    ["exportTo ~ on a DestinationRule", "DestinationRule", { host: "r", exportTo: ["~"] }],
    ["empty uri prefix", "VirtualService", {
      hosts: ["r"],
      http: [{ match: [{ uri: { prefix: "" } }], route }],
    }],
    ["deprecated integer percent", "VirtualService", {
      hosts: ["r"],
      http: [{
        fault: {
          delay: { percent: 50, fixedDelay: "7s" },
          abort: { percent: 10, httpStatus: 500 },
        },
        route,
      }],
    }],
    ["fault with no percentage", "VirtualService", {
      hosts: ["r"],
      http: [{ fault: { delay: { fixedDelay: "2s" } }, route }],
    }],
    ["timeout 0s disables (seed spec)", "VirtualService", {
      hosts: ["r"],
      http: [{ timeout: "0s", route }],
    }],
    ["single destination weight 0", "VirtualService", {
      hosts: ["r"],
      http: [{ route: [{ destination: { host: "r" }, weight: 0 }] }],
    }],
    ["weights need not sum to 100", "VirtualService", {
      hosts: ["r"],
      http: [{
        route: [{ destination: { host: "r", subset: "a" }, weight: 1 }, {
          destination: { host: "r", subset: "b" },
          weight: 3,
        }],
      }],
    }],
    ["durations in many forms", "VirtualService", {
      hosts: ["r"],
      http: [{
        timeout: "1h2m3.5s",
        retries: { attempts: 3, perTryTimeout: "1.5s", retryOn: "5xx,reset,503", backoff: "25ms" },
        route,
      }],
    }],
    ["attempts 0 alone disables retries", "VirtualService", {
      hosts: ["r"],
      http: [{ retries: { attempts: 0 }, route }],
    }],
    ["delegate root and delegate VS", "VirtualService", {
      hosts: ["r"],
      http: [{ match: [{ uri: { prefix: "/a" } }], delegate: { name: "d", namespace: "ns" } }],
    }],
    ["delegate VS without hosts", "VirtualService", {
      http: [{ match: [{ uri: { prefix: "/a/b" } }], route }],
    }],
    ["mirrors with percentages and corsPolicy", "VirtualService", {
      hosts: ["r"],
      http: [{
        route,
        mirrors: [{ destination: { host: "m" }, percentage: { value: 12.5 } }],
        corsPolicy: {
          allowOrigins: [{ exact: "https://a.com" }, { regex: "https://.*\\.b\\.com" }],
          allowMethods: ["GET", "POST"],
          allowHeaders: ["x-a"],
          maxAge: "24h",
          allowCredentials: true,
          unmatchedPreflights: "IGNORE",
        },
      }],
    }],
    ["mirror with deprecated mirrorPercent", "VirtualService", {
      hosts: ["r"],
      http: [{ route, mirror: { host: "m" }, mirrorPercent: 50 }],
    }],
    ["redirect and direct response", "VirtualService", {
      hosts: ["r"],
      http: [{
        match: [{ uri: { prefix: "/old" } }],
        redirect: { prefixRewrite: "/new", derivePort: "FROM_REQUEST_PORT", redirectCode: 308 },
      }, { directResponse: { status: 503, body: { string: "down" } } }],
    }],
    ["VS * host on a gateway, IP host, JWT claims", "VirtualService", {
      hosts: ["*"],
      gateways: ["istio-system/gw", "./gw2"],
      http: [{ match: [{ headers: { "@request.auth.claims.group": { exact: "a" } } }], route }],
    }],
    ["IP host", "VirtualService", {
      hosts: ["10.0.0.1", "a.example.com"],
      gateways: ["gw"],
      http: [{ route }],
    }],
    ["legacy gateway name", "VirtualService", {
      hosts: ["r"],
      gateways: ["gw.istio-system", "mesh"],
      http: [{ route }],
    }],
    ["tls and tcp routes", "VirtualService", {
      hosts: ["*.example.com"],
      gateways: ["gw"],
      tls: [{ match: [{ sniHosts: ["a.example.com"], port: 443 }], route }],
      tcp: [{ match: [{ port: 3306, destinationSubnets: ["10.0.0.0/8"] }], route }],
    }],
    ["header set with host", "VirtualService", {
      hosts: ["r"],
      http: [{
        headers: {
          request: { set: { host: "x" }, remove: ["x-a"] },
          response: { add: { "x-b": "%HOSTNAME%" } },
        },
        route,
      }],
    }],
    ["LEAST_CONN and consecutiveErrors", "DestinationRule", {
      host: "r",
      trafficPolicy: {
        loadBalancer: { simple: "LEAST_CONN" },
        outlierDetection: { consecutiveErrors: 5 },
      },
    }],
    ["full DR", "DestinationRule", {
      host: "*.example.com",
      trafficPolicy: {
        loadBalancer: {
          consistentHash: {
            httpCookie: { name: "s", ttl: "0s", attributes: [{ name: "SameSite", value: "Lax" }] },
            maglev: { tableSize: 65537 },
          },
          localityLbSetting: { distribute: [{ from: "us/*", to: { "us/*": 80, "eu/*": 20 } }] },
        },
        connectionPool: {
          tcp: {
            maxConnections: 100,
            connectTimeout: "30ms",
            tcpKeepalive: { time: "7200s", interval: "75s" },
            idleTimeout: "0s",
          },
          http: {
            http1MaxPendingRequests: 1,
            maxRequestsPerConnection: 1,
            h2UpgradePolicy: "UPGRADE",
            http2KeepAlive: { interval: "10s", timeout: "1s" },
          },
        },
        outlierDetection: {
          consecutive5xxErrors: 7,
          interval: "5m",
          baseEjectionTime: "15m",
          maxEjectionPercent: 100,
          outlierDetectionHttpErrorCodes: [503],
          splitExternalLocalOriginErrors: true,
          consecutiveLocalOriginFailures: 2,
        },
        tls: { mode: "ISTIO_MUTUAL", sni: "x" },
        portLevelSettings: [{
          port: { number: 80 },
          loadBalancer: {
            simple: "LEAST_REQUEST",
            warmup: { duration: "60s", minimumPercent: 5, aggression: 1.5 },
          },
        }],
        retryBudget: { percent: 20, minRetryConcurrency: 3, budgetInterval: "0s" },
        tunnel: { protocol: "CONNECT", targetHost: "10.0.0.1", targetPort: 8080 },
      },
      subsets: [{
        name: "v1",
        labels: { version: "v1" },
        trafficPolicy: { proxyProtocol: { version: "V2" } },
      }],
      exportTo: ["."],
      workloadSelector: { matchLabels: { app: "r" } },
    }],
    ["failover with outlier detection", "DestinationRule", {
      host: "r",
      trafficPolicy: {
        loadBalancer: {
          simple: "ROUND_ROBIN",
          localityLbSetting: {
            enabled: true,
            failover: [{ from: "us-east", to: "us-west" }],
            failoverPriority: ["network"],
          },
        },
        outlierDetection: { consecutive5xxErrors: 1 },
      },
    }],
    ["gateway with TLS forms", "Gateway", {
      selector: { istio: "ingressgateway" },
      servers: [
        {
          port: { number: 80, name: "http", protocol: "HTTP" },
          hosts: ["ns1/a.example.com", "*/b.example.com", "./c.example.com"],
          tls: { httpsRedirect: true },
        },
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*.example.com"],
          tls: { mode: "SIMPLE", credentialName: "cert" },
        },
        {
          port: { number: 8443, name: "mtls", protocol: "HTTPS" },
          hosts: ["*"],
          tls: {
            mode: "MUTUAL",
            serverCertificate: "/c.pem",
            privateKey: "/k.pem",
            caCertificates: "/ca.pem",
            minProtocolVersion: "TLSV1_2",
          },
        },
        {
          port: { number: 15443, name: "tls", protocol: "TLS" },
          hosts: ["*.local"],
          tls: { mode: "AUTO_PASSTHROUGH" },
        },
      ],
    }],
    ["service entry with endpoints", "ServiceEntry", {
      hosts: ["db.example.com"],
      addresses: ["192.168.0.0/24"],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: 5432, name: "tcp-pg", protocol: "TCP", targetPort: 6432 }],
      endpoints: [{
        address: "192.168.0.5",
        ports: { "tcp-pg": 5433 },
        labels: { version: "v1" },
        locality: "us/east/a",
        weight: 2,
        serviceAccount: "db",
      }],
      exportTo: ["~"],
      subjectAltNames: ["spiffe://x"],
    }],
    ["service entry DNS and DYNAMIC_DNS", "ServiceEntry", {
      hosts: ["*.wiki.org"],
      resolution: "DYNAMIC_DNS",
      ports: [{ number: 443, name: "tls", protocol: "TLS" }],
    }],
    ["workload entry", "WorkloadEntry", {
      address: "vm1.example.com",
      ports: { http: 8080 },
      labels: { app: "details" },
      network: "n1",
      locality: "us-east",
      weight: 1,
      serviceAccount: "details",
    }],
    ["sidecar", "Sidecar", {
      workloadSelector: { labels: { app: "r" } },
      ingress: [{
        port: { number: 9080, protocol: "HTTP", name: "http" },
        defaultEndpoint: "127.0.0.1:8080",
        connectionPool: { http: { http2MaxRequests: 10 } },
      }],
      egress: [{ port: { number: 3306, protocol: "MYSQL", name: "db" }, hosts: ["db/*"] }, {
        hosts: ["./*", "istio-system/*", "~/*", "*/api.example.com"],
      }],
      inboundConnectionPool: { tcp: { maxConnections: 10 } },
      outboundTrafficPolicy: {
        mode: "ALLOW_ANY",
        egressProxy: { host: "proxy.example.com", port: { number: 3128 } },
      },
    }],
    ["peer authentication", "PeerAuthentication", {
      selector: { matchLabels: { app: "r" } },
      mtls: { mode: "STRICT" },
      portLevelMtls: { "8080": { mode: "DISABLE" } },
    }],
    ["empty authorization policy (deny all)", "AuthorizationPolicy", {}],
    ["authorization policy rules", "AuthorizationPolicy", {
      selector: { matchLabels: { app: "r" } },
      action: "ALLOW",
      rules: [{
        from: [{
          source: { principals: ["cluster.local/ns/default/sa/sleep"], namespaces: ["default"] },
        }, { source: { serviceAccounts: ["default/sleep"] } }],
        to: [{ operation: { methods: ["GET"], paths: ["/api/{*}/items/{**}"], ports: ["8080"] } }],
        when: [{ key: "request.headers[version]", values: ["v1"] }, {
          key: "source.ip",
          notValues: ["10.0.0.0/8"],
        }],
      }],
    }],
    ["CUSTOM with provider", "AuthorizationPolicy", {
      action: "CUSTOM",
      provider: { name: "ext-authz" },
      targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }],
      rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }],
    }],
  ];
  for (const [name, kind, spec] of cases) {
    await t.step(name, () => accepts(kind, spec));
  }
});

Deno.test("unknown fields: one issue per key, full path, known field list", () => {
  const result = virtualServiceSpec.safeParse({
    hosts: ["r"],
    htpp: [],
    http: [{ route: [{ destination: { host: "r", subst: "v1" }, wieght: 5 }], timeout: "abc" }],
  });
  assert.equal(result.success, false);
  const issues = result.error!.issues;
  const unknown = issues.filter((i) => i.message === "unknown field");
  assert.deepEqual(
    unknown.map((i) => i.path.join(".")).sort(),
    ["htpp", "http.0.route.0.destination.subst", "http.0.route.0.wieght"],
  );
  for (const issue of unknown) {
    assert.equal(issue.code, "custom");
    const params = (issue as { params?: { mesh: string; known: string[] } }).params!;
    assert.equal(params.mesh, "unknown_field");
    assert.ok(Array.isArray(params.known) && params.known.length > 0);
  }
  const subst = unknown.find((i) => i.path.includes("subst"))!;
  assert.deepEqual((subst as { params?: { known: string[] } }).params!.known, [
    "host",
    "subset",
    "port",
  ]);
  // Other errors of the same document are reported in the same pass.
  assert.ok(issues.some((i) => i.path.join(".") === "http.0.timeout"));
});

Deno.test("one-of conflicts and unknown fields are reported together", () => {
  const result = virtualServiceSpec.safeParse({
    hosts: ["r"],
    http: [{ route: [{ destination: { host: "r" } }], redirect: { uri: "/x" }, extra: true }],
  });
  assert.equal(result.success, false);
  const paths = result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  assert.ok(paths.some((p) => p.startsWith("http.0.extra: unknown field")), paths.join("\n"));
  assert.ok(paths.some((p) => p.startsWith("http.0: HTTP route sets route and redirect")));
});

Deno.test("inferred types carry the validated shape", () => {
  const result = virtualServiceSpec.parse({
    hosts: ["r"],
    http: [{ route: [{ destination: { host: "r", port: { number: 9080 } }, weight: 10 }] }],
  });
  const weight: number | undefined = result.http?.[0].route?.[0].weight;
  assert.equal(weight, 10);
  assert.equal(result.http?.[0].route?.[0].destination.port?.number, 9080);
});

Deno.test("an object holding only unknown fields is not also reported as empty", () => {
  const result = specSchemas.DestinationRule.safeParse({
    host: "reviews",
    trafficPolicy: { circuitBreaker: { maxConnections: 1 } },
  });
  assert.equal(result.success, false);
  assert.deepEqual(
    result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
    ["trafficPolicy.circuitBreaker: unknown field"],
  );
});
