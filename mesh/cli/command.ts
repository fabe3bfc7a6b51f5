/**
 * The shape of a `mesh` command and the dispatcher that runs one.
 *
 * `main.ts` assembles the command list (tool commands from `mesh/cli`, modes
 * from `control/` and `proxy/`) and hands argv to {@link dispatch}.
 *
 * @module
 */

import {
  CliError,
  describeFlags,
  type FlagSpec,
  formatFlagHelp,
  parseArgs,
  type ParsedArgs,
  UsageError,
} from "./args.ts";

/** Where a command writes and what it reads; tests may pass their own. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Reads all of standard input (for `-f -`). */
  readStdin(): Promise<string>;
  /** Environment variables (flag twins). */
  env: Readonly<Record<string, string | undefined>>;
}

/** One `mesh` command. */
export interface Command {
  name: string;
  /** One line for `mesh help`. */
  summary: string;
  /** Synopsis after the command name, e.g. `-f PATH... [--wait]`. */
  usage: string;
  flags: FlagSpec[];
  /** Runs the command; returns the process exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** The real process's standard streams and environment. */
export function processIo(): CliIo {
  const encoder = new TextEncoder();
  return {
    out: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    err: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    readStdin: () => new Response(Deno.stdin.readable).text(),
    env: Deno.env.toObject(),
  };
}

function writeAll(stream: typeof Deno.stdout, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}

/** `mesh help` output: every command that exists, aligned. */
export function helpText(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "mesh — an Istio-compatible service mesh in one executable",
    "",
    "Usage: mesh COMMAND [FLAGS]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'mesh help COMMAND' for a command's flags.",
    "",
  ].join("\n");
}

/** `mesh help COMMAND` output. */
export function commandHelp(command: Command): string {
  const flags = command.flags.length ? `\nFlags:\n${formatFlagHelp(command.flags)}\n` : "";
  return `Usage: mesh ${command.name} ${command.usage}\n\n${command.summary}\n${flags}`;
}

/**
 * Runs the command named by `argv[0]` and returns the exit code. `help` and
 * `--help` are handled here; user errors print one paragraph, never a stack.
 */
export async function dispatch(
  argv: readonly string[],
  commands: readonly Command[],
  io: CliIo,
): Promise<number> {
  const names = commands.map((c) => c.name).join(", ");
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic === undefined) {
      io.out(helpText(commands));
      return name === undefined ? 1 : 0;
    }
    const command = commands.find((c) => c.name === topic);
    if (!command) {
      io.err(`mesh: unknown command "${topic}"; commands: help, ${names}\n`);
      return 1;
    }
    io.out(commandHelp(command));
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`mesh: unknown command "${name}"; commands: help, ${names}\n`);
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    const args = parseArgs(rest, command.flags, io.env);
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(
        `mesh ${command.name}: ${error.message}\nusage: mesh ${command.name} ${command.usage}\n`,
      );
      return 1;
    }
    if (error instanceof CliError) {
      io.err(`mesh ${command.name}: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`mesh ${command.name}: unexpected failure: ${message}\n`);
    if (io.env.MESH_DEBUG && error instanceof Error && error.stack) io.err(error.stack + "\n");
    return 1;
  }
}

/** Fails with a usage error when a command got positional arguments it does not take. */
export function noPositionals(args: ParsedArgs, command: string): void {
  if (args.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${args.positionals[0]}" for ${command}`);
  }
}

export { CliError, describeFlags, UsageError };
