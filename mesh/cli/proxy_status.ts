import type { ProxyStatus } from "../model/mod.ts";
import { type Command, noPositionals, UsageError } from "./command.ts";
import { CONTROL_FLAGS, ControlClient } from "./control_client.ts";
import { formatAge, formatTable } from "./get.ts";

/**
 * The table `mesh proxy-status` prints (as `istioctl proxy-status`): one row
 * per connected proxy, then the full error of every NACKED one.
 */
export function proxyStatusTable(proxies: readonly ProxyStatus[], now: number): string {
  const rows: string[][] = [[
    "NAME",
    "NAMESPACE",
    "MODE",
    "STATUS",
    "VERSION",
    "ACKED",
    "LAST ACK",
    "CONNECTED",
  ]];
  const age = (time: string | undefined) => {
    const at = time === undefined ? NaN : Date.parse(time);
    return Number.isNaN(at) ? "-" : formatAge(now - at);
  };
  for (const p of proxies) {
    rows.push([
      p.id,
      p.namespace,
      p.mode,
      p.status,
      p.version || "-",
      p.ackedVersion ?? "-",
      age(p.lastAckAt),
      age(p.connectedAt),
    ]);
  }
  let text = formatTable(rows);
  const nacked = proxies.filter((p) => p.status === "NACKED");
  if (nacked.length > 0) {
    text += "\n" +
      nacked.map((p) =>
        `${p.id} rejected ${p.version}: ${(p.error ?? "no reason given").trimEnd()}\n`
      ).join("");
  }
  return text;
}

/** `mesh proxy-status [-o json]`: every connected proxy and whether it serves the latest config. */
export const proxyStatusCommand: Command = {
  name: "proxy-status",
  summary: "show the connected proxies and whether each serves the latest configuration",
  usage: "[-o json] [--control URL] [--token-file FILE]",
  flags: [
    { name: "output", short: "o", kind: "string", value: "FORMAT", description: "json" },
    ...CONTROL_FLAGS,
  ],
  async run(args, io) {
    noPositionals(args, "proxy-status");
    const output = args.values.get("output");
    if (output !== undefined && output !== "json") {
      throw new UsageError(`-o ${output}: use -o json (or no -o for a table)`);
    }
    const client = await ControlClient.fromArgs(args);
    const response = await client.proxies();
    if (output === "json") {
      io.out(JSON.stringify(response, null, 2) + "\n");
      return 0;
    }
    if (response.proxies.length === 0) {
      io.err("No proxies connected.\n");
      return 0;
    }
    io.out(proxyStatusTable(response.proxies, Date.now()));
    return 0;
  },
};
