/**
 * The proxy's last good snapshot on disk (`last-snapshot.json` in its state
 * directory), so a restarted proxy serves while the control plane is away.
 * Written atomically (`mesh/fs`): a temporary file, flushed, renamed over the old one.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../fs/mod.ts";
import type { ProxyIdentity, Snapshot } from "../model/mod.ts";

/** File name of the persisted snapshot inside the state directory. */
export const LAST_SNAPSHOT_FILE = "last-snapshot.json";

/**
 * Saves a snapshot (given as its JSON text when the caller has it, which
 * saves re-encoding a large snapshot).
 */
export async function saveLastSnapshot(stateDir: string, snapshot: Snapshot | string): Promise<
  void
> {
  await Deno.mkdir(stateDir, { recursive: true });
  const text = typeof snapshot === "string" ? snapshot : JSON.stringify(snapshot);
  await writeFileAtomic(join(stateDir, LAST_SNAPSHOT_FILE), text);
}

/**
 * Loads the persisted snapshot. `undefined` when there is none; throws with
 * a message when the file is unreadable, not a snapshot, or belongs to
 * another proxy (mode, name or namespace differ).
 */
export async function loadLastSnapshot(
  stateDir: string,
  proxy: ProxyIdentity,
): Promise<Snapshot | undefined> {
  const path = join(stateDir, LAST_SNAPSHOT_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`cannot read ${path}: ${error instanceof Error ? error.message : error}`);
  }
  let value: Snapshot;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); ignoring it`);
  }
  if (
    typeof value !== "object" || value === null || typeof value.version !== "string" ||
    !Array.isArray(value.resources) || !Array.isArray(value.instances) ||
    typeof value.proxy !== "object" || value.proxy === null
  ) {
    throw new Error(`${path} is not a mesh snapshot; ignoring it`);
  }
  const saved = value.proxy;
  if (
    saved.mode !== proxy.mode || saved.name !== proxy.name || saved.namespace !== proxy.namespace
  ) {
    throw new Error(
      `${path} belongs to ${saved.mode} ${saved.namespace}/${saved.name}, not ${proxy.mode} ` +
        `${proxy.namespace}/${proxy.name}; ignoring it (use a separate --state-dir per proxy)`,
    );
  }
  return value;
}
