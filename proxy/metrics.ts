/**
 * Istio's standard request metrics for one proxy (SEMANTICS §11), rendered in Prometheus' text
 * format for the admin server's `/stats/prometheus`: `istio_requests_total`,
 * `istio_request_duration_milliseconds`, `istio_request_bytes` and `istio_response_bytes`.
 *
 * The client side (sidecar outbound, gateways) reports `reporter="source"` from the pipeline's
 * per-request records; the sidecar's inbound listener reports `reporter="destination"`. Series are
 * found by a short key per request; their label sets are built once per series.
 *
 * @module
 */

import type { ProxyIdentity } from "../mesh/model/mod.ts";
import { type Endpoint, formatFlags, type RequestRecord } from "../mesh/pipeline/mod.ts";
import { workloadName } from "./identity.ts";

/** Istio's default histogram buckets for durations (ms). */
const DURATION_BUCKETS = [
  0.5,
  1,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
  30000,
  60000,
  300000,
  600000,
  1800000,
  3600000,
];
/** Istio's default histogram buckets for sizes (bytes). */
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

interface Series {
  /** Rendered labels, without braces. */
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

/** What the inbound listener knows about one request it served. */
export interface InboundObservation {
  status: number;
  /** Response flag name or `-`. */
  flag: string;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

/** Options of {@linkcode ProxyMetrics}. */
export interface ProxyMetricsOptions {
  /** DNS domain, for principals (default `cluster.local`). */
  domain?: string;
}

/** The request metrics of one proxy. */
export class ProxyMetrics {
  readonly #identity: ProxyIdentity;
  readonly #domain: string;
  /** Series by their rendered labels. */
  readonly #series = new Map<string, Series>();
  /** Series by a cheap per-request key (several keys may share a series). */
  readonly #byKey = new Map<string, Series>();
  readonly #sourceLabels: string;
  readonly #selfAsDestination: string;

  /** Metrics reported by the proxy with `identity`. */
  constructor(identity: ProxyIdentity, options: ProxyMetricsOptions = {}) {
    this.#identity = identity;
    this.#domain = options.domain ?? "cluster.local";
    this.#sourceLabels = this.#peerLabels("source", identity.labels, {
      workload: workloadName(identity),
      namespace: identity.namespace,
      serviceAccount: identity.serviceAccount,
      fallbackName: identity.name,
    });
    this.#selfAsDestination = this.#peerLabels("destination", identity.labels, {
      workload: workloadName(identity),
      namespace: identity.namespace,
      serviceAccount: identity.serviceAccount,
      fallbackName: identity.name,
    });
  }

  /** Records one request the pipeline finished (client side: `reporter="source"`). */
  observe(record: RequestRecord): void {
    const endpoint = record.endpoint;
    const flags = formatFlags(record.flags);
    const cluster = record.cluster;
    // Series are keyed by what the configuration bounds: the endpoint of a known cluster, the
    // requested host only for pass-through traffic (the sidecar's own app chose it). A request
    // that reached no cluster (NR, REGISTRY_ONLY, a gateway's unknown host) is "unknown": an
    // outside client's random Host headers must not grow the series map.
    const target = cluster.startsWith("outbound|")
      ? endpoint?.key ?? ""
      : cluster === ""
      ? ""
      : record.authority;
    const key = `s|${cluster}|${target}|${record.status}|${flags}`;
    let series = this.#byKey.get(key);
    if (series === undefined) {
      series = this.#seriesFor(this.#clientLabels(record, endpoint, flags));
      this.#byKey.set(key, series);
    }
    recordOne(series, record.duration, record.requestBytes, record.responseBytes);
  }

  /** Records one request the sidecar's inbound listener served (`reporter="destination"`). */
  observeInbound(o: InboundObservation): void {
    const key = `d|${o.status}|${o.flag}`;
    let series = this.#byKey.get(key);
    if (series === undefined) {
      const id = this.#identity;
      const host = `${id.name}.${id.namespace}.svc.${this.#domain}`;
      series = this.#seriesFor(
        `reporter="destination",${unknownPeer("source")},${this.#selfAsDestination},` +
          `destination_service="${esc(host)}",destination_service_name="${esc(id.name)}",` +
          `destination_service_namespace="${esc(id.namespace)}",request_protocol="http",` +
          `response_code="${o.status}",response_flags="${esc(o.flag)}",` +
          `connection_security_policy="none"`,
      );
      this.#byKey.set(key, series);
    }
    recordOne(series, o.durationMs, o.requestBytes, o.responseBytes);
  }

  /** Every series in Prometheus' text exposition format. */
  render(): string {
    const all = [...this.#series.values()].sort((a, b) => a.labels < b.labels ? -1 : 1);
    const out: string[] = [];
    out.push("# TYPE istio_requests_total counter");
    for (const s of all) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    histogram(out, "istio_request_duration_milliseconds", all, (s) => s.duration);
    histogram(out, "istio_request_bytes", all, (s) => s.requestBytes);
    histogram(out, "istio_response_bytes", all, (s) => s.responseBytes);
    return out.join("\n") + "\n";
  }

  #seriesFor(labels: string): Series {
    let series = this.#series.get(labels);
    if (series === undefined) {
      series = newSeries(labels);
      this.#series.set(labels, series);
    }
    return series;
  }

  #clientLabels(record: RequestRecord, endpoint: Endpoint | undefined, flags: string): string {
    const cluster = record.cluster;
    let host = "unknown";
    let serviceName = "unknown";
    let serviceNamespace = "unknown";
    if (cluster.startsWith("outbound|")) {
      host = cluster.slice(cluster.lastIndexOf("|") + 1);
      const parts = host.split(".");
      serviceName = parts[0];
      if (parts.length >= 3 && parts[2] === "svc") serviceNamespace = parts[1];
    } else if (cluster !== "" && record.authority !== "") {
      host = hostOf(record.authority);
      serviceName = host;
    }
    const destination = endpoint !== undefined
      ? this.#peerLabels("destination", endpoint.labels, {
        workload: undefined,
        namespace: serviceNamespace === "unknown" ? undefined : serviceNamespace,
        serviceAccount: endpoint.serviceAccount || undefined,
        fallbackName: serviceName,
      })
      : unknownPeer("destination");
    return `reporter="source",${this.#sourceLabels},${destination},` +
      `destination_service="${esc(host)}",destination_service_name="${esc(serviceName)}",` +
      `destination_service_namespace="${esc(serviceNamespace)}",request_protocol="http",` +
      `response_code="${record.status}",response_flags="${esc(flags)}",` +
      `connection_security_policy="unknown"`;
  }

  #peerLabels(
    side: "source" | "destination",
    labels: Readonly<Record<string, string>>,
    peer: {
      workload: string | undefined;
      namespace: string | undefined;
      serviceAccount: string | undefined;
      fallbackName: string;
    },
  ): string {
    const app = labels.app;
    const version = labels.version;
    const workload = peer.workload ?? (app ? (version ? `${app}-${version}` : app) : "unknown");
    const principal = peer.serviceAccount && peer.namespace
      ? `spiffe://${this.#domain}/ns/${peer.namespace}/sa/${peer.serviceAccount}`
      : "unknown";
    const canonical = labels["service.istio.io/canonical-name"] ?? app ?? peer.fallbackName;
    const revision = labels["service.istio.io/canonical-revision"] ?? version ?? "latest";
    return `${side}_workload="${esc(workload)}",` +
      `${side}_workload_namespace="${esc(peer.namespace ?? "unknown")}",` +
      `${side}_principal="${esc(principal)}",${side}_app="${esc(app ?? "unknown")}",` +
      `${side}_version="${esc(version ?? "unknown")}",` +
      `${side}_canonical_service="${esc(canonical)}",` +
      `${side}_canonical_revision="${esc(revision)}",${side}_cluster="unknown"`;
  }
}

function newSeries(labels: string): Series {
  return {
    labels,
    requests: 0,
    duration: new Histogram(DURATION_BUCKETS),
    requestBytes: new Histogram(SIZE_BUCKETS),
    responseBytes: new Histogram(SIZE_BUCKETS),
  };
}

function recordOne(series: Series, duration: number, requestBytes: number, responseBytes: number) {
  series.requests++;
  series.duration.observe(duration);
  series.requestBytes.observe(requestBytes);
  series.responseBytes.observe(responseBytes);
}

function unknownPeer(side: "source" | "destination"): string {
  return `${side}_workload="unknown",${side}_workload_namespace="unknown",` +
    `${side}_principal="unknown",${side}_app="unknown",${side}_version="unknown",` +
    `${side}_canonical_service="unknown",${side}_canonical_revision="latest",` +
    `${side}_cluster="unknown"`;
}

function histogram(
  out: string[],
  name: string,
  all: readonly Series[],
  pick: (s: Series) => Histogram,
): void {
  out.push(`# TYPE ${name} histogram`);
  for (const s of all) {
    const h = pick(s);
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i];
      out.push(`${name}_bucket{${s.labels},le="${h.bounds[i]}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.count}`);
    out.push(`${name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${name}_count{${s.labels}} ${h.count}`);
  }
}

function hostOf(authority: string): string {
  if (authority.startsWith("[")) return authority.slice(0, authority.indexOf("]") + 1);
  const colon = authority.lastIndexOf(":");
  return colon >= 0 ? authority.slice(0, colon) : authority;
}

function esc(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}
