/**
 * Writing the proxy's own answers (SEMANTICS §10) through the engine: a {@linkcode LocalReply}
 * from `flags.ts`, or an arbitrary status/body such as a direct response, with the request's
 * flags and status recorded for observers. Bodies and header lists of the fixed replies are
 * encoded once.
 *
 * @module
 */

import type { ResponseSink } from "../http/mod.ts";
import type { LocalReply } from "./flags.ts";
import type { RequestContext } from "./request_context.ts";

interface Encoded {
  body: Uint8Array;
  headers: string[];
}

const encoder = new TextEncoder();
const cache = new WeakMap<LocalReply, Encoded>();

function encoded(reply: LocalReply): Encoded {
  let e = cache.get(reply);
  if (e === undefined) {
    const headers: string[] = reply.body ? ["content-type", "text/plain"] : [];
    for (const [name, value] of reply.headers) headers.push(name, value);
    e = { body: encoder.encode(reply.body), headers };
    cache.set(reply, e);
  }
  return e;
}

/**
 * Answers with `reply` (unless the response already started, then the connection is aborted),
 * adding its flag to the request's; `extra` headers (flat `[name, value, ...]`) go along.
 */
export async function sendReply(
  ctx: RequestContext,
  res: ResponseSink,
  reply: LocalReply,
  extra?: readonly string[],
): Promise<void> {
  ctx.flags |= reply.flag;
  const e = encoded(reply);
  await respond(ctx, res, {
    status: reply.status,
    headers: extra === undefined || extra.length === 0 ? e.headers : [...e.headers, ...extra],
    body: e.body,
  });
}

/** Writes a complete response, recording its status; aborts when a response already started. */
export async function respond(
  ctx: RequestContext,
  res: ResponseSink,
  answer: { status: number; headers: readonly string[]; body?: Uint8Array },
): Promise<void> {
  if (res.started) {
    res.abort();
    return;
  }
  ctx.status = answer.status;
  try {
    await res.respond(answer.status, answer.headers, answer.body);
    ctx.responseBytes = res.bodyBytes;
  } catch {
    // the client went away
    res.abort();
  }
}
