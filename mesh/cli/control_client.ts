/**
 * The control plane's HTTP API as its callers see it: request and response
 * types, the kind names operators type (`vs`, `destinationrules`, …), and a
 * small client the tool commands (and later the proxies' registration) use.
 *
 * The kind table is pure data shared with the control plane's API, which
 * accepts the same names in `/v1/resources/:kind`.
 *
 * @module
 */

import { type Diagnostic, type KindName, KINDS, type Resource } from "../config/mod.ts";
import type {
  ProxiesResponse,
  RegisterResponse,
  Registration,
  RegistryResponse,
  WaitResponse,
} from "../model/api.ts";
import { CliError, type FlagSpec, type ParsedArgs, UsageError } from "./args.ts";

/** Where the tool commands look for the control plane unless told otherwise. */
export const DEFAULT_CONTROL_URL = "http://127.0.0.1:15010";

/** A diagnostic as the API returns it: the fields plus the line `mesh validate` prints. */
export interface ApiDiagnostic extends Partial<Diagnostic> {
  /** The finding formatted exactly as `mesh validate` prints it. */
  text: string;
}

/** Every non-2xx response body. */
export interface ApiErrorBody {
  error: string;
  details?: ApiDiagnostic[];
}

/** One file of an apply or delete request. */
export interface ApiFile {
  /** The file name as the user named it; diagnostics refer to it. */
  name: string;
  yaml: string;
}

/** Server-managed metadata every stored resource carries. */
export interface StoredMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid: string;
  /** Store-wide revision of the last change to this resource (decimal string). */
  resourceVersion: string;
  /** Bumped when the spec changes. */
  generation: number;
  /** RFC 3339, seconds precision. */
  creationTimestamp: string;
  [field: string]: unknown;
}

/** A resource as the control plane stores and returns it. */
export interface StoredResource extends Resource {
  metadata: StoredMeta;
}

/** What happened to one resource in an apply or delete. */
export type ResourceAction = "created" | "configured" | "unchanged" | "deleted";

/** One line of an apply or delete result. */
export interface ResourceResult {
  kind: KindName;
  namespace: string;
  name: string;
  action: ResourceAction;
  resourceVersion: string;
  generation: number;
  /** kubectl style: `virtualservice.networking.istio.io/reviews created`. */
  message: string;
}

/** Body of a successful `POST /v1/apply`. */
export interface ApplyResponse {
  /** Store revision after the apply. */
  revision: string;
  results: ResourceResult[];
  warnings: ApiDiagnostic[];
}

/** A resource named for deletion. */
export interface ResourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

/** Body of `POST /v1/delete` (200, or 404 when some were missing). */
export interface DeleteResponse {
  revision: string;
  results: ResourceResult[];
  /** `virtualservice "x" not found in namespace default`, one per missing resource. */
  notFound: string[];
}

/** Body of `GET /v1/resources/:kind`. */
export interface ListResponse {
  revision: string;
  items: StoredResource[];
}

// The registry and discovery wire types live in mesh/model (the proxies' discovery client
// uses them too); re-exported here so callers keep one import.
export type {
  AckRequest,
  AckResponse,
  DiscoveryHello,
  DiscoveryRequest,
  Instance,
  InstanceSource,
  ProxiesResponse,
  ProxyStatus,
  ProxySyncStatus,
  RegisterResponse,
  Registration,
  RegistryResponse,
  SnapshotFrame,
  WaitResponse,
} from "../model/api.ts";

// ---------------------------------------------------------------- kinds

/** Names of one kind as operators type them. */
export interface KindInfo {
  kind: KindName;
  /** API group, e.g. `networking.istio.io`. */
  group: string;
  /** Lower-case plural, e.g. `virtualservices`. */
  plural: string;
  /** Istio's short name, e.g. `vs`. */
  short?: string;
}

const PLURALS: Record<KindName, [plural: string, short?: string]> = {
  VirtualService: ["virtualservices", "vs"],
  DestinationRule: ["destinationrules", "dr"],
  ServiceEntry: ["serviceentries", "se"],
  Gateway: ["gateways", "gw"],
  Sidecar: ["sidecars"],
  WorkloadEntry: ["workloadentries", "we"],
  PeerAuthentication: ["peerauthentications", "pa"],
  AuthorizationPolicy: ["authorizationpolicies", "ap"],
};

/** Every kind with its names, in a stable order. */
export const KIND_INFO: readonly KindInfo[] = (Object.keys(PLURALS) as KindName[]).map((kind) => ({
  kind,
  group: KINDS[kind].group,
  plural: PLURALS[kind][0],
  short: PLURALS[kind][1],
}));

const BY_NAME = new Map<string, KindInfo>();
for (const info of KIND_INFO) {
  const names = [info.kind.toLowerCase(), info.plural, ...(info.short ? [info.short] : [])];
  for (const name of names) {
    BY_NAME.set(name, info);
    BY_NAME.set(`${name}.${info.group}`, info);
  }
}

/**
 * Resolves what an operator typed (`vs`, `VirtualService`, `virtualservices`,
 * `virtualservice.networking.istio.io`, any case) to a kind.
 */
export function resolveKind(text: string): KindInfo | undefined {
  return BY_NAME.get(text.toLowerCase());
}

/** The message for a kind that does not resolve, listing what does. */
export function unknownKindMessage(text: string): string {
  const known = KIND_INFO.map((k) => k.short ? `${k.kind} (${k.short})` : k.kind).join(", ");
  return `unknown resource kind ${JSON.stringify(text)}; use one of ${known}`;
}

/** kubectl's qualified resource name: `virtualservice.networking.istio.io`. */
export function qualifiedKind(kind: KindName): string {
  return `${kind.toLowerCase()}.${KINDS[kind].group}`;
}

/** The not-found message every surface uses: `virtualservice "x" not found in namespace default`. */
export function notFoundMessage(kind: KindName, name: string, namespace: string): string {
  return `${kind.toLowerCase()} ${JSON.stringify(name)} not found in namespace ${namespace}`;
}

// ---------------------------------------------------------------- client

/** A failed call to the control plane; `status` 0 means it could not be reached. */
export class ControlError extends CliError {
  override name = "ControlError";
  constructor(
    message: string,
    readonly status: number,
    readonly body?: ApiErrorBody,
  ) {
    super(message);
  }
}

/** Options of {@link ControlClient}. */
export interface ControlClientOptions {
  /** Bearer token sent with every call. */
  token?: string;
  /** Per-call timeout in milliseconds (default 30000). */
  timeoutMs?: number;
}

/** The `--control` and `--token-file` flags every tool command shares. */
export const CONTROL_FLAGS: readonly FlagSpec[] = [
  {
    name: "control",
    kind: "string",
    value: "URL",
    default: DEFAULT_CONTROL_URL,
    description: "the control plane's API",
  },
  {
    name: "token-file",
    kind: "string",
    value: "FILE",
    description: "file holding the bearer token the control plane requires",
  },
];

/** A JSON-over-HTTP client of the control plane's API. */
export class ControlClient {
  readonly url: string;
  readonly #token?: string;
  readonly #timeoutMs: number;

  constructor(url: string, options: ControlClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(
        `--control ${JSON.stringify(url)} is not a URL; use e.g. ${DEFAULT_CONTROL_URL}`,
      );
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new UsageError(`--control ${url}: use an http:// or https:// URL`);
    }
    this.url = url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A client from a command's `--control` and `--token-file` flags. */
  static async fromArgs(
    args: ParsedArgs,
    options: { timeoutMs?: number } = {},
  ): Promise<ControlClient> {
    const url = args.values.get("control") ?? DEFAULT_CONTROL_URL;
    const tokenFile = args.values.get("token-file");
    const token = tokenFile ? await readToken(tokenFile) : undefined;
    return new ControlClient(url, { token, timeoutMs: options.timeoutMs });
  }

  /** Sends one request; JSON bodies for objects, text as is. Throws {@link ControlError}. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let payload: string | undefined;
    if (typeof body === "string") {
      payload = body;
      headers["content-type"] = "application/yaml";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ControlError(
        `cannot reach the control plane at ${this.url}: ${reason}; ` +
          "start it with 'mesh control' or set --control",
        0,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new ControlError(
        `${this.url} answered ${method} ${path} with ${response.status} and a body that is not ` +
          "JSON; is --control pointing at a mesh control plane?",
        response.status,
      );
    }
    if (!response.ok) {
      const errorBody = json as ApiErrorBody;
      const message = typeof errorBody.error === "string"
        ? errorBody.error
        : `${method} ${path} failed with status ${response.status}`;
      throw new ControlError(message, response.status, errorBody);
    }
    return json as T;
  }

  /** `POST /v1/apply`: all-or-nothing. */
  apply(files: ApiFile[]): Promise<ApplyResponse> {
    return this.request("POST", "/v1/apply", { files });
  }

  /** `POST /v1/delete` by file contents or by reference. */
  delete(
    request: { files: ApiFile[] } | { items: ResourceRef[] },
    options: { ignoreNotFound?: boolean } = {},
  ): Promise<DeleteResponse> {
    const query = options.ignoreNotFound ? "?ignoreNotFound=true" : "";
    return this.request("POST", `/v1/delete${query}`, request);
  }

  /** `GET /v1/resources/:kind`, optionally in one namespace. */
  list(kind: string, namespace?: string): Promise<ListResponse> {
    const query = namespace ? `?namespace=${encodeURIComponent(namespace)}` : "";
    return this.request("GET", `/v1/resources/${encodeURIComponent(kind)}${query}`);
  }

  /** `GET /v1/resources/:kind/:namespace/:name`. */
  getResource(kind: string, namespace: string, name: string): Promise<StoredResource> {
    const path = [kind, namespace, name].map(encodeURIComponent).join("/");
    return this.request("GET", `/v1/resources/${path}`);
  }

  /** `POST /v1/registry/register`. */
  register(registration: Registration): Promise<RegisterResponse> {
    return this.request("POST", "/v1/registry/register", registration);
  }

  /** `POST /v1/registry/heartbeat`; a 404 means "register again". */
  heartbeat(id: string): Promise<RegisterResponse> {
    return this.request("POST", "/v1/registry/heartbeat", { id });
  }

  /** `POST /v1/registry/deregister`. */
  deregister(id: string): Promise<{ removed: boolean }> {
    return this.request("POST", "/v1/registry/deregister", { id });
  }

  /** `GET /v1/proxies`: every connected proxy and its sync status. */
  proxies(): Promise<ProxiesResponse> {
    return this.request("GET", "/v1/proxies");
  }

  /**
   * `GET /v1/wait`: resolves once every connected proxy serves config-store
   * `revision` (or a later one), or after `timeoutMs` with `synced: false`.
   * Construct the client with a `timeoutMs` longer than the wait.
   */
  wait(revision: string, timeoutMs: number): Promise<WaitResponse> {
    const query = `revision=${encodeURIComponent(revision)}&timeout=${Math.ceil(timeoutMs)}ms`;
    return this.request("GET", `/v1/wait?${query}`);
  }

  /** `GET /v1/registry`. */
  registry(filter: { service?: string; namespace?: string } = {}): Promise<RegistryResponse> {
    const query = new URLSearchParams();
    if (filter.service) query.set("service", filter.service);
    if (filter.namespace) query.set("namespace", filter.namespace);
    const text = query.toString();
    return this.request("GET", `/v1/registry${text ? `?${text}` : ""}`);
  }
}

/** Reads a bearer token file (surrounding whitespace trimmed). */
export async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new CliError(`cannot read the token file ${path}: ${reason}; check --token-file`);
  }
  const token = text.trim();
  if (token === "") throw new CliError(`the token file ${path} is empty; put the token in it`);
  return token;
}
