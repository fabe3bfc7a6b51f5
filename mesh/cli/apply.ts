import { join } from "node:path";
import { type CliIo, type Command, noPositionals, UsageError } from "./command.ts";
import { CliError } from "./args.ts";
import { formatDuration, parseDuration } from "../config/mod.ts";
import type { ProxyStatus } from "../model/mod.ts";
import { type ApiFile, CONTROL_FLAGS, ControlClient, ControlError } from "./control_client.ts";

/** Default of `apply --timeout`. */
const DEFAULT_WAIT_TIMEOUT = "30s";

/**
 * Reads what `-f` names: files, directories (recursively `*.yaml`, `*.yml`,
 * `*.json`, sorted) and `-` for standard input (named `<stdin>`, as
 * `mesh validate` names it). Fails on the first path that cannot be read.
 */
export async function readInputFiles(paths: readonly string[], io: CliIo): Promise<ApiFile[]> {
  const files: ApiFile[] = [];
  for (const path of paths) {
    if (path === "-") {
      files.push({ name: "<stdin>", yaml: await io.readStdin() });
      continue;
    }
    try {
      await collect(path, files);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new CliError(`${path}: no such file or directory; check the path given to -f`);
      }
      throw new CliError(`${path}: cannot read: ${error instanceof Error ? error.message : error}`);
    }
  }
  return files;
}

async function collect(path: string, out: ApiFile[]): Promise<void> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) {
    out.push({ name: path, yaml: await Deno.readTextFile(path) });
    return;
  }
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(path)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory) await collect(child, out);
    else if (/\.(ya?ml|json)$/i.test(entry.name)) {
      out.push({ name: child, yaml: await Deno.readTextFile(child) });
    }
  }
}

/** Prints an API error's details (one `mesh validate` line each) and rethrows it as a CLI error. */
export function reportControlError(error: unknown, io: CliIo): never {
  if (error instanceof ControlError && error.body?.details?.length) {
    io.err(error.body.details.map((d) => d.text).join("\n") + "\n");
  }
  throw error;
}

/** The `-f` flag shared by apply and delete. */
export const FILENAME_FLAG = {
  name: "filename",
  short: "f",
  kind: "list",
  value: "PATH",
  description: "a file, a directory (recursively *.yaml, *.yml, *.json) or - for stdin; repeats",
} as const;

/**
 * `mesh apply -f PATH...`: sends every resource to the control plane in one
 * all-or-nothing request. Prints `kind.group/name created|configured|unchanged`
 * per resource; on any error prints every diagnostic (as `mesh validate`
 * does) and exits 1 with nothing applied.
 *
 * With `--wait` it then waits (up to `--timeout`, default 30s) until every
 * connected proxy has ACKed a snapshot built from the store revision the
 * apply produced or a later one, and fails naming the proxies that did not
 * (with their NACK errors). The configuration stays stored either way.
 */
export const applyCommand: Command = {
  name: "apply",
  summary: "store Istio resources in the control plane (all or nothing)",
  usage: "-f PATH... [--wait [--timeout 30s]] [--control URL] [--token-file FILE]",
  flags: [
    FILENAME_FLAG,
    {
      name: "wait",
      kind: "boolean",
      description: "return once every connected proxy serves the new configuration",
    },
    {
      name: "timeout",
      kind: "string",
      value: "DURATION",
      default: DEFAULT_WAIT_TIMEOUT,
      description: "with --wait: how long to wait for the proxies before failing",
    },
    ...CONTROL_FLAGS,
  ],
  async run(args, io) {
    noPositionals(args, "apply");
    const paths = args.lists.get("filename") ?? [];
    if (paths.length === 0) {
      throw new UsageError("no input; name files or directories with -f PATH (or -f - for stdin)");
    }
    const wait = args.values.get("wait") === "true";
    const timeoutText = args.values.get("timeout") ?? DEFAULT_WAIT_TIMEOUT;
    const timeoutMs = parseDuration(timeoutText);
    if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs > 600_000) {
      throw new UsageError(`--timeout ${timeoutText}: give a duration up to 10m, e.g. 30s`);
    }
    // The wait call itself must outlive the server-side wait.
    const client = await ControlClient.fromArgs(args, {
      timeoutMs: wait ? Math.max(30_000, timeoutMs + 10_000) : undefined,
    });
    const files = await readInputFiles(paths, io);
    const response = await client.apply(files).catch((error) => reportControlError(error, io));
    if (response.warnings.length > 0) {
      io.err(response.warnings.map((d) => d.text).join("\n") + "\n");
    }
    io.out(response.results.map((r) => r.message).join("\n") + "\n");
    if (wait) {
      const result = await client.wait(response.revision, timeoutMs);
      if (!result.synced) {
        throw new CliError(
          `stored at revision ${response.revision}, but ${result.pending.length} of ` +
            `${result.connected} connected ${result.connected === 1 ? "proxy" : "proxies"} ` +
            `did not acknowledge it within ${formatDuration(timeoutMs)}: ` +
            result.pending.map(describePending).join("; ") +
            ". Check them with 'mesh proxy-status'",
        );
      }
      io.err(
        result.connected === 0
          ? `revision ${response.revision} stored; no proxies are connected\n`
          : `revision ${response.revision} is served by all connected proxies ` +
            `(${result.connected === 1 ? "1 proxy" : `${result.connected} proxies`})\n`,
      );
    }
    return 0;
  },
};

function describePending(proxy: ProxyStatus): string {
  const what = `${proxy.id} (${proxy.mode} ${proxy.namespace}/${proxy.name})`;
  if (proxy.status === "NACKED") return `${what} rejected it: ${proxy.error ?? "no reason given"}`;
  return `${what} is ${proxy.status}`;
}
