/**
 * The canonical configuration model: validated resources as loaded
 * ({@link Resource}) and the NORMALIZED form every consumer works from
 * ({@link NormalizedResource}).
 *
 * Normalized resources keep Istio's camelCase field names, with these
 * systematic changes (see `normalize.ts` for each rule):
 * - every duration field holds a number of **milliseconds** under the same
 *   field name (`timeout: "1.5s"` → `timeout: 1500`);
 * - every percentage is a plain number 0–100 (`percentage: {value: 50}` → `50`);
 * - VirtualService/DestinationRule service hosts are fully qualified where
 *   SEMANTICS.md §1 says so; other hosts are literal;
 * - deprecated fields are mapped to their successors and removed;
 * - defaults from SEMANTICS.md / DESIGN.md are explicit.
 *
 * @module
 */

import type { KindName } from "./schema/mod.ts";

export type { KindName };

/** Kubernetes object metadata as mesh keeps it (namespace defaulted to `default`). */
export interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  creationTimestamp?: string;
  /** Other ObjectMeta fields, accepted and carried unchanged. */
  [field: string]: unknown;
}

/** A validated (not normalized) resource: the user's spec after schema validation. */
export interface Resource {
  apiVersion: string;
  kind: KindName;
  metadata: ObjectMeta;
  spec: Record<string, unknown>;
}

// ---------------------------------------------------------------- shared

/** A string matcher: exactly one of the three is set. `{}` means "present". */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  /** RE2, full match. */
  regex?: string;
}

/** Labels that select workloads (`istio.type.v1beta1.WorkloadSelector`: DR, PA, AP). */
export interface WorkloadSelector {
  matchLabels: Record<string, string>;
}

/** Labels that select workloads (`networking.v1alpha3.WorkloadSelector`: Sidecar, ServiceEntry). */
export interface LabelSelector {
  labels: Record<string, string>;
}

/** A port selector (`destination.port`). */
export interface PortSelector {
  number: number;
}

/** Where a route sends traffic. `host` is fully qualified when it was a short name. */
export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

/** Header mutations for one direction. */
export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

/** Request and response header mutations. */
export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

// ---------------------------------------------------------------- VirtualService

/** A normalized VirtualService spec. */
export interface VirtualServiceSpec {
  /** Fully qualified where the user wrote a short name; `*` and dotted names literal. */
  hosts: string[];
  /**
   * Gateways this VS binds to, each `mesh` or `namespace/name` (bare names,
   * `./name` and legacy `name.namespace` resolved). Default `["mesh"]`.
   */
  gateways: string[];
  http: HTTPRoute[];
  tls: TLSRoute[];
  tcp: TCPRoute[];
  /** Default `["*"]`. */
  exportTo: string[];
}

/** One HTTP rule. Exactly one of `route` (non-empty), `redirect`, `directResponse`, `delegate`. */
export interface HTTPRoute {
  name?: string;
  /** Match blocks, OR-ed; empty = matches every request. */
  match: HTTPMatchRequest[];
  /** Weighted destinations; each has an explicit weight; empty when the rule redirects etc. */
  route: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: Delegate;
  rewrite?: HTTPRewrite;
  /** Route timeout in milliseconds; 15000 when unset; 0 = no timeout. */
  timeout: number;
  /** Retry policy; `null` when `retries.attempts` is 0 (no retries at all). */
  retries: HTTPRetry | null;
  fault?: HTTPFaultInjection;
  /** Mirror targets (the deprecated single `mirror` becomes one entry). */
  mirrors: HTTPMirrorPolicy[];
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

/** One HTTP match block (all conditions AND-ed). */
export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  /** As {@link VirtualServiceSpec.gateways}: `mesh` or `namespace/name`. */
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  /** Default false. */
  ignoreUriCase: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceNamespace?: string;
  statPrefix?: string;
}

/** A weighted HTTP destination. */
export interface HTTPRouteDestination {
  destination: Destination;
  /**
   * Relative weight: 100 for a lone destination; otherwise as given (unset =
   * 0), with weight-0 destinations removed.
   */
  weight: number;
  headers?: Headers;
}

/** An HTTP redirect. */
export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: "FROM_PROTOCOL_DEFAULT" | "FROM_REQUEST_PORT";
  scheme?: string;
  /** Default 301. */
  redirectCode: number;
}

/** A fixed response. */
export interface HTTPDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

/** A delegated VirtualService. */
export interface Delegate {
  name: string;
  /** Default: the delegating VirtualService's namespace. */
  namespace: string;
}

/** Path/authority rewrite. */
export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

/** The default retry conditions (current Istio; 503 is not retried). */
export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled";

/** A retry policy with every default explicit. */
export interface HTTPRetry {
  /** Number of retries (total tries ≤ 1 + attempts); ≥ 1 here. */
  attempts: number;
  /** Per-attempt timeout in milliseconds; absent = bounded only by the route timeout. */
  perTryTimeout?: number;
  /** The comma list as configured, or {@link DEFAULT_RETRY_ON}. */
  retryOn: string;
  /** `retryOn` split into Envoy condition tokens (status codes excluded; `retriable-status-codes` added when codes are listed). */
  retryOnTokens: string[];
  /** HTTP status codes listed in `retryOn`. */
  retriableStatusCodes: number[];
  /** Default false. */
  retryRemoteLocalities: boolean;
  /** Default true. */
  retryIgnorePreviousHosts: boolean;
  /** Base backoff interval in milliseconds; default 25 (cap 10 × base). */
  backoff: number;
}

/** Fault injection; each present part has an explicit percentage. */
export interface HTTPFaultInjection {
  delay?: {
    /** Delay in milliseconds. */
    fixedDelay: number;
    /** Percentage of requests delayed, 0–100; 100 when unset (seed spec). */
    percentage: number;
  };
  abort?: {
    httpStatus?: number;
    /** gRPC status name, e.g. `UNAVAILABLE`. */
    grpcStatus?: string;
    http2Error?: string;
    /** Percentage of requests aborted, 0–100; 100 when unset (seed spec). */
    percentage: number;
  };
}

/** One mirror target. */
export interface HTTPMirrorPolicy {
  destination: Destination;
  /** Percentage of requests mirrored, 0–100; 100 when unset. */
  percentage: number;
}

/** CORS policy (`allowOrigin` folded into `allowOrigins` as exact matches). */
export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  /** Preflight cache time in milliseconds, when set. */
  maxAge?: number;
  allowCredentials?: boolean;
  /** Default `FORWARD`. */
  unmatchedPreflights: "FORWARD" | "IGNORE";
}

/** L4 match attributes for `tcp` rules. */
export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

/** Match attributes for `tls` rules. */
export interface TLSMatchAttributes extends L4MatchAttributes {
  sniHosts: string[];
}

/** A weighted L4 destination. */
export interface RouteDestination {
  destination: Destination;
  /** As {@link HTTPRouteDestination.weight}. */
  weight: number;
}

/** One TLS (SNI) rule. */
export interface TLSRoute {
  match: TLSMatchAttributes[];
  route: RouteDestination[];
}

/** One TCP rule; empty `match` = every connection. */
export interface TCPRoute {
  match: L4MatchAttributes[];
  route: RouteDestination[];
}

// ---------------------------------------------------------------- DestinationRule

/** A normalized DestinationRule spec. */
export interface DestinationRuleSpec {
  /** Fully qualified where the user wrote a short name. */
  host: string;
  /**
   * Top-level policy; always present, with `loadBalancer` explicit
   * (ROUND_ROBIN by default). Other blocks stay absent when not configured.
   */
  trafficPolicy: TrafficPolicy;
  subsets: Subset[];
  /** Default `["*"]`. */
  exportTo: string[];
  workloadSelector?: WorkloadSelector;
}

/** A named subset. Its `trafficPolicy` keeps only what the user set (blocks replace the top level). */
export interface Subset {
  name: string;
  labels: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

/**
 * Traffic policy. A block that is present is complete (every default
 * explicit); a missing block means "inherit" in a subset and "defaults"
 * elsewhere (see {@link DEFAULT_CONNECTION_POOL}, SEMANTICS.md §3.2).
 */
export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  /**
   * Per-port policies; each REPLACES the enclosing policy for its port, so
   * each has `loadBalancer` explicit.
   */
  portLevelSettings?: PortTrafficPolicy[];
  tunnel?: { protocol: string; targetHost: string; targetPort: number };
  proxyProtocol?: { version: "V1" | "V2" };
  retryBudget?: { percent: number; minRetryConcurrency: number };
}

/** A per-port traffic policy. */
export interface PortTrafficPolicy {
  port: PortSelector;
  loadBalancer: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

/** The simple load-balancing algorithms (LEAST_CONN mapped to LEAST_REQUEST, UNSPECIFIED to ROUND_ROBIN). */
export type SimpleLB = "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM" | "PASSTHROUGH";

/** Load balancer: exactly one of `simple` and `consistentHash`. */
export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  localityLbSetting?: LocalityLbSetting;
  warmup?: {
    /** Ramp-up time in milliseconds. */
    duration: number;
    /** Default 10. */
    minimumPercent: number;
    /** Default 1.0. */
    aggression: number;
  };
}

/** Consistent hashing: one key source, one algorithm (ring hash by default). */
export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: {
    name: string;
    path?: string;
    /** Cookie lifetime in milliseconds; 0 = session cookie; absent = never generated. */
    ttl?: number;
    attributes?: { name: string; value?: string }[];
  };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  /** Present unless `maglev` is; default minimumRingSize 1024. */
  ringHash?: { minimumRingSize: number };
  maglev?: { tableSize: number };
}

/** Locality-aware load balancing, passed through. */
export interface LocalityLbSetting {
  distribute?: { from: string; to: Record<string, number> }[];
  failover?: { from: string; to: string }[];
  failoverPriority?: string[];
  enabled?: boolean;
}

/** Connection-pool limits, complete (0 in the source means default). */
export interface ConnectionPoolSettings {
  tcp: {
    /** Default 2^32−1. */
    maxConnections: number;
    /** Milliseconds; default 10000. */
    connectTimeout: number;
    tcpKeepalive?: {
      probes?: number;
      /** Milliseconds. */
      time?: number;
      /** Milliseconds. */
      interval?: number;
    };
    /** Milliseconds; absent = unlimited. */
    maxConnectionDuration?: number;
    /** Milliseconds; default 3600000; 0 disables. */
    idleTimeout: number;
  };
  http: {
    /** Default 2^32−1. */
    http1MaxPendingRequests: number;
    /** Default 2^32−1. */
    http2MaxRequests: number;
    /** 0 = unlimited (default). */
    maxRequestsPerConnection: number;
    /** Default 2^32−1. */
    maxRetries: number;
    /** Milliseconds; default `tcp.idleTimeout`. */
    idleTimeout: number;
    /** Default `DEFAULT`. */
    h2UpgradePolicy: "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE";
    /** Default false. */
    useClientProtocol: boolean;
    /** Default 2^31−1. */
    maxConcurrentStreams: number;
  };
}

/** Passive health checking, complete (only present when configured). */
export interface OutlierDetection {
  /** Default 5; 0 disables. */
  consecutive5xxErrors: number;
  /** 0 = disabled (default). */
  consecutiveGatewayErrors: number;
  /** Sweep interval in milliseconds; default 10000. */
  interval: number;
  /** Milliseconds; default 30000. */
  baseEjectionTime: number;
  /** Default 10 (0 also means 10). */
  maxEjectionPercent: number;
  /** Default 0 (panic disabled). */
  minHealthPercent: number;
  /** Default false. */
  splitExternalLocalOriginErrors: boolean;
  /** Default 5. */
  consecutiveLocalOriginFailures: number;
  /** Status codes counted as errors; absent = every 5xx. */
  outlierDetectionHttpErrorCodes?: number[];
}

/** Upstream TLS settings, passed through (mode explicit). */
export interface ClientTLSSettings {
  mode: "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  /** Default false. */
  insecureSkipVerify: boolean;
  caCrl?: string;
}

// ---------------------------------------------------------------- ServiceEntry, WorkloadEntry

/** A normalized ServiceEntry spec (hosts literal). */
export interface ServiceEntrySpec {
  hosts: string[];
  addresses: string[];
  ports: ServicePort[];
  /** Default MESH_EXTERNAL. */
  location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  /** Default NONE. */
  resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
  endpoints: WorkloadEntrySpec[];
  workloadSelector?: LabelSelector;
  /** Default `["*"]`. */
  exportTo: string[];
  subjectAltNames: string[];
}

/** A service port. */
export interface ServicePort {
  number: number;
  protocol?: string;
  name: string;
  /** Default: `number`. */
  targetPort: number;
}

/** A normalized WorkloadEntry spec (also a ServiceEntry endpoint). */
export interface WorkloadEntrySpec {
  address?: string;
  /** Service port name → endpoint port. */
  ports: Record<string, number>;
  labels: Record<string, string>;
  network?: string;
  locality?: string;
  /** Relative LB weight; default 1 (0 also means 1). */
  weight: number;
  serviceAccount?: string;
}

// ---------------------------------------------------------------- Gateway

/** A normalized Gateway spec (hosts literal). */
export interface GatewaySpec {
  servers: Server[];
  /** Proxy labels this Gateway applies to; `{}` = all gateway proxies. */
  selector: Record<string, string>;
}

/** One listener of a Gateway. */
export interface Server {
  port: { number: number; protocol: string; name: string; targetPort?: number };
  bind?: string;
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}

/** Server TLS settings; `mode` explicit (PASSTHROUGH by default). */
export interface ServerTLSSettings {
  /** Default false. */
  httpsRedirect: boolean;
  mode:
    | "PASSTHROUGH"
    | "SIMPLE"
    | "MUTUAL"
    | "AUTO_PASSTHROUGH"
    | "ISTIO_MUTUAL"
    | "OPTIONAL_MUTUAL";
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  credentialNames?: string[];
  tlsCertificates?: { serverCertificate?: string; privateKey?: string; caCertificates?: string }[];
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

// ---------------------------------------------------------------- Sidecar

/** A normalized Sidecar spec (egress hosts literal). */
export interface SidecarSpec {
  workloadSelector?: LabelSelector;
  ingress: IstioIngressListener[];
  egress: IstioEgressListener[];
  inboundConnectionPool?: ConnectionPoolSettings;
  /** Absent = mesh default (ALLOW_ANY); a given block without mode = REGISTRY_ONLY. */
  outboundTrafficPolicy?: {
    mode: "REGISTRY_ONLY" | "ALLOW_ANY";
    egressProxy?: Destination;
  };
}

/** An inbound listener of a Sidecar. */
export interface IstioIngressListener {
  port: { number: number; protocol?: string; name?: string; targetPort?: number };
  bind?: string;
  captureMode?: string;
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
  connectionPool?: ConnectionPoolSettings;
}

/** An outbound scope of a Sidecar. */
export interface IstioEgressListener {
  port?: { number: number; protocol?: string; name?: string; targetPort?: number };
  bind?: string;
  captureMode?: string;
  /** `ns/host` entries as written. */
  hosts: string[];
}

// ---------------------------------------------------------------- security

/** mTLS modes of PeerAuthentication. */
export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

/** A normalized PeerAuthentication spec. */
export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  /** Mode explicit; `UNSET` (the default) inherits. */
  mtls: { mode: MtlsMode };
  /** Workload port (as a decimal string) → mode. */
  portLevelMtls: Record<string, { mode: MtlsMode }>;
}

/** A normalized AuthorizationPolicy spec. */
export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  /** Default ALLOW. */
  action: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
  provider?: { name: string };
  /** Empty = matches nothing (an ALLOW policy with no rules denies everything). */
  rules: AuthorizationRule[];
}

/** A policy target reference, passed through. */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** One rule: any `from` AND any `to` AND every `when`; empty lists match everything. */
export interface AuthorizationRule {
  from: { source: AuthorizationSource }[];
  to: { operation: AuthorizationOperation }[];
  when: { key: string; values?: string[]; notValues?: string[] }[];
}

/** Request source conditions. */
export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

/** Request operation conditions. */
export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

// ---------------------------------------------------------------- resources

/** Spec type of each kind after normalization. */
export interface NormalizedSpecs {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  Gateway: GatewaySpec;
  Sidecar: SidecarSpec;
  WorkloadEntry: WorkloadEntrySpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
}

/** A normalized resource of kind `K`. */
export interface NormalizedOf<K extends KindName> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: NormalizedSpecs[K];
}

/** A normalized resource of any kind; switch on `kind` to narrow `spec`. */
export type NormalizedResource = { [K in KindName]: NormalizedOf<K> }[KindName];
