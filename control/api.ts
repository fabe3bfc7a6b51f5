/**
 * The control plane's JSON-over-HTTP API: a thin layer that turns requests
 * into store and registry calls. Every error is `{error, details?}` JSON.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | POST | /v1/apply | YAML body, or JSON `{yaml, file?}` / `{files: [{name, yaml}]}`; all-or-nothing |
 * | POST | /v1/delete | YAML body, JSON `{kind, name, namespace?}`, `{items: [...]}` or `{files}` |
 * | GET | /v1/resources | every resource |
 * | GET | /v1/resources/:kind | resources of a kind (`?namespace=`) |
 * | GET | /v1/resources/:kind/:namespace/:name | one resource |
 * | POST | /v1/registry/register | register an instance |
 * | POST | /v1/registry/heartbeat | `{id}`: extend its TTL (404: register again) |
 * | POST | /v1/registry/deregister | `{id}` |
 * | GET | /v1/registry | every instance (`?service=&namespace=`) |
 * | POST | /v1/discovery | `{proxy, version?}`: a proxy's snapshot stream (`text/event-stream`) |
 * | POST | /v1/discovery/ack | `{connection, version, error?}`: ACK or NACK a snapshot |
 * | GET | /v1/proxies | connected proxies with SYNCED/STALE/NACKED status |
 * | GET | /v1/wait | `?revision=N&timeout=30s`: until every proxy serves revision N |
 * | GET | /healthz | `{status: "ok", revision}` |
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { parseDuration, parseSource } from "../mesh/config/mod.ts";
import {
  type ApiErrorBody,
  type ApiFile,
  type ApplyResponse,
  type DeleteResponse,
  type KindInfo,
  notFoundMessage,
  resolveKind,
  unknownKindMessage,
} from "../mesh/cli/mod.ts";
import { toApiDiagnostic, validateFiles } from "./input.ts";
import { RegistrationError } from "./registry/mod.ts";
import type { ControlPlane } from "./plane.ts";
import { DiscoveryError, type PushServer } from "./push.ts";
import { type DeleteRef, ReadOnlyError } from "./store/mod.ts";

/** Default request body limit: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Options of {@link createApi}. */
export interface ApiOptions {
  /** When set, every call needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest accepted request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
}

/** A request that failed before reaching the store; becomes a JSON error response. */
class HttpError extends Error {
  constructor(readonly status: 400 | 404 | 409 | 413, message: string, readonly body?: object) {
    super(message);
  }
}

/** Longest `GET /v1/wait` timeout. */
const MAX_WAIT_MS = 10 * 60_000;

/** Builds the API over a control plane's store, registry and (when given) push server. */
export function createApi(
  plane: Pick<ControlPlane, "store" | "registry" | "domain"> & { push?: PushServer },
  options: ApiOptions = {},
): Hono {
  const { store, registry } = plane;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const expected = options.token === undefined ? undefined : `Bearer ${options.token}`;
  const app = new Hono();

  app.use("*", async (c, next) => {
    if (
      expected !== undefined && !constantTimeEqual(c.req.header("authorization") ?? "", expected)
    ) {
      c.header("WWW-Authenticate", 'Bearer realm="mesh"');
      return c.json(
        errorBody(
          "unauthorized: this control plane requires a bearer token; pass --token-file FILE " +
            "(or set MESH_TOKEN_FILE) with the token it was started with",
        ),
        401,
      );
    }
    await next();
  });

  app.onError((error, c) => {
    if (error instanceof HttpError) {
      return c.json(error.body ?? errorBody(error.message), error.status);
    }
    if (error instanceof ReadOnlyError) return c.json(errorBody(error.message), 409);
    if (error instanceof DiscoveryError) {
      return c.json(
        errorBody(error.message, error.details.map((text) => ({ text }))),
        error.status,
      );
    }
    if (error instanceof RegistrationError) {
      return c.json(errorBody(error.message, error.details.map((text) => ({ text }))), 400);
    }
    console.error(`mesh control: ${c.req.method} ${c.req.path} failed: ${error.stack ?? error}`);
    return c.json(errorBody(`internal error: ${error.message}`), 500);
  });

  app.notFound((c) =>
    c.json(
      errorBody(`no such endpoint: ${c.req.method} ${c.req.path}; the API lives under /v1/`),
      404,
    )
  );

  app.get("/healthz", (c) =>
    c.json({
      status: "ok",
      revision: String(store.revision),
      registryRevision: String(registry.revision),
    }));

  app.post("/v1/apply", async (c) => {
    const files = await readFiles(c, maxBodyBytes);
    const input = validateFiles(files, { domain: plane.domain });
    if (input.errors > 0) {
      const fileCount = files.length === 1 ? "1 file" : `${files.length} files`;
      throw new HttpError(
        400,
        "",
        errorBody(
          `${input.errors} ${input.errors === 1 ? "error" : "errors"} in ${fileCount}; ` +
            "nothing was applied",
          input.diagnostics.map(toApiDiagnostic),
        ),
      );
    }
    if (input.resources.length === 0) {
      throw new HttpError(400, "no resources in the request; nothing was applied");
    }
    const outcome = await store.apply(input.resources);
    const body: ApplyResponse = {
      revision: String(outcome.revision),
      results: outcome.results,
      warnings: input.diagnostics.map(toApiDiagnostic),
    };
    return c.json(body);
  });

  app.post("/v1/delete", async (c) => {
    const refs = await readDeleteRefs(c, maxBodyBytes);
    const outcome = await store.delete(refs);
    const ignore = c.req.query("ignoreNotFound") === "true";
    const body: DeleteResponse = {
      revision: String(outcome.revision),
      results: outcome.results,
      notFound: outcome.notFound,
    };
    if (outcome.notFound.length > 0 && !ignore) {
      return c.json({ ...errorBody(outcome.notFound.join("; ")), ...body }, 404);
    }
    return c.json(body);
  });

  app.get("/v1/resources", (c) => {
    return c.json({ revision: String(store.revision), items: store.list() });
  });

  app.get("/v1/resources/:kind", (c) => {
    const info = kindOf(c.req.param("kind"));
    const namespace = c.req.query("namespace") || undefined;
    return c.json({
      revision: String(store.revision),
      items: store.list({ kind: info.kind, namespace }),
    });
  });

  app.get("/v1/resources/:kind/:namespace/:name", (c) => {
    const info = kindOf(c.req.param("kind"));
    const { namespace, name } = c.req.param();
    const resource = store.get(info.kind, namespace, name);
    if (!resource) throw new HttpError(404, notFoundMessage(info.kind, name, namespace));
    return c.json(resource);
  });

  app.post("/v1/registry/register", async (c) => {
    const body = await readJson(c, maxBodyBytes);
    const instance = registry.register(body);
    // Membership changes are written before the answer (heartbeats stay
    // coalesced): a control plane killed right after a sidecar registered
    // must not restart without it.
    await registry.flush();
    return c.json({
      instance,
      ttlMs: registry.ttlMs,
      heartbeatIntervalMs: Math.floor(registry.ttlMs / 3),
    });
  });

  app.post("/v1/registry/heartbeat", async (c) => {
    const id = idOf(await readJson(c, maxBodyBytes));
    const instance = registry.heartbeat(id);
    if (!instance) {
      throw new HttpError(
        404,
        `instance ${id} is not registered (it expired or was removed); register it again`,
      );
    }
    return c.json({
      instance,
      ttlMs: registry.ttlMs,
      heartbeatIntervalMs: Math.floor(registry.ttlMs / 3),
    });
  });

  app.post("/v1/registry/deregister", async (c) => {
    const id = idOf(await readJson(c, maxBodyBytes));
    if (!registry.deregister(id)) throw new HttpError(404, `instance ${id} is not registered`);
    await registry.flush();
    return c.json({ removed: true });
  });

  app.get("/v1/registry", (c) => {
    const service = c.req.query("service") || undefined;
    const namespace = c.req.query("namespace") || undefined;
    return c.json({
      revision: String(registry.revision),
      instances: registry.instances({ service, namespace }),
    });
  });

  app.post("/v1/discovery", async (c) => {
    const { stream } = pushOf(plane).connect(await readJson(c, maxBodyBytes));
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  });

  app.post("/v1/discovery/ack", async (c) => {
    const status = pushOf(plane).ack(await readJson(c, maxBodyBytes));
    if (status === undefined) {
      throw new HttpError(
        404,
        "unknown discovery connection (the stream ended or was replaced); connect again",
      );
    }
    return c.json({ status });
  });

  app.get("/v1/proxies", (c) => {
    return c.json({ revision: String(store.revision), proxies: pushOf(plane).proxies() });
  });

  app.get("/v1/wait", async (c) => {
    const revisionText = c.req.query("revision") ?? "";
    if (!/^\d+$/.test(revisionText)) {
      throw new HttpError(
        400,
        "revision: give the store revision an apply returned, e.g. ?revision=7",
      );
    }
    const timeoutText = c.req.query("timeout") ?? "30s";
    const timeoutMs = parseDuration(timeoutText);
    if (timeoutMs === undefined || timeoutMs > MAX_WAIT_MS) {
      throw new HttpError(400, `timeout ${timeoutText}: give a duration up to 10m, e.g. 30s`);
    }
    // Not tied to the request's abort signal (Deno's legacy signal also fires after a
    // successful response); a caller that goes away leaves a waiter until its timeout.
    const result = await pushOf(plane).wait(Number(revisionText), { timeoutMs });
    return c.json(result);
  });

  return app;
}

function pushOf(plane: { push?: PushServer }): PushServer {
  if (!plane.push) throw new HttpError(404, "this control plane does not serve discovery");
  return plane.push;
}

function errorBody(error: string, details?: ApiErrorBody["details"]): ApiErrorBody {
  return details && details.length > 0 ? { error, details } : { error };
}

function kindOf(text: string): KindInfo {
  const info = resolveKind(text);
  if (!info) throw new HttpError(404, unknownKindMessage(text));
  return info;
}

function idOf(body: unknown): string {
  const id = (body as { id?: unknown } | null)?.id;
  if (typeof id !== "string" || id === "") {
    throw new HttpError(400, 'expected a JSON object {"id": "<instance id from register>"}');
  }
  return id;
}

/** Reads the body as text, refusing more than `limit` bytes (413) without buffering them. */
async function readBody(c: Context, limit: number): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? NaN);
  const tooLarge = () =>
    new HttpError(
      413,
      `request body larger than ${limit} bytes; split the configuration into several applies`,
    );
  if (declared > limit) throw tooLarge();
  const stream = c.req.raw.body;
  if (!stream) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "the request body is not UTF-8 text");
  }
}

function isJson(c: Context): boolean {
  return /\bjson\b/i.test(c.req.header("content-type") ?? "");
}

async function readJson(c: Context, limit: number): Promise<unknown> {
  const text = await readBody(c, limit);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The files of an apply/delete body: raw YAML, `{yaml, file?}` or `{files: [{name, yaml}]}`. */
async function readFiles(c: Context, limit: number): Promise<ApiFile[]> {
  if (!isJson(c)) {
    return [{ name: c.req.query("file") || "<request>", yaml: await readBody(c, limit) }];
  }
  const body = await readJson(c, limit) as Record<string, unknown> | null;
  return filesOf(body) ?? badShape();
}

function filesOf(body: Record<string, unknown> | null): ApiFile[] | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  if (typeof body.yaml === "string") {
    return [{ name: typeof body.file === "string" ? body.file : "<request>", yaml: body.yaml }];
  }
  if (Array.isArray(body.files)) {
    const files = body.files as { name?: unknown; yaml?: unknown }[];
    if (files.every((f) => typeof f?.yaml === "string")) {
      return files.map((f, i) => ({
        name: typeof f.name === "string" ? f.name : `<file ${i + 1}>`,
        yaml: f.yaml as string,
      }));
    }
  }
  return undefined;
}

function badShape(): never {
  throw new HttpError(
    400,
    'expected a YAML body, or JSON {"yaml": "..."} or {"files": [{"name": "...", "yaml": "..."}]}',
  );
}

/** The resources a delete names: from YAML documents (identity only) or JSON references. */
async function readDeleteRefs(c: Context, limit: number): Promise<DeleteRef[]> {
  let files: ApiFile[] | undefined;
  let items: unknown[] | undefined;
  if (!isJson(c)) {
    files = [{ name: c.req.query("file") || "<request>", yaml: await readBody(c, limit) }];
  } else {
    const body = await readJson(c, limit) as Record<string, unknown> | null;
    files = filesOf(body);
    if (!files && body && Array.isArray(body.items)) items = body.items;
    else if (!files && body && typeof body.kind === "string") items = [body];
    if (!files && !items) {
      throw new HttpError(
        400,
        'expected YAML, or JSON {"kind": "...", "name": "...", "namespace": "..."}, ' +
          '{"items": [...]} or {"files": [{"name": "...", "yaml": "..."}]}',
      );
    }
  }
  const refs: DeleteRef[] = [];
  const problems: string[] = [];
  if (files) {
    for (const file of files) {
      const parsed = parseSource(file.yaml, file.name);
      for (const d of parsed.diagnostics) {
        if (d.severity === "error") problems.push(toApiDiagnostic(d).text);
      }
      for (const doc of parsed.documents) {
        const value = doc.value as Record<string, unknown> | null;
        const meta = (value?.metadata ?? {}) as Record<string, unknown>;
        const where = `${file.name}: ${doc.label}`;
        const ref = toRef(value?.kind, meta.name, meta.namespace, where, problems);
        if (ref) refs.push(ref);
      }
    }
  } else {
    items!.forEach((item, i) => {
      const r = (item ?? {}) as Record<string, unknown>;
      const ref = toRef(r.kind, r.name, r.namespace, `items[${i}]`, problems);
      if (ref) refs.push(ref);
    });
  }
  if (problems.length > 0) {
    throw new HttpError(
      400,
      "",
      errorBody(
        `${problems.length} ${problems.length === 1 ? "problem" : "problems"}; nothing was deleted`,
        problems.map((text) => ({ text })),
      ),
    );
  }
  if (refs.length === 0) throw new HttpError(400, "no resources named; nothing was deleted");
  return refs;
}

function toRef(
  kind: unknown,
  name: unknown,
  namespace: unknown,
  where: string,
  problems: string[],
): DeleteRef | undefined {
  if (typeof kind !== "string" || typeof name !== "string" || name === "") {
    problems.push(`${where}: needs kind and metadata.name to name a resource`);
    return undefined;
  }
  const info = resolveKind(kind);
  if (!info) {
    problems.push(`${where}: ${unknownKindMessage(kind)}`);
    return undefined;
  }
  const ns = typeof namespace === "string" && namespace !== "" ? namespace : "default";
  return { kind: info.kind, namespace: ns, name };
}

/** Compares without leaking where the first difference is. */
function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i];
  return diff === 0;
}
