/**
 * Web Worker body for a multi-loop pass-through proxy: binds the same port
 * with SO_REUSEPORT and runs {@link runPassthroughLoop}.
 *
 * @module
 */

import { listenTcp } from "./conn.ts";
import { type PassthroughOptions, runPassthroughLoop } from "./passthrough.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

const scope = self as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as { type: string; config: PassthroughOptions };
  if (msg.type !== "start") return;
  try {
    const c = msg.config;
    const listener = listenTcp({ hostname: c.hostname, port: c.port, reusePort: true });
    runPassthroughLoop(listener, c);
    scope.postMessage({ type: "ready" });
  } catch (err) {
    scope.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
