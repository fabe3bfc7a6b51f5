/**
 * The forwarding pipeline over the real engine: a {@linkcode Pipeline} holds the compiled
 * configuration (swapped atomically on {@linkcode Pipeline.update}), the upstream pools, the
 * outlier-detection sweeps and the optional active health checks, and makes `mesh/http`
 * {@linkcode Handler}s for listeners.
 *
 * Per request, in DESIGN.md's order: route (404 NR; unknown host: ALLOW_ANY pass-through without
 * timeout or retry, REGISTRY_ONLY 502) → CORS preflight → fault (delay, then abort; before the
 * route timeout starts) → redirect / direct response → rewrite and header mutations → split →
 * cluster (503 NC) → admission (`http2MaxRequests`, 503 UO) → body buffering for replay (1 MiB)
 * → mirrors → balance, forward, retry (`retry_loop.ts`) → observe (outlier detector per attempt,
 * endpoint activity, then the request record to `onRequest`).
 *
 * @module
 */

import {
  forward,
  Framing,
  type Handler,
  type IncomingRequest,
  newRequestId,
  ProtocolError,
  type RequestHead,
  type ResponseSink,
  TargetForm,
} from "../http/mod.ts";
import type { RandomSource } from "./balance/mod.ts";
import { formatSetCookie, hashKey } from "./balance/hash_key.ts";
import {
  type Cluster,
  type CompiledConfig,
  type CompiledRoute,
  compileSnapshot,
  type RouteDestination,
} from "./compile.ts";
import { serveConnect, type ServeConnectOptions } from "./connect.ts";
import { corsPreflight, corsResponseHeaders } from "./cors.ts";
import { decideFault, type FaultDecision, NO_FAULT } from "./fault.ts";
import { FAULT_ABORT_BODY, Flag, LocalReplies } from "./flags.ts";
import {
  endAttempt,
  flagBit,
  originalDestination,
  Outcome,
  pickTarget,
  sendMirror,
  takeSlot,
} from "./forward_attempt.ts";
import { applyHeaderOps, type HeaderMap, type HeaderOps, type HeaderValue } from "./header_ops.ts";
import { HealthChecker, type HealthCheckOptions, type HealthStatus } from "./health_check.ts";
import { respond, sendReply } from "./local_reply.ts";
import { selectMirrors } from "./mirror.ts";
import { redirectLocation } from "./redirect.ts";
import { bufferBody, DEFAULT_REPLAY_LIMIT } from "./request_body.ts";
import { RequestContext, type RequestRecord, type SourceIdentity } from "./request_context.ts";
import { queryParam } from "./request_view.ts";
import { applyOverrides, RETRY_OVERRIDE_HEADERS } from "./retry_policy.ts";
import { forwardWithRetries } from "./retry_loop.ts";
import { applyRewrite } from "./rewrite.ts";
import { type SelectOptions, selectRoute } from "./route.ts";
import { pickWeighted } from "./split.ts";
import { UpstreamPools, type UpstreamPoolsOptions } from "./upstream_pools.ts";
import type { Snapshot } from "../model/mod.ts";

/** Options of a {@linkcode Pipeline}. */
export interface PipelineOptions {
  /** Random source for balancers and choosers (tests inject a seeded one). */
  random?: RandomSource;
  /** Root namespace for DestinationRule lookup; default `istio-system`. */
  rootNamespace?: string;
  /** Largest request body buffered so retries and mirrors can resend it; default 1 MiB. */
  replayLimit?: number;
  /** Active health checks; off when absent. */
  healthCheck?: HealthCheckOptions;
  /** Called once per request when it is done (access logs, metrics). Must not throw. */
  onRequest?: (record: RequestRecord) => void;
  /** Opens upstream connections (mTLS adapters); default plain TCP. */
  connect?: UpstreamPoolsOptions["connect"];
}

/** Options of {@linkcode Pipeline.handler}: what the listener is. */
export interface HandlerOptions {
  /** The Gateway (`ns/name`) this listener serves; absent on a sidecar's outbound listener. */
  gateway?: string;
  /**
   * Destination port: a gateway's server port (the Host port is ignored there), or on a sidecar
   * the port assumed when the authority names none (default 80).
   */
  port?: number;
  /**
   * Whether callers are trusted (sidecar outbound: true): `x-envoy-*` override headers are then
   * honoured (SEMANTICS §9). When false (gateways) every `x-envoy-*` request header is stripped.
   */
  internal: boolean;
  /** The listener's source identity, copied into request records. */
  source?: SourceIdentity;
}

/** Timeout used for mirrored requests on routes without a timeout. */
const MIRROR_TIMEOUT_MS = 15_000;

/** Override headers consumed (and not forwarded) when the caller is internal. */
const CONSUMED_OVERRIDES: ReadonlySet<string> = new Set([
  ...RETRY_OVERRIDE_HEADERS,
  "x-envoy-upstream-rq-timeout-alt-response",
  "x-envoy-expected-rq-timeout-ms",
]);

const X_ENVOY = "x-envoy-";

/** Request fields an edge (non-internal) listener never trusts from its client. */
const EDGE_REMOVED: readonly string[] = ["x-forwarded-proto"];

/** Lower-case names of the request's `x-envoy-*` fields, or undefined when it has none. */
function envoyHeaderNames(head: RequestHead): string[] | undefined {
  const raw = head.raw;
  const pos = head.pos;
  let out: string[] | undefined;
  for (let i = 0; i < head.count; i++) {
    const s = pos[i * 4];
    const e = pos[i * 4 + 1];
    if (e - s < 9 || (raw[s] | 0x20) !== 0x78 || raw[s + 1] !== 0x2d) continue;
    let k = 2;
    while (k < 8 && (raw[s + k] | 0x20) === X_ENVOY.charCodeAt(k)) k++;
    if (k < 8) continue;
    (out ??= []).push(head.name(i));
  }
  return out;
}

/** Records header operations as the engine's flat remove/add lists. */
class OpsRecorder implements HeaderMap {
  readonly remove: string[] = [];
  readonly add: string[] = [];

  get(): undefined {
    return undefined;
  }

  set(name: string, value: string): void {
    this.delete(name);
    this.add.push(name, value);
  }

  append(name: string, value: string): void {
    this.add.push(name, value);
  }

  delete(name: string): void {
    if (!this.remove.includes(name)) this.remove.push(name);
    for (let i = this.add.length - 2; i >= 0; i -= 2) {
      if (this.add[i] === name) this.add.splice(i, 2);
    }
  }
}

/** Flat engine lists for one direction of a (route, destination) pair. */
interface FlatOps {
  remove: readonly string[] | undefined;
  add: readonly string[] | undefined;
}

interface DestinationPlan {
  request: FlatOps;
  response: FlatOps;
  /** Values with `%VARIABLE%`s: re-rendered per request. */
  dynamic: boolean;
}

const NO_OPS: FlatOps = Object.freeze({ remove: undefined, add: undefined });

function hasVariables(ops: HeaderOps | undefined): boolean {
  if (ops === undefined) return false;
  const dynamic = (v: HeaderValue) => typeof v !== "string";
  return ops.set.some(([, v]) => dynamic(v)) || ops.add.some(([, v]) => dynamic(v));
}

function flatten(
  route: HeaderOps | undefined,
  destination: HeaderOps | undefined,
  resolve?: (name: string) => string | undefined,
): FlatOps {
  if (route === undefined && destination === undefined) return NO_OPS;
  const rec = new OpsRecorder();
  applyHeaderOps(rec, route, { destination, resolve });
  return {
    remove: rec.remove.length > 0 ? rec.remove : undefined,
    add: rec.add.length > 0 ? rec.add : undefined,
  };
}

function concat(
  a: readonly string[] | undefined,
  b: readonly string[] | undefined,
): readonly string[] | undefined {
  if (a === undefined || a.length === 0) return b;
  if (b === undefined || b.length === 0) return a;
  return [...a, ...b];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Answers with a fault's abort status. */
function abortFault(ctx: RequestContext, res: ResponseSink, fault: FaultDecision): Promise<void> {
  const grpc = fault.abortGrpcStatus >= 0;
  return respond(ctx, res, {
    status: fault.abortStatus,
    headers: grpc
      ? ["content-type", "application/grpc", "grpc-status", String(fault.abortGrpcStatus)]
      : ["content-type", "text/plain"],
    body: grpc ? undefined : new TextEncoder().encode(FAULT_ABORT_BODY),
  });
}

/** One listener's request handler. */
class ListenerHandler {
  readonly #pipeline: Pipeline;
  readonly #internal: boolean;
  readonly #forwardedFor: boolean;
  readonly #select: SelectOptions | undefined;
  readonly #contextOptions: { port: number; gateway?: string; source?: SourceIdentity };
  readonly #loop: { pools: UpstreamPools; forwardedFor: boolean };
  readonly #plans = new WeakMap<RouteDestination, DestinationPlan>();
  readonly #onRequest: ((record: RequestRecord) => void) | undefined;
  readonly #replayLimit: number;
  /** The engine handler (one closure per listener). */
  readonly handle: Handler;

  constructor(pipeline: Pipeline, options: HandlerOptions, pipelineOptions: PipelineOptions) {
    this.#pipeline = pipeline;
    this.#internal = options.internal;
    this.#forwardedFor = options.gateway !== undefined;
    this.#select = options.gateway !== undefined ? { gateway: options.gateway } : undefined;
    this.#contextOptions = {
      port: options.port ?? 80,
      gateway: options.gateway,
      source: options.source,
    };
    this.#loop = { pools: pipeline.pools, forwardedFor: this.#forwardedFor };
    this.#onRequest = pipelineOptions.onRequest;
    this.#replayLimit = pipelineOptions.replayLimit ?? DEFAULT_REPLAY_LIMIT;
    this.handle = (req, res) => this.#handle(req, res);
  }

  async #handle(req: IncomingRequest, res: ResponseSink): Promise<void> {
    const ctx = new RequestContext(req, this.#contextOptions);
    try {
      // The stages run synchronously up to the first wait and hand back the promise of what
      // is left, so an ordinary request awaits once here (plus the forward loop).
      const pending = this.#serve(ctx, req, res);
      if (pending !== undefined) await pending;
    } finally {
      const admission = ctx.admitted;
      if (admission !== undefined) {
        ctx.admitted = undefined;
        admission.releaseRequest();
      }
      if (ctx.slot !== undefined || ctx.up !== undefined) {
        ctx.up?.abort();
        ctx.up = undefined;
        endAttempt(ctx);
      }
      const observer = this.#onRequest;
      // The record's closing fields are for the observer only.
      if (observer !== undefined) {
        ctx.requestBytes = req.body.bytes;
        ctx.responseBytes = res.bodyBytes;
        if (ctx.status === 0 && res.started) ctx.status = res.status;
        ctx.duration = Date.now() - ctx.startTime;
        try {
          observer(ctx);
        } catch {
          // an observer's failure must not break the data path
        }
      }
    }
  }

  /** Route selection, CORS preflight and fault injection; the rest follows in `#route`. */
  #serve(ctx: RequestContext, req: IncomingRequest, res: ResponseSink): Promise<void> | undefined {
    const config = this.#pipeline.config;
    // Only a sidecar's outbound listener is an explicit proxy for TCP; gateways treat CONNECT as
    // any other request.
    if (this.#internal && ctx.head.targetForm === TargetForm.AUTHORITY) {
      return serveConnect(ctx, res, this.#pipeline.connectOptions());
    }
    const selection = selectRoute(config, ctx, this.#select);
    if (selection.kind !== "route") {
      if (selection.kind === "no-route" || ctx.authority === "") {
        return sendReply(ctx, res, LocalReplies.noRoute);
      }
      if (config.outboundTrafficPolicy === "REGISTRY_ONLY") {
        ctx.cluster = "BlackHoleCluster";
        return sendReply(ctx, res, LocalReplies.registryOnly);
      }
      return this.#passthrough(ctx, req, res);
    }
    const route = selection.route;
    ctx.routeName = route.name;
    ctx.virtualService = route.virtualService;

    if (route.cors !== undefined) {
      const decision = corsPreflight(route.cors, ctx);
      if (decision.kind === "respond") {
        return respond(ctx, res, { status: 200, headers: decision.headers.flat() });
      }
    }

    if (route.fault !== undefined) {
      const fault = decideFault(route.fault);
      if (fault !== NO_FAULT) {
        ctx.flags |= fault.flags;
        if (fault.delayMs > 0) return this.#delayed(ctx, req, res, route, fault);
        if (fault.abortStatus > 0) return abortFault(ctx, res, fault);
      }
    }
    return this.#route(ctx, req, res, route);
  }

  /** A fault delay, then the fault's abort or the rest of the stages. */
  async #delayed(
    ctx: RequestContext,
    req: IncomingRequest,
    res: ResponseSink,
    route: CompiledRoute,
    fault: FaultDecision,
  ): Promise<void> {
    await sleep(fault.delayMs);
    if (fault.abortStatus > 0) return abortFault(ctx, res, fault);
    const pending = this.#route(ctx, req, res, route);
    if (pending !== undefined) await pending;
  }

  /** Redirect / direct response, or split, cluster, plan and admission before forwarding. */
  #route(
    ctx: RequestContext,
    req: IncomingRequest,
    res: ResponseSink,
    route: CompiledRoute,
  ): Promise<void> | undefined {
    const action = route.action;
    if (action.kind === "redirect") {
      const r = redirectLocation(action.redirect, ctx);
      const ops = flatten(route.headers?.response, undefined);
      return respond(ctx, res, {
        status: r.status,
        headers: concat(["location", r.location], ops.add) as string[],
      });
    }
    if (action.kind === "direct") {
      const ops = flatten(route.headers?.response, undefined, this.#resolver(ctx));
      return respond(ctx, res, {
        status: action.status,
        headers: ops.add ?? [],
        body: action.body.length > 0 ? action.body : undefined,
      });
    }

    const destination = pickWeighted(action);
    const cluster = destination.clusterFor(ctx.port);
    ctx.cluster = cluster.name;
    if (cluster.notFound) return sendReply(ctx, res, LocalReplies.clusterNotFound);
    this.#plan(ctx, route, destination, envoyHeaderNames(ctx.head));
    if (cluster.policy.loadBalancer.consistentHash !== undefined) this.#hash(ctx, cluster);

    const admission = cluster.admission;
    if (admission.admitRequest() === "overflow") return sendReply(ctx, res, LocalReplies.overflow);
    // Released by #handle once the request is done.
    ctx.admitted = admission;
    if (ctx.head.framing !== Framing.NONE) return this.#withBody(ctx, req, res, route, cluster);
    return this.#dispatch(ctx, req, res, route, cluster);
  }

  /** Buffers the request body for replay, then forwards. */
  async #withBody(
    ctx: RequestContext,
    req: IncomingRequest,
    res: ResponseSink,
    route: CompiledRoute,
    cluster: Cluster,
  ): Promise<void> {
    try {
      ctx.body = await bufferBody(req.body, {
        limit: this.#replayLimit,
        contentLength: ctx.head.contentLength,
      });
    } catch (err) {
      if (err instanceof ProtocolError) {
        ctx.flags |= Flag.DPE;
        res.keepAlive = false;
        return respond(ctx, res, {
          status: 400,
          headers: ["content-type", "text/plain"],
          body: new TextEncoder().encode(err.message),
        });
      }
      ctx.flags |= Flag.DC;
      res.abort();
      return;
    }
    await this.#dispatch(ctx, req, res, route, cluster);
  }

  /** Request id, route deadline, mirrors, then the upgrade tunnel or the retry loop. */
  #dispatch(
    ctx: RequestContext,
    req: IncomingRequest,
    res: ResponseSink,
    route: CompiledRoute,
    cluster: Cluster,
  ): Promise<void> {
    const head = ctx.head;
    ctx.requestId = head.requestIdIndex >= 0 ? head.value(head.requestIdIndex) : newRequestId();
    // The route timeout starts once the whole request is in (after any fault delay).
    const now = Date.now();
    ctx.deadline = ctx.timeout > 0 ? now + ctx.timeout : 0;
    // The first attempt starts in this same run (unless it must queue for a connection slot).
    ctx.clock = now;
    if (route.mirrors.length > 0) {
      const timeoutMs = ctx.timeout > 0 ? ctx.timeout : MIRROR_TIMEOUT_MS;
      for (const mirror of selectMirrors(route.mirrors, ctx.port)) {
        sendMirror(ctx, mirror, { pools: this.#pipeline.pools, timeoutMs });
      }
    }
    if (head.upgrade) return this.#upgrade(ctx, cluster, req, res);
    return forwardWithRetries(ctx, cluster, res, this.#loop);
  }

  /** Timeouts, retry policy, rewrite and header mutations for the chosen destination. */
  #plan(
    ctx: RequestContext,
    route: CompiledRoute,
    destination: RouteDestination,
    envoyNames: string[] | undefined,
  ): void {
    const policy = route.retryPolicy;
    if (envoyNames !== undefined && this.#internal) {
      const effective = applyOverrides(policy, route.timeout, (name) => ctx.header(name));
      ctx.policy = effective.policy;
      ctx.timeout = effective.timeout;
      ctx.perTryTimeout = effective.perTryTimeout;
    } else {
      ctx.policy = policy;
      ctx.timeout = route.timeout;
      ctx.perTryTimeout = policy.perTryTimeout;
    }
    let plan = this.#plans.get(destination);
    if (plan === undefined) {
      const rh = route.headers;
      const dh = destination.headers;
      plan = {
        request: flatten(rh?.request, dh?.request),
        response: flatten(rh?.response, dh?.response),
        dynamic: hasVariables(rh?.request) || hasVariables(dh?.request) ||
          hasVariables(rh?.response) || hasVariables(dh?.response),
      };
      this.#plans.set(destination, plan);
    }
    let request = plan.request;
    let response = plan.response;
    if (plan.dynamic) {
      const resolve = this.#resolver(ctx);
      request = flatten(route.headers?.request, destination.headers?.request, resolve);
      response = flatten(route.headers?.response, destination.headers?.response, resolve);
    }
    let remove = request.remove;
    let add = request.add;
    // An edge proxy sets x-forwarded-proto from its own connection, as Envoy
    // does with use_remote_address: an outside client cannot claim https.
    if (!this.#internal) remove = concat(remove, EDGE_REMOVED);
    if (envoyNames !== undefined) {
      const strip = this.#internal
        ? envoyNames.filter((n) => CONSUMED_OVERRIDES.has(n))
        : envoyNames;
      remove = concat(remove, strip);
    }
    if (route.rewrite !== undefined) {
      const r = applyRewrite(route.rewrite, ctx);
      ctx.path2 = r.pathAndQuery;
      ctx.authority2 = r.authority;
      if (r.originalPath !== undefined) {
        add = concat(add, ["x-envoy-original-path", r.originalPath]);
        remove = concat(remove, ["x-envoy-original-path"]);
      }
    }
    ctx.requestRemove = remove;
    ctx.requestAdd = add;
    ctx.responseRemove = response.remove;
    let responseAdd = response.add;
    if (route.cors !== undefined) {
      const cors = corsResponseHeaders(route.cors, ctx);
      if (cors.length > 0) responseAdd = concat(responseAdd, cors.flat());
    }
    ctx.responseAdd = responseAdd;
  }

  /** Consistent-hash key (and a generated cookie to set) for a hashing cluster. */
  #hash(ctx: RequestContext, cluster: Cluster): void {
    const source = cluster.policy.loadBalancer.consistentHash!;
    const conn = ctx.req.conn;
    const key = hashKey(source, {
      header: (name) => ctx.header(name),
      query: (name) => queryParam(ctx.query, name),
      sourceIp: conn.remoteHost,
    });
    ctx.hash = key.hash;
    if (key.setCookie !== undefined) {
      ctx.responseAdd = concat(ctx.responseAdd, ["set-cookie", formatSetCookie(key.setCookie)]);
    }
  }

  #resolver(ctx: RequestContext): (name: string) => string | undefined {
    return (name) => {
      switch (name) {
        case "DOWNSTREAM_REMOTE_ADDRESS":
        case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":
          return ctx.req.conn.remoteHost;
        case "PROTOCOL":
          return ctx.head.minor === 0 ? "HTTP/1.0" : "HTTP/1.1";
        default:
          if (name.startsWith("REQ(") && name.endsWith(")")) {
            return ctx.header(name.slice(4, -1).toLowerCase()) ?? "";
          }
          return undefined;
      }
    };
  }

  /** ALLOW_ANY: forward to the requested host:port as is, with no timeout and no retry. */
  async #passthrough(ctx: RequestContext, req: IncomingRequest, res: ResponseSink): Promise<void> {
    ctx.cluster = "PassthroughCluster";
    const target = originalDestination(ctx.authority);
    const pool = this.#pipeline.pools.forAddress(target.host, target.port);
    ctx.attempts = 1;
    ctx.firstAttemptAt = Date.now();
    const result = await forward(req, res, {
      pool,
      timeoutMs: 0,
      appendForwardedFor: this.#forwardedFor,
    });
    this.#record(ctx, result);
  }

  /** A protocol upgrade (WebSocket): one attempt through the engine's tunnel, never retried. */
  async #upgrade(
    ctx: RequestContext,
    cluster: Cluster,
    req: IncomingRequest,
    res: ResponseSink,
  ): Promise<void> {
    ctx.attempts = 1;
    const pool = pickTarget(ctx, cluster, this.#pipeline.pools);
    if (pool === undefined) return sendReply(ctx, res, LocalReplies.noHealthyUpstream);
    let outcome = takeSlot(ctx, cluster.admission);
    if (typeof outcome !== "number") outcome = await outcome;
    if (outcome !== Outcome.RESPONSE) {
      return sendReply(
        ctx,
        res,
        outcome === Outcome.OVERFLOW ? LocalReplies.overflow : LocalReplies.upstreamTimeout,
      );
    }
    const ep = ctx.endpoint;
    if (ep !== undefined) ep.active++;
    ctx.firstAttemptAt = Date.now();
    try {
      const result = await forward(req, res, {
        pool,
        timeoutMs: 0,
        appendForwardedFor: this.#forwardedFor,
        authority: ctx.authority2,
        path: ctx.path2,
        removeRequestHeaders: ctx.requestRemove,
        addRequestHeaders: ctx.requestAdd,
        removeResponseHeaders: ctx.responseRemove,
        addResponseHeaders: ctx.responseAdd,
      });
      this.#record(ctx, result);
      if (ep !== undefined && result.status > 0) {
        cluster.outlier?.report(ep, result.status, Date.now());
      }
    } finally {
      endAttempt(ctx);
    }
  }

  #record(
    ctx: RequestContext,
    result: { status: number; flag: string; upstream: string; requestId: string },
  ): void {
    ctx.status = result.status;
    ctx.flags |= flagBit(result.flag);
    ctx.upstreamHost = result.upstream;
    ctx.requestId = result.requestId;
    ctx.upstreamDuration = Date.now() - ctx.firstAttemptAt;
  }
}

/**
 * The forwarding pipeline of one proxy: compiled configuration, upstream pools, outlier sweeps,
 * health checks, and listener handlers.
 */
export class Pipeline {
  /** Upstream connection pools (shared by every listener). */
  readonly pools: UpstreamPools;
  readonly #options: PipelineOptions;
  #config: CompiledConfig;
  #connect: ServeConnectOptions;
  #health: HealthChecker | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #sweepPeriod = 0;
  readonly #lastSweep = new WeakMap<Cluster, number>();
  #closed = false;

  /**
   * Compiles `snapshot` (throws `SnapshotCompileError` when it cannot be applied) and starts the
   * outlier sweeps and, when configured, the health checks.
   */
  constructor(snapshot: Snapshot, options: PipelineOptions = {}) {
    this.#options = options;
    this.#config = compileSnapshot(snapshot, {
      random: options.random,
      rootNamespace: options.rootNamespace,
    });
    this.pools = new UpstreamPools({ connect: options.connect });
    this.#connect = this.#connectOptionsFor(snapshot);
    if (options.healthCheck !== undefined) {
      this.#health = new HealthChecker({ connect: options.connect, ...options.healthCheck });
      this.#health.start(() => this.#config);
    }
    this.#scheduleSweeps();
  }

  /** The configuration in effect. */
  get config(): CompiledConfig {
    return this.#config;
  }

  /**
   * Compiles `snapshot` against the current configuration (clusters that did not change keep
   * their runtime state) and swaps it in; closes pools of clusters and endpoints that are gone.
   * Throws `SnapshotCompileError` (the current configuration stays) so the caller can NACK.
   */
  update(snapshot: Snapshot): CompiledConfig {
    const next = compileSnapshot(snapshot, {
      previous: this.#config,
      random: this.#options.random,
      rootNamespace: this.#options.rootNamespace,
    });
    this.#config = next;
    this.#connect = this.#connectOptionsFor(snapshot);
    this.pools.reconcile(next);
    this.#scheduleSweeps();
    return next;
  }

  /** What a sidecar's CONNECT handling needs from the configuration in effect. */
  connectOptions(): ServeConnectOptions {
    return this.#connect;
  }

  #connectOptionsFor(snapshot: Snapshot): ServeConnectOptions {
    return {
      config: this.#config,
      resources: snapshot.resources,
      domain: snapshot.mesh.domain,
      connect: this.#options.connect,
    };
  }

  /** A request handler for one listener. */
  handler(options: HandlerOptions): Handler {
    return new ListenerHandler(this, options, this.#options).handle;
  }

  /** Active health-check state per endpoint (empty when health checks are off). */
  healthStatus(): HealthStatus[] {
    return this.#health?.status() ?? [];
  }

  /** Runs one round of health checks now (tests, admin). */
  async checkHealth(): Promise<void> {
    await this.#health?.runOnce(this.#config);
  }

  /** Runs the outlier sweep of every cluster whose interval passed (the timer calls it too). */
  sweepOutliers(now = Date.now()): void {
    let shortest = Infinity;
    for (const cluster of this.#config.clusters()) {
      const detector = cluster.outlier;
      if (detector === undefined) continue;
      const interval = detector.settings.interval;
      shortest = Math.min(shortest, interval);
      const last = this.#lastSweep.get(cluster);
      if (last === undefined) {
        this.#lastSweep.set(cluster, now);
      } else if (now - last >= interval) {
        detector.sweep(now);
        this.#lastSweep.set(cluster, now);
      }
    }
    // Clusters built on demand may need a faster timer.
    if (shortest !== Infinity && periodFor(shortest) < this.#sweepPeriod) this.#scheduleSweeps();
  }

  #scheduleSweeps(): void {
    if (this.#closed) return;
    let shortest = Infinity;
    for (const cluster of this.#config.clusters()) {
      if (cluster.outlier !== undefined) {
        shortest = Math.min(shortest, cluster.outlier.settings.interval);
      }
    }
    const period = shortest === Infinity ? 0 : periodFor(shortest);
    if (period === this.#sweepPeriod) return;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepPeriod = period;
    if (period === 0) return;
    this.#sweepTimer = setInterval(() => this.sweepOutliers(), period);
    Deno.unrefTimer(this.#sweepTimer);
  }

  /** Stops timers and health checks and closes every upstream pool. */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#health?.close();
    this.pools.close();
    return Promise.resolve();
  }
}

/** Timer period for the shortest outlier interval: a fraction of it, within 10 ms–1 s. */
function periodFor(interval: number): number {
  return Math.max(10, Math.min(1000, Math.floor(interval / 4)));
}
