/**
 * The per-request state of the forwarding pipeline, in one object: the {@linkcode RequestView}
 * the matchers read (adapted from the engine's parsed head without copying), the
 * {@linkcode PickContext} balancers read (hash key, hosts already tried), the plan the stages fill
 * in (timeouts, header mutations, body), and the {@linkcode RequestRecord} handed to observers
 * once the request is done. One allocation per request.
 *
 * @module
 */

import type { IncomingRequest, RequestHead, UpstreamResponse } from "../http/mod.ts";
import type { Admission } from "./admission.ts";
import type { BufferedBody } from "./request_body.ts";
import type { Endpoint } from "./endpoints.ts";
import type { PickContext } from "./balance/types.ts";
import type { RequestView } from "./request_view.ts";
import type { RetryPolicy } from "./retry_policy.ts";

/** Who sent the request, as the listener knows it (for telemetry and policy hooks). */
export interface SourceIdentity {
  /** Workload or gateway name. */
  name?: string;
  /** Namespace. */
  namespace?: string;
  /** SPIFFE principal, when known. */
  principal?: string;
}

/** What happened to one request: handed to the `onRequest` observer when it is done. */
export interface RequestRecord {
  /** Envoy response flags as {@linkcode Flag} bits (render with `formatFlags`). */
  readonly flags: number;
  /** Status sent downstream; 0 when none could be sent. */
  readonly status: number;
  /** `Date.now()` when the request head was parsed. */
  readonly startTime: number;
  /** Milliseconds from the head to the end of the response. */
  readonly duration: number;
  /** Milliseconds from the first attempt to the relayed response head; -1 when none. */
  readonly upstreamDuration: number;
  /** Upstream cluster name (`outbound|…`, `PassthroughCluster`), `""` when none. */
  readonly cluster: string;
  /** `address:port` of the last attempt's endpoint, `""` when none. */
  readonly upstreamHost: string;
  /** The last attempt's endpoint (labels, locality for telemetry), undefined when none. */
  readonly endpoint: Endpoint | undefined;
  /** Route name (`%ROUTE_NAME%`), `""` when none. */
  readonly routeName: string;
  /** `ns/name` of the VirtualService that routed it, `""` when none. */
  readonly virtualService: string;
  /** Request body bytes received. */
  readonly requestBytes: number;
  /** Response body bytes sent. */
  readonly responseBytes: number;
  /** Attempts made upstream (0 when none). */
  readonly attempts: number;
  /** `x-request-id` sent upstream, `""` when the request never went upstream. */
  readonly requestId: string;
  /** Request method. */
  readonly method: string;
  /** Authority as received. */
  readonly authority: string;
  /** Path and query as received (before any rewrite). */
  readonly pathAndQuery: string;
  /** The gateway (`ns/name`) that served it; undefined on a sidecar. */
  readonly gateway: string | undefined;
  /** The listener's source identity, when configured. */
  readonly source: SourceIdentity | undefined;
}

/** The port in an authority (`host:port`, `[v6]:port`), or 0 when it names none. */
export function portOf(authority: string): number {
  let n = 0;
  let mul = 1;
  let i = authority.length - 1;
  for (; i >= 0; i--) {
    const c = authority.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n += (c - 48) * mul;
    mul *= 10;
  }
  if (i <= 0 || mul === 1 || mul > 100000 || authority.charCodeAt(i) !== 58) return 0;
  // An unbracketed IPv6 literal has no port.
  if (authority.charCodeAt(0) !== 91 && authority.indexOf(":") !== i) return 0;
  return n > 0 && n < 65536 ? n : 0;
}

const NO_TRIED: Endpoint[] = [];

/** Per-request state; implements the request view, the balancer context and the record. */
export class RequestContext implements RequestView, PickContext, RequestRecord {
  /** The engine's parsed head (valid until the handler returns). */
  readonly head: RequestHead;
  /** The engine's request. */
  readonly req: IncomingRequest;
  // ---- RequestView
  /** Method as received. */
  readonly method: string;
  /** Authority as received. */
  readonly authority: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** Destination port (see {@linkcode RequestContext.constructor}). */
  readonly port: number;
  #path: string | undefined;
  #query: string | undefined;
  // ---- PickContext
  /** Consistent-hash key of the request, when the cluster hashes. */
  hash: number | undefined = undefined;
  /** Hosts to avoid on a retry (this object, once a host was tried). */
  avoid: { has(endpoint: Endpoint): boolean } | undefined = undefined;
  /** Endpoints tried so far. */
  tried: Endpoint[] = NO_TRIED;
  // ---- plan
  /** Effective retry policy. */
  policy: RetryPolicy | undefined = undefined;
  /** Route timeout in ms (0 = none). */
  timeout = 0;
  /** Per-try timeout in ms (0 = none). */
  perTryTimeout = 0;
  /** Absolute route deadline (`Date.now()` ms), 0 = none; set when the timeout starts. */
  deadline = 0;
  /** Rewritten path and query, when a rewrite changed it. */
  path2: string | undefined = undefined;
  /** Rewritten authority, when changed. */
  authority2: string | undefined = undefined;
  /** Request fields to drop when forwarding (lower-case). */
  requestRemove: readonly string[] | undefined = undefined;
  /** Request fields to add when forwarding, flat `[name, value, ...]`. */
  requestAdd: readonly string[] | undefined = undefined;
  /** Response fields to drop before answering (lower-case). */
  responseRemove: readonly string[] | undefined = undefined;
  /** Response fields to add before answering, flat. */
  responseAdd: readonly string[] | undefined = undefined;
  /** The buffered body, when the request has one. */
  body: BufferedBody | undefined = undefined;
  // ---- current attempt
  /** Endpoint of the current attempt (undefined for pass-through targets). */
  endpoint: Endpoint | undefined = undefined;
  /** The current attempt's response, between its head and the end of its relay. */
  up: UpstreamResponse | undefined = undefined;
  /** Admission whose connection slot the current attempt holds. */
  slot: Admission | undefined = undefined;
  /** Flag bit of the last failed attempt (0 after a response). */
  failure = 0;
  /** Status to answer a downstream failure (DPE) with; 0 = abort. */
  downstreamStatus = 0;
  /** `Date.now()` when the first attempt started, 0 before. */
  firstAttemptAt = 0;
  /** The current attempt's exchange timeout in ms (0 = none). */
  attemptTimeout = 0;
  /** Whether the current attempt's timeout is the per-try one (shorter than the route's). */
  perTryLimited = false;
  /** A `Date.now()` taken earlier in the current synchronous run, to reuse; 0 = none. */
  clock = 0;
  /** Admission whose request slot (`http2MaxRequests`) this request holds until it is done. */
  admitted: Admission | undefined = undefined;
  // ---- record
  flags = 0;
  status = 0;
  readonly startTime: number;
  duration = 0;
  upstreamDuration = -1;
  cluster = "";
  upstreamHost = "";
  routeName = "";
  virtualService = "";
  requestBytes = 0;
  responseBytes = 0;
  attempts = 0;
  requestId = "";
  readonly gateway: string | undefined;
  readonly source: SourceIdentity | undefined;
  #pathAndQuery: string | undefined;

  /**
   * State for `req`. The destination `port` is the listener's `port` on a gateway (the Host port
   * is ignored there, SEMANTICS §5); on a sidecar it is the port named in the authority, else
   * `port` (80 for the outbound listener: DESIGN "Addressing").
   */
  constructor(
    req: IncomingRequest,
    options: { port: number; gateway?: string; source?: SourceIdentity },
  ) {
    const head = req.head;
    this.req = req;
    this.head = head;
    this.method = head.method;
    this.authority = head.authority;
    this.scheme = head.scheme ?? (req.conn.secure ? "https" : "http");
    this.gateway = options.gateway;
    this.port = options.gateway !== undefined
      ? options.port
      : portOf(this.authority) || options.port;
    this.startTime = req.startTime;
    this.source = options.source;
  }

  /** Path without the query. */
  get path(): string {
    if (this.#path === undefined) this.#split();
    return this.#path!;
  }

  /** Raw query without `?`. */
  get query(): string {
    if (this.#query === undefined) this.#split();
    return this.#query!;
  }

  /** Path and query as received. */
  get pathAndQuery(): string {
    return this.#pathAndQuery ??= this.head.path;
  }

  #split(): void {
    const full = this.pathAndQuery;
    const q = full.indexOf("?");
    if (q < 0) {
      this.#path = full;
      this.#query = "";
    } else {
      this.#path = full.slice(0, q);
      this.#query = full.slice(q + 1);
    }
  }

  /** A header's value by lower-case name; repeated fields joined with `,`. */
  header(name: string): string | undefined {
    const head = this.head;
    const i = head.indexOf(name);
    if (i < 0) return undefined;
    let j = head.indexOf(name, i + 1);
    if (j < 0) return head.value(i);
    let out = head.value(i);
    for (; j >= 0; j = head.indexOf(name, j + 1)) out += "," + head.value(j);
    return out;
  }

  /** Whether `endpoint` was tried already (the balancer's avoid set). */
  has(endpoint: Endpoint): boolean {
    const tried = this.tried;
    for (let i = 0; i < tried.length; i++) if (tried[i] === endpoint) return true;
    return false;
  }

  /** Remembers a tried endpoint. */
  addTried(endpoint: Endpoint): void {
    if (this.tried === NO_TRIED) this.tried = [];
    this.tried.push(endpoint);
  }
}
