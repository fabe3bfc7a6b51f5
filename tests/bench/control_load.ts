/**
 * Load process of the control-plane benchmark: opens N discovery streams
 * (one per simulated sidecar) to a control plane and ACKs every snapshot.
 *
 * It reads each snapshot's version from the SSE `id:` line and does not
 * parse the JSON body: real proxies parse on their own machines, and one
 * process parsing a thousand snapshots would measure this process, not the
 * control plane. Prints `ready N` once every stream has ACKed its first
 * snapshot, then runs until SIGTERM.
 *
 * Usage: `deno run -A tests/bench/control_load.ts URL PROXIES SERVICES NAMESPACES`
 *
 * @module
 */

import { SseParser } from "../../mesh/discovery/mod.ts";
import type { DiscoveryHello, ProxyIdentity } from "../../mesh/model/mod.ts";

const [url, proxiesText, servicesText, namespacesText] = Deno.args;
const proxies = Number(proxiesText);
const services = Number(servicesText);
const namespaces = Number(namespacesText);

let firstAcks = 0;
const stop = new AbortController();

/** The identity of simulated proxy `i`: service `i % services`, spread over the namespaces. */
function identity(i: number): ProxyIdentity {
  const svc = i % services;
  const namespace = `ns-${svc % namespaces}`;
  return {
    mode: "sidecar",
    name: `svc-${svc}`,
    namespace,
    labels: { app: `svc-${svc}`, version: `v${i % 2 + 1}` },
    id: `svc-${svc}-${i}.${namespace}`,
  };
}

async function ack(connection: string, version: string): Promise<void> {
  const response = await fetch(`${url}/v1/discovery/ack`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ connection, version }),
    signal: stop.signal,
  });
  await response.body?.cancel();
}

async function proxy(i: number): Promise<void> {
  const response = await fetch(`${url}/v1/discovery`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ proxy: identity(i), encoding: "gzip" }),
    signal: stop.signal,
  });
  if (!response.ok || !response.body) throw new Error(`stream ${i}: ${response.status}`);
  const parser = new SseParser();
  let connection = "";
  let first = true;
  for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
    for (const event of parser.push(text)) {
      if (event.event === "hello") {
        connection = (JSON.parse(event.data) as DiscoveryHello).connection;
      } else if (event.event === "snapshot" && event.id) {
        await ack(connection, event.id);
        if (first) {
          first = false;
          if (++firstAcks === proxies) console.log(`ready ${proxies}`);
        }
      }
    }
  }
}

Deno.addSignalListener("SIGTERM", () => {
  stop.abort();
  Deno.exit(0);
});

// Connect in waves so the listen backlog is not overrun.
const running: Promise<void>[] = [];
for (let i = 0; i < proxies; i++) {
  running.push(
    proxy(i).catch((error) => {
      if (!stop.signal.aborted) console.error(`proxy ${i}: ${error}`);
    }),
  );
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
}
await Promise.all(running);
