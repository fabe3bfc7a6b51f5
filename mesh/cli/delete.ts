import { type Command, UsageError } from "./command.ts";
import { CliError } from "./args.ts";
import { FILENAME_FLAG, readInputFiles, reportControlError } from "./apply.ts";
import {
  CONTROL_FLAGS,
  ControlClient,
  ControlError,
  type DeleteResponse,
  resolveKind,
  unknownKindMessage,
} from "./control_client.ts";

/**
 * `mesh delete -f PATH...` or `mesh delete KIND NAME [-n NS]`: removes
 * resources from the control plane in one commit. Prints
 * `kind.group "name" deleted` per resource; a resource that does not exist
 * is reported and makes the exit status 1 (the others are still deleted, as
 * kubectl does) unless `--ignore-not-found`.
 */
export const deleteCommand: Command = {
  name: "delete",
  summary: "remove resources from the control plane",
  usage: "-f PATH... | KIND NAME [-n NS] [--ignore-not-found] [--control URL] [--token-file FILE]",
  flags: [
    FILENAME_FLAG,
    {
      name: "namespace",
      short: "n",
      kind: "string",
      value: "NS",
      default: "default",
      description: "namespace of KIND NAME",
    },
    {
      name: "ignore-not-found",
      kind: "boolean",
      description: "succeed when a named resource does not exist",
    },
    ...CONTROL_FLAGS,
  ],
  async run(args, io) {
    const paths = args.lists.get("filename") ?? [];
    const ignoreNotFound = args.values.get("ignore-not-found") === "true";
    let request;
    if (paths.length > 0) {
      if (args.positionals.length > 0) {
        throw new UsageError("give either -f PATH... or KIND NAME, not both");
      }
      request = { files: await readInputFiles(paths, io) };
    } else {
      const [kindText, name, extra] = args.positionals;
      if (kindText === undefined || name === undefined) {
        throw new UsageError("name what to delete: -f PATH... or KIND NAME (e.g. vs reviews)");
      }
      if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
      const info = resolveKind(kindText);
      if (!info) throw new UsageError(unknownKindMessage(kindText));
      request = { items: [{ kind: info.kind, name, namespace: args.values.get("namespace") }] };
    }
    const client = await ControlClient.fromArgs(args);
    let response: DeleteResponse;
    try {
      response = await client.delete(request, { ignoreNotFound });
    } catch (error) {
      // A 404 still carries what was deleted; print it before the not-found errors.
      if (error instanceof ControlError && error.status === 404 && error.body) {
        const partial = error.body as unknown as DeleteResponse;
        if (Array.isArray(partial.results) && Array.isArray(partial.notFound)) {
          if (partial.results.length > 0) {
            io.out(partial.results.map((r) => r.message).join("\n") + "\n");
          }
          throw new CliError(partial.notFound.join("\n"));
        }
      }
      reportControlError(error, io);
    }
    if (response.results.length > 0) {
      io.out(response.results.map((r) => r.message).join("\n") + "\n");
    }
    return 0;
  },
};
