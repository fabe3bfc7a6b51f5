import { VERSION } from "../version.ts";
import { type Command, noPositionals } from "./command.ts";

/** `mesh version`: prints the version, the Deno runtime and the platform. */
export const versionCommand: Command = {
  name: "version",
  summary: "print the mesh version",
  usage: "",
  flags: [],
  run(args, io) {
    noPositionals(args, "version");
    io.out(`mesh ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch})\n`);
    return Promise.resolve(0);
  },
};
