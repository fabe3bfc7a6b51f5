/**
 * Child-process plumbing for the benchmarks: start a server and wait until it is ready, run a
 * load tool with a watchdog, read memory and CPU from /proc, and kill everything that was started
 * (also on error or Ctrl-C) through one registry.
 *
 * @module
 */

import { parseProcStat, procStatusKb } from "./parse.ts";

/** A started child process that serves on a loopback port. */
export interface Server {
  /** Short name for messages. */
  name: string;
  /** The child. */
  child: Deno.ChildProcess;
  /** Its process id. */
  pid: number;
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** The last lines it wrote to stdout/stderr, for error messages. */
  log: string[];
}

const live = new Set<Deno.ChildProcess>();

/** Kills `child` (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
export async function stop(child: Deno.ChildProcess, graceMs = 2000): Promise<void> {
  if (!live.has(child)) return;
  live.delete(child);
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      resolve();
    }, graceMs);
  });
  await Promise.race([child.status, killed]);
  clearTimeout(timer);
  await child.status.catch(() => {});
}

/** Kills every child still running that this module started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stop(c)));
}

function keepTail(log: string[], text: string): void {
  for (const line of text.split("\n")) {
    if (line === "") continue;
    log.push(line);
    if (log.length > 30) log.shift();
  }
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  log: string[],
  onLine?: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        keepTail(log, line);
        onLine?.(line);
      }
    }
  } catch { /* the child was killed */ }
}

/** Options of {@linkcode startListening} and {@linkcode startPolled}. */
export interface StartOptions {
  /** Name used in messages. */
  name: string;
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
}

function spawn(cmd: string[]): { child: Deno.ChildProcess; log: string[] } {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  return { child, log: [] };
}

/**
 * Starts a server that prints `listening on 127.0.0.1:<port>` when ready and resolves with its
 * port; rejects (after killing it) if it exits or stays silent past the timeout.
 */
export async function startListening(cmd: string[], options: StartOptions): Promise<Server> {
  const { child, log } = spawn(cmd);
  let resolvePort: (port: number) => void = () => {};
  const portSeen = new Promise<number>((resolve) => resolvePort = resolve);
  const onLine = (line: string) => {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
    if (m) resolvePort(Number(m[1]));
  };
  void drain(child.stdout, log, onLine);
  void drain(child.stderr, log);
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    portSeen,
    child.status.then((s) => `exited with code ${s.code}`),
    new Promise<string>((r) =>
      timer = setTimeout(() => r(`not ready after ${timeoutMs} ms`), timeoutMs)
    ),
  ]);
  clearTimeout(timer);
  if (typeof outcome === "string") {
    await stop(child);
    throw new Error(`${options.name} ${outcome}; its last output:\n  ${log.join("\n  ")}`);
  }
  return { name: options.name, child, pid: child.pid, port: outcome, log };
}

/** Starts a server on a known `port` and resolves once a TCP connection to it succeeds. */
export async function startPolled(
  cmd: string[],
  port: number,
  options: StartOptions,
): Promise<Server> {
  const { child, log } = spawn(cmd);
  void drain(child.stdout, log);
  void drain(child.stderr, log);
  let exited = "";
  child.status.then((s) => exited = `exited with code ${s.code}`);
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline && exited === "") {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { name: options.name, child, pid: child.pid, port, log };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop(child);
  const why = exited || "did not accept connections in time";
  throw new Error(`${options.name} ${why}; its last output:\n  ${log.join("\n  ")}`);
}

/** Output of a finished tool run. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Captured stdout. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
}

/** Runs a load tool to completion, killing it if it outlives `timeoutMs`. */
export async function runTool(cmd: string[], timeoutMs: number): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  live.add(child);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

/** Asks the OS for a free loopback port (for servers that need a port in their config). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether an executable is on PATH. */
export function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      const path = `${dir}/${name}`;
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not here */ }
  }
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Ids of `pid` and all its descendants (found by scanning /proc for parent ids). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readText(`/proc/${entry.name}/stat`);
    if (!stat) continue;
    const { ppid } = parseProcStat(stat);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry.name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Sums a /proc/<pid>/status kB field (`VmHWM`, `VmRSS`) over `pids`; NaN if none is readable. */
export function memoryKb(pids: readonly number[], field: "VmHWM" | "VmRSS"): number {
  let sum = 0;
  let seen = false;
  for (const pid of pids) {
    const text = readText(`/proc/${pid}/status`);
    if (!text) continue;
    const kb = procStatusKb(text, field);
    if (!Number.isNaN(kb)) {
      sum += kb;
      seen = true;
    }
  }
  return seen ? sum : NaN;
}

/** Sums user+system CPU ticks over `pids` (ticks are 1/100 s on Linux). */
export function cpuTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const text = readText(`/proc/${pid}/stat`);
    if (text) sum += parseProcStat(text).cpuTicks;
  }
  return sum;
}
