/**
 * An incremental parser of `text/event-stream` (the subset the control
 * plane sends: `event`, `id`, `data` fields and `:` comments).
 *
 * @module
 */

/** One server-sent event. */
export interface ServerEvent {
  /** `message` when the block named none. */
  event: string;
  id?: string;
  data: string;
}

/** Splits a stream of text chunks into events. */
export class SseParser {
  #buffer = "";
  #scanned = 0;

  /** Adds a chunk; returns the events it completed. */
  push(chunk: string): ServerEvent[] {
    this.#buffer += chunk.includes("\r") ? chunk.replace(/\r\n?/g, "\n") : chunk;
    const events: ServerEvent[] = [];
    let start = 0;
    while (true) {
      const end = this.#buffer.indexOf("\n\n", Math.max(start, this.#scanned - 1));
      if (end === -1) break;
      const event = parseBlock(this.#buffer.slice(start, end));
      if (event) events.push(event);
      start = end + 2;
      this.#scanned = start;
    }
    this.#buffer = this.#buffer.slice(start);
    this.#scanned = this.#buffer.length;
    return events;
  }
}

function parseBlock(block: string): ServerEvent | undefined {
  let event = "message";
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  return id === undefined ? { event, data: data.join("\n") } : { event, id, data: data.join("\n") };
}
