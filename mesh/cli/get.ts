import { stringify } from "yaml";
import type { KindName } from "../config/mod.ts";
import { type Command, UsageError } from "./command.ts";
import { CliError } from "./args.ts";
import {
  CONTROL_FLAGS,
  ControlClient,
  ControlError,
  notFoundMessage,
  resolveKind,
  type StoredResource,
  unknownKindMessage,
} from "./control_client.ts";

type Spec = Record<string, unknown>;

/** Kind-specific columns, as `kubectl get` shows them for Istio's CRDs. */
const COLUMNS: Record<KindName, [header: string, value: (spec: Spec) => string][]> = {
  VirtualService: [
    ["GATEWAYS", (s) => list(s.gateways)],
    ["HOSTS", (s) => list(s.hosts)],
  ],
  DestinationRule: [["HOST", (s) => text(s.host)]],
  ServiceEntry: [
    ["HOSTS", (s) => list(s.hosts)],
    ["LOCATION", (s) => text(s.location)],
    ["RESOLUTION", (s) => text(s.resolution)],
  ],
  Gateway: [],
  Sidecar: [],
  WorkloadEntry: [["ADDRESS", (s) => text(s.address)]],
  PeerAuthentication: [["MODE", (s) => text((s.mtls as Spec | undefined)?.mode)]],
  AuthorizationPolicy: [["ACTION", (s) => text(s.action)]],
};

function list(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? `[${value.join(",")}]` : "";
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/**
 * Age as kubectl prints it: `45s`, `5m30s`, `45m`, `5h30m`, `20h`, `3d5h`,
 * `45d`, `2y30d`.
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (d < 2) return `${h}h`;
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
}

/** Renders rows as space-aligned columns (three spaces apart, as kubectl), no trailing spaces. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] + 3)).join("")
      .trimEnd()
  ).join("\n") + "\n";
}

/** The table `mesh get KIND` prints: NAMESPACE, NAME, kind columns, AGE. */
export function resourceTable(
  kind: KindName,
  items: readonly StoredResource[],
  now: number,
): string {
  const columns = COLUMNS[kind];
  const rows: string[][] = [["NAMESPACE", "NAME", ...columns.map(([h]) => h), "AGE"]];
  for (const item of items) {
    const created = Date.parse(item.metadata.creationTimestamp);
    rows.push([
      item.metadata.namespace,
      item.metadata.name,
      ...columns.map(([, value]) => value(item.spec)),
      Number.isNaN(created) ? "<unknown>" : formatAge(now - created),
    ]);
  }
  return formatTable(rows);
}

/**
 * `mesh get KIND [NAME] [-n NS] [-o yaml|json]`: lists resources (all
 * namespaces unless `-n`) or shows one (namespace `-n`, default `default`).
 */
export const getCommand: Command = {
  name: "get",
  summary: "show resources stored in the control plane",
  usage: "KIND [NAME] [-n NS] [-o yaml|json] [--control URL] [--token-file FILE]",
  flags: [
    {
      name: "namespace",
      short: "n",
      kind: "string",
      value: "NS",
      description: "namespace (lists: only this one; one resource: default 'default')",
    },
    { name: "output", short: "o", kind: "string", value: "FORMAT", description: "yaml or json" },
    ...CONTROL_FLAGS,
  ],
  async run(args, io) {
    const [kindText, name, extra] = args.positionals;
    if (kindText === undefined) {
      throw new UsageError("name a kind, e.g. mesh get virtualservices (or vs, dr, se, gw, ...)");
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const info = resolveKind(kindText);
    if (!info) throw new UsageError(unknownKindMessage(kindText));
    const output = args.values.get("output");
    if (output !== undefined && output !== "yaml" && output !== "json") {
      throw new UsageError(`-o ${output}: use -o yaml or -o json (or no -o for a table)`);
    }
    const namespace = args.values.get("namespace");
    const client = await ControlClient.fromArgs(args);

    let items: StoredResource[];
    if (name !== undefined) {
      const ns = namespace ?? "default";
      try {
        items = [await client.getResource(info.kind, ns, name)];
      } catch (error) {
        if (error instanceof ControlError && error.status === 404) {
          throw new CliError(notFoundMessage(info.kind, name, ns));
        }
        throw error;
      }
    } else {
      items = (await client.list(info.kind, namespace)).items;
    }

    if (output !== undefined) {
      const value = name !== undefined ? items[0] : { apiVersion: "v1", kind: "List", items };
      io.out(output === "json" ? JSON.stringify(value, null, 2) + "\n" : stringify(value));
      return 0;
    }
    if (items.length === 0) {
      io.err(`No ${info.plural} found${namespace ? ` in namespace ${namespace}` : ""}.\n`);
      return 0;
    }
    io.out(resourceTable(info.kind, items, Date.now()));
    return 0;
  },
};
