/**
 * Process plumbing for the end-to-end tests: start `main.ts` modes (control, sidecar, gateway)
 * and test apps as real subprocesses, wait for a printed line or an admin `/ready`, talk HTTP over
 * raw loopback sockets (so `Host` and absolute-form URIs are exactly what the test says), and kill
 * everything that was started at the end of a test ({@linkcode stopAll}).
 *
 * ```ts
 * const control = await startControl();
 * const app = await startApp({ service: "reviews", version: "v1" });
 * const sc = await startSidecar({ service: "reviews", version: "v1", appPort: app.port,
 *   control: control.url });
 * const res = await request(sc.outbound, { host: "reviews", path: "/" });
 * await stopAll();
 * ```
 *
 * @module
 */

/** Absolute path of the repository's `main.ts`. */
export const MAIN: string = new URL("../../main.ts", import.meta.url).pathname;
/** Absolute path of the repository root. */
export const REPO: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The test app ({@linkcode startApp}). */
export const APP: string = new URL("./sidecar_app.ts", import.meta.url).pathname;

const live = new Set<Proc>();

/** A started subprocess with its output captured. */
export interface Proc {
  /** Short name for messages. */
  readonly name: string;
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Its process id. */
  readonly pid: number;
  /** Resolves with the exit status (output fully read). */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether it exited. */
  readonly exited: boolean;
  /** Everything written to stdout and stderr so far, interleaved as it arrived. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (past or future). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal (ignored when it already exited). */
  kill(signal?: Deno.Signal): void;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves with the exit status. */
  stop(options?: { signal?: Deno.Signal; graceMs?: number }): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode spawn}. */
export interface SpawnOptions {
  /** Short name for messages; default the command's basename. */
  name?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory; default the repository root. */
  cwd?: string;
}

/** Starts `cmd` (`cmd[0]` is the executable) with stdout/stderr captured. */
export function spawn(cmd: readonly string[], options: SpawnOptions = {}): Proc {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd ?? REPO,
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let text = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: "" }));
      if (done) return;
      text += value;
      notify();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const name = options.name ?? cmd[0].split("/").pop()!;
  const status = (async () => {
    const s = await child.status;
    await pumps;
    exited = true;
    notify();
    return s;
  })();
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    status,
    get exited() {
      return exited;
    },
    output: () => text,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (m) return done(() => resolve(m));
          if (exited) {
            return done(() =>
              reject(new Error(`${name} exited before printing ${pattern}:\n${tail(text)}`))
            );
          }
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(`${name} did not print ${pattern} in ${timeoutMs} ms:\n${tail(text)}`),
              )
            ),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal: Deno.Signal = "SIGTERM") {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
    async stop({ signal = "SIGTERM", graceMs = 10_000 } = {}) {
      proc.kill(signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          proc.kill("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([status, forced]);
      clearTimeout(timer);
      const s = await status;
      live.delete(proc);
      return s;
    },
  };
  live.add(proc);
  status.then(() => live.delete(proc));
  return proc;
}

/** The last lines of a process's output, for error messages. */
export function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Starts `deno run -A main.ts ARGS`. */
export function spawnMesh(args: readonly string[], options: SpawnOptions = {}): Proc {
  return spawn([Deno.execPath(), "run", "-A", MAIN, ...args], {
    name: options.name ?? `mesh ${args[0]}`,
    ...options,
  });
}

/** Temporary directories made for defaults (state dirs); removed by {@linkcode stopAll}. */
const ownedDirs = new Set<string>();

async function ownedDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  ownedDirs.add(dir);
  return dir;
}

/**
 * Stops every process this module started that is still running (SIGTERM, then SIGKILL), and
 * removes the state directories made for them by default.
 */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop({ graceMs })));
  for (const dir of ownedDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  ownedDirs.clear();
}

/** A free loopback port (for a process that must come back on the same port). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * `count` consecutive free loopback ports starting at a random base (for tools that take a base
 * port, like `tools/dev.ts --base-port`). Ports are probed, not reserved.
 */
export function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch {
      // taken: try another base
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh temporary directory (removed by the caller or left in /tmp). */
export function tempDir(prefix = "mesh-e2e-"): Promise<string> {
  return Deno.makeTempDir({ prefix });
}

// ---------------------------------------------------------------- HTTP

/** An HTTP response read off a raw socket. */
export interface HttpResult {
  status: number;
  /** Lower-case names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  body: string;
}

/** Options of {@linkcode request}. */
export interface RequestOptions {
  /** Default `GET`. */
  method?: string;
  /** Path and query; default `/`. */
  path?: string;
  /** `Host` header; default `127.0.0.1:<port>`. */
  host?: string;
  /** Send an absolute-form URI `http://<host><path>` (explicit-proxy mode). */
  absolute?: boolean;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: string;
  /** Give up after this long (rejects); default 30 s. */
  timeoutMs?: number;
}

/**
 * One request on a fresh connection to `127.0.0.1:<port>` with `connection: close`; handles
 * content-length, chunked and close-delimited bodies. Rejects on a connection failure or timeout.
 */
export async function request(port: number, options: RequestOptions = {}): Promise<HttpResult> {
  const host = options.host ?? `127.0.0.1:${port}`;
  const path = options.path ?? "/";
  const target = options.absolute ? `http://${host}${path}` : path;
  const body = options.body !== undefined ? new TextEncoder().encode(options.body) : undefined;
  let head = `${options.method ?? "GET"} ${target} HTTP/1.1\r\nhost: ${host}\r\n` +
    "connection: close\r\n";
  for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
  if (body) head += `content-length: ${body.length}\r\n`;
  head += "\r\n";
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, timeoutMs);
  try {
    const bytes = new TextEncoder().encode(head);
    const all = body ? concatBytes([bytes, body]) : bytes;
    let off = 0;
    while (off < all.length) off += await conn.write(all.subarray(off));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        if (chunks.length === 0) throw error;
        n = null;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return parseResponse(concatBytes(chunks), options.method === "HEAD");
  } catch (error) {
    throw new Error(`request to 127.0.0.1:${port}${path} failed: ${error}`);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function parseResponse(raw: Uint8Array, headOnly: boolean): HttpResult {
  const text = new TextDecoder("latin1").decode(raw);
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`incomplete response (${raw.length} bytes): ${text.slice(0, 200)}`);
  const lines = text.slice(0, end).split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] !== undefined ? `${headers[name]}, ${value}` : value;
  }
  let bodyBytes = raw.subarray(end + 4);
  if (headOnly || status === 204 || status === 304) bodyBytes = new Uint8Array(0);
  else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) bodyBytes = dechunk(bodyBytes);
  else if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (bodyBytes.length < length) {
      throw new Error(`truncated body: ${bodyBytes.length} of ${length} bytes`);
    }
    bodyBytes = bodyBytes.subarray(0, length);
  }
  return { status, headers, body: new TextDecoder().decode(bodyBytes) };
}

function dechunk(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  const latin = new TextDecoder("latin1");
  for (;;) {
    let eol = off;
    while (eol + 1 < data.length && !(data[eol] === 13 && data[eol + 1] === 10)) eol++;
    if (eol + 1 >= data.length) throw new Error("truncated chunked body");
    const size = parseInt(latin.decode(data.subarray(off, eol)).split(";")[0], 16);
    off = eol + 2;
    if (size === 0) return concatBytes(parts);
    if (off + size > data.length) throw new Error("truncated chunked body");
    parts.push(data.subarray(off, off + size));
    off += size + 2;
  }
}

/** `GET http://127.0.0.1:<port><path>` with fetch; status and body text. */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Waits until `GET /ready` on the admin port answers 200. */
export async function waitReady(adminPort: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => (await get(adminPort, "/ready")).status === 200,
    `:${adminPort}/ready`,
    timeoutMs,
  );
}

// ---------------------------------------------------------------- mesh processes

/** Result of a `mesh` tool command run to completion. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mesh ARGS` (a tool command) as a real process and waits for it. */
export async function meshCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: REPO,
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A running `mesh control`. */
export interface ControlHandle {
  proc: Proc;
  url: string;
  port: number;
  stateDir: string;
}

/** Starts `mesh control` (port 0 unless given; a fresh state dir unless given) and waits for it. */
export async function startControl(
  options: { port?: number; stateDir?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<ControlHandle> {
  const stateDir = options.stateDir ?? await ownedDir("mesh-e2e-control-");
  const proc = spawnMesh([
    "control",
    "--port",
    String(options.port ?? 0),
    "--state-dir",
    stateDir,
    ...(options.args ?? []),
  ], { name: "control", env: options.env });
  const m = await proc.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
  return { proc, url: m[1], port: Number(m[2]), stateDir };
}

/**
 * `mesh apply -f <yaml> --wait --control URL` (the YAML is written to a temp file); throws with
 * the command's output when it fails.
 */
export async function applyYaml(
  controlUrl: string,
  yaml: string,
  options: { wait?: boolean } = {},
): Promise<Run> {
  const dir = await tempDir("mesh-e2e-apply-");
  const file = `${dir}/config.yaml`;
  await Deno.writeTextFile(file, yaml);
  try {
    const run = await meshCli([
      "apply",
      "-f",
      file,
      ...(options.wait === false ? [] : ["--wait"]),
      "--control",
      controlUrl,
    ]);
    if (run.code !== 0) {
      throw new Error(`mesh apply failed (${run.code}): ${run.stderr}${run.stdout}`);
    }
    return run;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A running `mesh sidecar`. */
export interface SidecarHandle {
  proc: Proc;
  service: string;
  /** Outbound listener port (127.0.0.1). */
  outbound: number;
  /** Inbound listener port (the registered port). */
  inbound: number;
  /** Admin port (127.0.0.1). */
  admin: number;
}

/** Options of {@linkcode startSidecar}. */
export interface SidecarOptions {
  service: string;
  /** The app's port. */
  appPort: number;
  version?: string;
  namespace?: string;
  /** `k=v,...` */
  labels?: string;
  /** `--address` (default 127.0.0.1: tests stay on loopback). */
  address?: string;
  control?: string;
  config?: string;
  stateDir?: string;
  drainTimeout?: string;
  /** Fixed ports (default 0 each). */
  inboundPort?: number;
  outboundPort?: number;
  adminPort?: number;
  /** More flags. */
  args?: string[];
  /** Exec mode: the app command after `--`. */
  exec?: string[];
  env?: Record<string, string>;
  /** Wait for `/ready` too (default true). */
  waitReady?: boolean;
}

/** The line a sidecar prints once it serves. */
export const SIDECAR_READY =
  /mesh sidecar (\S+) ready: outbound 127\.0\.0\.1:(\d+) inbound \S+:(\d+) admin 127\.0\.0\.1:(\d+)/;

/** Starts `mesh sidecar` on port 0s (unless given) and waits for its ready line. */
export async function startSidecar(options: SidecarOptions): Promise<SidecarHandle> {
  const args = [
    "sidecar",
    "--service",
    options.service,
    "--app-port",
    String(options.appPort),
    "--inbound-port",
    String(options.inboundPort ?? 0),
    "--outbound-port",
    String(options.outboundPort ?? 0),
    "--admin-port",
    String(options.adminPort ?? 0),
    "--state-dir",
    options.stateDir ?? await ownedDir(`mesh-e2e-${options.service}-`),
    "--address",
    options.address ?? "127.0.0.1",
  ];
  if (options.version) args.push("--version", options.version);
  if (options.namespace) args.push("--namespace", options.namespace);
  if (options.labels) args.push("--labels", options.labels);
  if (options.control) args.push("--control", options.control);
  if (options.config) args.push("--config", options.config);
  if (options.drainTimeout) args.push("--drain-timeout", options.drainTimeout);
  args.push(...(options.args ?? []));
  if (options.exec) args.push("--", ...options.exec);
  const name = `sidecar ${options.service}${options.version ? ` ${options.version}` : ""}`;
  const proc = spawnMesh(args, { name, env: options.env });
  const m = await proc.waitForOutput(SIDECAR_READY, 60_000);
  const handle = {
    proc,
    service: options.service,
    outbound: Number(m[2]),
    inbound: Number(m[3]),
    admin: Number(m[4]),
  };
  if (options.waitReady !== false) await waitReady(handle.admin);
  return handle;
}

/** A running test app (`tests/e2e/sidecar_app.ts`). */
export interface AppHandle {
  proc: Proc;
  port: number;
}

/** Options of {@linkcode startApp}; see `sidecar_app.ts` for what the app does. */
export interface AppOptions {
  service?: string;
  version?: string;
  /** Default 0. */
  port?: number;
  /** Answer every request with this status (a failing instance). */
  failStatus?: number;
  env?: Record<string, string>;
}

/** Starts the test app and waits for its listening line. */
export async function startApp(options: AppOptions = {}): Promise<AppHandle> {
  const env: Record<string, string> = {
    PORT: String(options.port ?? 0),
    SERVICE_NAME: options.service ?? "app",
    VERSION: options.version ?? "v1",
    ...options.env,
  };
  if (options.failStatus) env.FAIL_STATUS = String(options.failStatus);
  const proc = spawn(appCommand(), {
    name: `app ${env.SERVICE_NAME} ${env.VERSION}`,
    env,
  });
  const m = await proc.waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
  return { proc, port: Number(m[1]) };
}

/** The command that runs the test app (for exec mode). */
export function appCommand(): string[] {
  return [Deno.execPath(), "run", "--allow-net", "--allow-env", APP];
}

// ---------------------------------------------------------------- load

/** What a load run saw. */
export interface LoadResult {
  /** Requests sent. */
  sent: number;
  /** Failure descriptions (empty when every request succeeded). */
  failures: string[];
}

/** A running load loop. */
export interface Load {
  /** Requests sent so far. */
  readonly sent: number;
  /** Stops sending, waits for requests in flight, and reports. */
  stop(): Promise<LoadResult>;
}

/**
 * Calls `send` in `concurrency` sequential loops until stopped; `send` returns `undefined` for a
 * success or a description of the failure (a throw counts as a failure too).
 */
export function startLoad(
  send: () => Promise<string | undefined>,
  options: { concurrency?: number; pauseMs?: number } = {},
): Load {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const loop = async () => {
    while (running) {
      sent++;
      try {
        const problem = await send();
        if (problem !== undefined) failures.push(problem);
      } catch (error) {
        failures.push(String(error));
      }
      await sleep(options.pauseMs ?? 5);
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 2 }, loop);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { sent, failures };
    },
  };
}

/** Connected proxies as the control plane reports them (`GET /v1/proxies`). */
export async function proxies(
  controlUrl: string,
): Promise<{ id: string; name: string; status: string; version: string }[]> {
  const res = await fetch(`${controlUrl}/v1/proxies`);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET /v1/proxies answered ${res.status}`);
  }
  return (await res.json()).proxies;
}

/** Runs `fn`, then stops every process started meanwhile (also when `fn` throws). */
export async function withProcesses(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } finally {
    await stopAll();
  }
}
