/**
 * Crash-safe file writes for state directories (the control plane's store and
 * registry, a proxy's last good snapshot).
 *
 * A file is replaced by writing a temporary file next to it, flushing it to
 * disk, renaming it over the old one and flushing the directory: rename is
 * atomic on POSIX file systems, so a crash at any moment leaves either the
 * old or the new content under the real name, never a mix. A crash before
 * the rename leaves a stray temporary file, which {@link removeStaleTemps}
 * clears at the next start.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

const TEMP_MARK = ".tmp-";

/** Replaces `path` with `data` atomically and durably. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const temp = join(dir, `.${basename(path)}${TEMP_MARK}${Deno.pid}-${random}`);
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    let offset = 0;
    while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  file.close();
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

/** Flushes a directory's entries (a rename inside it) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
    if (!(error instanceof Deno.errors.InvalidData || error instanceof Deno.errors.NotSupported)) {
      throw error;
    }
  } finally {
    handle.close();
  }
}

/** A file's text, or `undefined` when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Creates a directory (and parents) when missing; fails clearly when it cannot. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw error;
  }
}

/**
 * Removes temporary files {@link writeFileAtomic} left behind for `name` in
 * `dir` (a crash between creating and renaming them). Returns how many.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<number> {
  const prefix = `.${name}${TEMP_MARK}`;
  let removed = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
    await Deno.remove(join(dir, entry.name)).catch(() => {});
    removed++;
  }
  return removed;
}
