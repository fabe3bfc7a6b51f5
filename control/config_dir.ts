/**
 * `--config-dir`: a read-only directory of Istio YAML (a Git checkout, for
 * GitOps), loaded at start and re-read when it changes. A change is taken
 * only when the whole directory validates; otherwise the previous contents
 * stay in force and the errors are logged.
 *
 * @module
 */

import { join } from "node:path";
import type { ApiFile } from "../mesh/cli/mod.ts";

/** The `*.yaml`, `*.yml` and `*.json` files under `dir`, recursively, sorted by path. */
export async function readConfigDir(dir: string): Promise<ApiFile[]> {
  const out: ApiFile[] = [];
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) out.push(...await readConfigDir(path));
    else if (/\.(ya?ml|json)$/i.test(entry.name)) {
      out.push({ name: path, yaml: await Deno.readTextFile(path) });
    }
  }
  return out;
}

/** Watches `dir` and calls `onChange` once per burst of changes (debounced). */
export class DirWatcher {
  #watcher: Deno.FsWatcher;
  #timer?: ReturnType<typeof setTimeout>;
  #done: Promise<void>;

  constructor(dir: string, onChange: () => void, options: { debounceMs?: number } = {}) {
    const debounceMs = options.debounceMs ?? 200;
    const watcher = Deno.watchFs(dir, { recursive: true });
    this.#watcher = watcher;
    this.#done = (async () => {
      try {
        for await (const _event of watcher) {
          if (this.#timer !== undefined) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            onChange();
          }, debounceMs);
        }
      } catch {
        // The watcher was closed.
      }
    })();
  }

  /** Stops watching. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#watcher.close();
    } catch {
      // Already closed.
    }
    await this.#done;
  }
}
