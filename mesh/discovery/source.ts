/**
 * What every configuration source of a proxy shares: the control-plane
 * discovery client and the static `--config` file source both deliver
 * snapshots to one `apply` callback and report a status.
 *
 * @module
 */

import type { Snapshot } from "../model/mod.ts";

/**
 * Receives each new snapshot. The proxy compiles it and swaps it in only on
 * success; throwing rejects the snapshot (the source keeps the previous one
 * and, when connected, NACKs with the error message).
 */
export type ApplySnapshot = (snapshot: Snapshot) => void | Promise<void>;

/** A source's state, for the admin server and logs. */
export interface SourceStatus {
  /** `control`: the discovery stream; `static`: a `--config` file. */
  kind: "control" | "static";
  /** Version of the snapshot applied now; absent before the first. */
  version?: string;
  /** RFC 3339 time of the last successful apply. */
  appliedAt?: string;
  /** Where the applied snapshot came from. */
  origin?: "control" | "cache" | "file";
  /** Control: a stream is open. Static: always false. */
  connected: boolean;
  /** The last problem (connection failure, rejected snapshot, invalid file), if any. */
  lastError?: string;
}

/** A proxy's configuration source. */
export interface ConfigSource {
  /** Loads what is available now (applying it) and begins following changes. */
  start(): Promise<void>;
  /** Stops following changes. */
  stop(): Promise<void>;
  /** The current state. */
  status(): SourceStatus;
}
