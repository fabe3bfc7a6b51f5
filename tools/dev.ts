/**
 * `deno task dev`: the bookinfo sample on one machine — a control plane, an ingress gateway and
 * six app instances (productpage, details, ratings, reviews v1/v2/v3), each behind its own
 * sidecar in exec mode. Applies `examples/bookinfo/config/`, waits until every proxy is ready,
 * prints what to try, and stops everything cleanly on Ctrl-C (SIGTERM to all, wait, exit 0).
 *
 * ```
 * deno task dev [--base-port 15100] [--gateway-port 8080] [--state-dir .state/dev] [--quiet]
 * ```
 *
 * Ports: the control plane on `base`, the gateway's admin on `base+1`, and per app instance `i`
 * (0-5) the app on `base+10+4i`, its sidecar's inbound, outbound and admin on the next three.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/main.ts`;
/** What `mesh` runs with (DESIGN.md "Permissions": never -A). */
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];
/** How the printed commands spell `mesh`. */
const MESH = "npx -y deno@2.9.6 run -A main.ts";

interface Instance {
  service: string;
  version: string;
  script: string;
}

const INSTANCES: Instance[] = [
  { service: "productpage", version: "v1", script: "productpage.ts" },
  { service: "details", version: "v1", script: "details.ts" },
  { service: "ratings", version: "v1", script: "ratings.ts" },
  { service: "reviews", version: "v1", script: "reviews.ts" },
  { service: "reviews", version: "v2", script: "reviews.ts" },
  { service: "reviews", version: "v3", script: "reviews.ts" },
];

interface Child {
  name: string;
  process: Deno.ChildProcess;
  exited: boolean;
  /** Resolves when the process ended and its output was read. */
  done: Promise<Deno.CommandStatus>;
  /** Everything it printed (kept for waiting on lines). */
  output: string;
}

interface Options {
  basePort: number;
  gatewayPort: number;
  stateDir: string;
  quiet: boolean;
}

function fail(message: string): never {
  console.error(`dev: ${message}`);
  Deno.exit(1);
}

function readOptions(): Options {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        "base-port": { type: "string", default: Deno.env.get("MESH_DEV_BASE_PORT") ?? "15100" },
        "gateway-port": {
          type: "string",
          default: Deno.env.get("MESH_DEV_GATEWAY_PORT") ?? "8080",
        },
        "state-dir": { type: "string", default: ".state/dev" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (error) {
    fail(
      `${error instanceof Error ? error.message : error}; flags: --base-port N, ` +
        "--gateway-port N, --state-dir DIR, --quiet",
    );
  }
  if (values.help) {
    console.log(
      "deno task dev [--base-port 15100] [--gateway-port 8080] [--state-dir .state/dev] [--quiet]",
    );
    Deno.exit(0);
  }
  const port = (flag: string, text: string, room: number) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n + room > 65535) {
      fail(`--${flag} ${text}: give a port number 1-${65535 - room}`);
    }
    return n;
  };
  return {
    basePort: port("base-port", values["base-port"]!, 40),
    gatewayPort: port("gateway-port", values["gateway-port"]!, 0),
    stateDir: values["state-dir"]!,
    quiet: values.quiet!,
  };
}

const children: Child[] = [];
const encoder = new TextEncoder();

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Starts a child with its output prefixed by `name` (unless quiet) and kept for waiting. */
function start(name: string, args: string[], env: Record<string, string>, quiet: boolean): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const child: Child = {
    name,
    process,
    exited: false,
    done: Promise.resolve(undefined as unknown as Deno.CommandStatus),
    output: "",
  };
  const prefix = `[${name}]`.padEnd(16);
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      child.output += text;
      if (child.output.length > 1_000_000) child.output = child.output.slice(-100_000);
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop()!;
      if (!quiet) { for (const line of lines) print(`${prefix} ${line}`); }
    }
    if (partial !== "" && !quiet) print(`${prefix} ${partial}`);
  };
  const pumps = Promise.all([pump(process.stdout), pump(process.stderr)]);
  child.done = process.status.then(async (status) => {
    await pumps.catch(() => {});
    child.exited = true;
    if (!stopping && !shuttingDown) {
      print(`dev: ${name} exited unexpectedly (code ${status.code}):\n${tail(child.output)}`);
    }
    return status;
  });
  children.push(child);
  return child;
}

function tail(text: string): string {
  return text.split("\n").slice(-15).map((l) => `    ${l}`).join("\n");
}

function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = child.output.match(pattern);
      if (m) return resolve(m);
      if (child.exited) {
        return reject(
          new Error(`${child.name} exited before it was ready:\n${tail(child.output)}`),
        );
      }
      if (Date.now() > deadline) {
        return reject(new Error(`${child.name} was not ready after ${timeoutMs / 1000} s`));
      }
      setTimeout(check, 50);
    };
    check();
  });
}

async function waitReady(child: Child, adminPort: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited) {
      throw new Error(`${child.name} exited before it was ready:\n${tail(child.output)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} was not ready after ${timeoutMs / 1000} s`);
}

/** Polls the product page through the gateway until it renders details and reviews. */
async function waitForPage(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/productpage`);
      const html = await res.text();
      if (res.status === 200 && /data-version="v1"/.test(html) && !/Sorry/.test(html)) return;
      last = `status ${res.status}${/Sorry[^<]*/.exec(html)?.[0] ?? ""}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the product page did not come up on :${port} (${last})`);
}

let stopping = false;
/** Set on Ctrl-C: children may end by themselves (the terminal signals the whole group). */
let shuttingDown = false;

/** SIGTERM to every child (proxies first, the control plane last), wait, SIGKILL stragglers. */
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const signal = (c: Child, s: Deno.Signal) => {
    if (c.exited) return;
    try {
      c.process.kill(s);
    } catch {
      // gone
    }
  };
  const control = children.find((c) => c.name === "control");
  const others = children.filter((c) => c !== control);
  for (const c of others) signal(c, "SIGTERM");
  const bounded = (list: Child[], ms: number) =>
    Promise.race([
      Promise.all(list.map((c) => c.done)),
      new Promise((r) => setTimeout(r, ms)),
    ]);
  await bounded(others, 15_000);
  if (control) signal(control, "SIGTERM");
  await bounded(control ? [control] : [], 5_000);
  for (const c of children) signal(c, "SIGKILL");
  await Promise.all(children.map((c) => c.done));
}

/** `examples/bookinfo/config/` with the Gateway's port replaced by `gatewayPort`. */
async function writeConfig(dir: string, gatewayPort: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const source = `${ROOT}/examples/bookinfo/config`;
  for await (const entry of Deno.readDir(source)) {
    if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
    let text = await Deno.readTextFile(`${source}/${entry.name}`);
    if (entry.name === "bookinfo-gateway.yaml") {
      text = text.replace(/number: 8080/, `number: ${gatewayPort}`);
    }
    await Deno.writeTextFile(`${dir}/${entry.name}`, text);
  }
}

async function mesh(args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  if (out.code !== 0) {
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    throw new Error(`mesh ${args.join(" ")} failed:\n${decode(out.stderr)}${decode(out.stdout)}`);
  }
}

async function main(): Promise<number> {
  const options = readOptions();
  const { basePort, gatewayPort, quiet } = options;
  const stateDir = options.stateDir.startsWith("/")
    ? options.stateDir
    : `${ROOT}/${options.stateDir}`;
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(stateDir, { recursive: true });

  const stop = Promise.withResolvers<void>();
  const onSignal = () => {
    shuttingDown = true;
    stop.resolve();
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, onSignal);

  const controlUrl = `http://127.0.0.1:${basePort}`;
  const startup = async () => {
    const control = start(
      "control",
      [
        "run",
        ...PERMISSIONS,
        MAIN,
        "control",
        "--port",
        String(basePort),
        "--state-dir",
        `${stateDir}/control`,
      ],
      {},
      quiet,
    );
    await waitForLine(control, /listening on http:\/\//, 60_000);

    const configDir = `${stateDir}/config`;
    await writeConfig(configDir, gatewayPort);
    await mesh(["apply", "-f", configDir, "--control", controlUrl]);

    const waits: Promise<void>[] = [];
    const gatewayAdmin = basePort + 1;
    const gateway = start(
      "gateway",
      [
        "run",
        ...PERMISSIONS,
        MAIN,
        "gateway",
        "--name",
        "ingressgateway",
        "--labels",
        "istio=ingressgateway",
        "--admin-port",
        String(gatewayAdmin),
        "--control",
        controlUrl,
        "--state-dir",
        `${stateDir}/gateway`,
      ],
      {},
      quiet,
    );
    waits.push(waitReady(gateway, gatewayAdmin, 90_000));

    INSTANCES.forEach((inst, i) => {
      const appPort = basePort + 10 + 4 * i;
      const name = inst.service === "reviews" ? `reviews-${inst.version}` : inst.service;
      const child = start(
        name,
        [
          "run",
          ...PERMISSIONS,
          MAIN,
          "sidecar",
          "--service",
          inst.service,
          "--version",
          inst.version,
          "--app-port",
          String(appPort),
          "--address",
          "127.0.0.1",
          "--inbound-port",
          String(appPort + 1),
          "--outbound-port",
          String(appPort + 2),
          "--admin-port",
          String(appPort + 3),
          "--control",
          controlUrl,
          "--state-dir",
          `${stateDir}/${name}`,
          "--",
          Deno.execPath(),
          "run",
          "--allow-net",
          "--allow-env",
          `${ROOT}/examples/bookinfo/${inst.script}`,
        ],
        { PORT: String(appPort), VERSION: inst.version },
        quiet,
      );
      waits.push(waitReady(child, appPort + 3, 90_000));
      waits.push(waitForLine(child, /listening on http:\/\/127\.0\.0\.1:/, 90_000).then(() => {}));
    });
    await Promise.all(waits);
    // Ready proxies may not know each other yet (registrations reach every proxy a moment
    // later): wait until a page through the gateway shows details and reviews.
    await waitForPage(gatewayPort, 60_000);
  };

  const started = await Promise.race([
    startup().then(() => "ready" as const, (error: Error) => error),
    stop.promise.then(() => "stopped" as const),
  ]);
  if (started instanceof Error) {
    console.error(`dev: ${started.message}`);
    await stopAll();
    return 1;
  }
  if (started === "ready") {
    const control = `--control ${controlUrl}`;
    print(`
dev: bookinfo is ready
  product page     http://localhost:${gatewayPort}/productpage
  control plane    ${controlUrl}   (mesh proxy-status ${control})
  sidecar admins   ${
      INSTANCES.map((inst, i) =>
        `${inst.service}${inst.service === "reviews" ? `-${inst.version}` : ""} :${
          basePort + 13 + 4 * i
        }`
      ).join(", ")
    }
  gateway admin    http://127.0.0.1:${basePort + 1}/ready

Try (mesh = ${MESH}):
  1. curl http://localhost:${gatewayPort}/productpage
  2. ${MESH} apply -f examples/bookinfo/routing/reviews-jason-v2.yaml --wait ${control}
     curl -H 'end-user: jason' http://localhost:${gatewayPort}/productpage   # reviews v2, black stars
  3. ${MESH} apply -f examples/bookinfo/routing/reviews-50-v3.yaml --wait ${control}
     for i in 1 2 3 4 5 6; do curl -s http://localhost:${gatewayPort}/productpage | grep -o 'data-version="v[0-9]"'; done

Ctrl-C stops everything.
`);
    await stop.promise;
  }
  print("dev: stopping");
  await stopAll();
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(s, onSignal);
  print("dev: stopped");
  return 0;
}

Deno.exit(await main());
