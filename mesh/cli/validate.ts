import { formatDiagnostic, formatSummary, validatePaths } from "../config/mod.ts";
import { type Command, noPositionals, UsageError } from "./command.ts";

/**
 * `mesh validate -f PATH...`: checks Istio configuration offline. Errors go
 * to stderr one per line, warnings prefixed `warning:`, the summary to
 * stdout. Exit 0 when there is no error (warnings allowed), 1 otherwise.
 */
export const validateCommand: Command = {
  name: "validate",
  summary: "check Istio configuration files offline (exit 1 on any error)",
  usage: "-f PATH... [--domain cluster.local]",
  flags: [
    {
      name: "filename",
      short: "f",
      kind: "list",
      value: "PATH",
      description:
        "a file, a directory (recursively *.yaml, *.yml, *.json) or - for stdin; repeats",
    },
    {
      name: "domain",
      kind: "string",
      value: "DOMAIN",
      default: "cluster.local",
      description: "DNS domain of the mesh, for service names",
    },
  ],
  async run(args, io) {
    noPositionals(args, "validate");
    const paths = args.lists.get("filename") ?? [];
    if (paths.length === 0) {
      throw new UsageError("no input; name files or directories with -f PATH (or -f - for stdin)");
    }
    const result = await validatePaths(paths, {
      domain: args.values.get("domain"),
      readStdin: () => io.readStdin(),
    });
    let errors = 0;
    let warnings = 0;
    const lines: string[] = [];
    for (const diagnostic of result.diagnostics) {
      if (diagnostic.severity === "error") errors++;
      else warnings++;
      lines.push(formatDiagnostic(diagnostic));
    }
    if (lines.length > 0) io.err(lines.join("\n") + "\n");
    io.out(
      formatSummary({ resources: result.resources.length, files: result.files, errors, warnings }) +
        "\n",
    );
    return errors > 0 ? 1 : 0;
  },
};
