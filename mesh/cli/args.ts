/**
 * Command-line parsing for every `mesh` command.
 *
 * Each flag has an environment-variable twin (`--control` ⇔ `MESH_CONTROL`),
 * as DESIGN.md's CLI contract requires; the command line wins over the
 * environment. `-f` style list flags repeat (`-f a.yaml -f dir/`).
 *
 * @module
 */

/** How a flag takes its value. */
export type FlagKind = "string" | "boolean" | "list";

/** One flag a command accepts. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `control`. */
  name: string;
  /** One-letter alias without the dash, e.g. `f`. */
  short?: string;
  kind: FlagKind;
  /** Placeholder shown in help, e.g. `URL`. */
  value?: string;
  /** Value used when neither the command line nor the environment sets it. */
  default?: string;
  /** One line for `mesh help COMMAND`. */
  description: string;
}

/** The parsed command line of one command. */
export interface ParsedArgs {
  /** string and boolean flags (booleans as "true"/"false"). */
  values: Map<string, string>;
  /** list flags, in command-line order. */
  lists: Map<string, string[]>;
  positionals: string[];
  /** Everything after a bare `--` (exec mode). */
  rest: string[];
}

/** A mistake in how the command was called: printed with usage, exit 1. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A user-facing failure: printed as is, exit 1, no stack trace. */
export class CliError extends Error {
  override name = "CliError";
}

/** The environment variable twin of a flag: `token-file` → `MESH_TOKEN_FILE`. */
export function envName(flag: string): string {
  return "MESH_" + flag.toUpperCase().replaceAll("-", "_");
}

/**
 * Parses `argv` against `flags`. Unknown flags throw a {@link UsageError}
 * listing the valid ones. `env` supplies the environment twins (pass `{}` to
 * ignore the environment).
 */
export function parseArgs(
  argv: readonly string[],
  flags: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const flag of flags) {
    byName.set(flag.name, flag);
    if (flag.short) byName.set(flag.short, flag);
  }
  const values = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const positionals: string[] = [];
  let rest: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const flag = byName.get(name);
    if (!flag || (arg.startsWith("--") ? flag.name !== name : flag.short !== name)) {
      throw new UsageError(`unknown flag ${arg}; valid flags: ${describeFlags(flags)}`);
    }
    if (flag.kind === "boolean") {
      const inline = eq >= 0 ? body.slice(eq + 1) : "true";
      if (inline !== "true" && inline !== "false") {
        throw new UsageError(`flag --${flag.name} takes no value or =true/=false, got ${arg}`);
      }
      values.set(flag.name, inline);
      continue;
    }
    let value: string;
    if (eq >= 0) {
      value = body.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) {
        throw new UsageError(`flag ${arg} needs a value (${flag.value ?? "VALUE"})`);
      }
      value = argv[++i];
    }
    if (flag.kind === "list") {
      const list = lists.get(flag.name) ?? [];
      list.push(value);
      lists.set(flag.name, list);
    } else {
      values.set(flag.name, value);
    }
  }

  for (const flag of flags) {
    const fromEnv = env[envName(flag.name)];
    if (flag.kind === "list") {
      if (!lists.has(flag.name) && fromEnv) lists.set(flag.name, fromEnv.split(","));
      continue;
    }
    if (values.has(flag.name)) continue;
    if (fromEnv !== undefined && fromEnv !== "") values.set(flag.name, fromEnv);
    else if (flag.default !== undefined) values.set(flag.name, flag.default);
  }
  return { values, lists, positionals, rest };
}

/** `--control URL, -f/--filename PATH, …` for error messages. */
export function describeFlags(flags: readonly FlagSpec[]): string {
  if (flags.length === 0) return "(none)";
  return flags.map((f) => (f.short ? `-${f.short}/` : "") + `--${f.name}`).join(", ");
}

/** Help text for the flags of a command, one per line, aligned. */
export function formatFlagHelp(flags: readonly FlagSpec[]): string {
  const heads = flags.map((f) =>
    (f.short ? `-${f.short}, ` : "    ") + `--${f.name}` +
    (f.kind === "boolean" ? "" : ` ${f.value ?? "VALUE"}`)
  );
  const width = Math.max(0, ...heads.map((h) => h.length));
  return flags.map((f, i) => {
    const extra = f.default !== undefined ? ` (default ${f.default})` : "";
    return `  ${heads[i].padEnd(width)}  ${f.description}${extra} [env ${envName(f.name)}]`;
  }).join("\n");
}
