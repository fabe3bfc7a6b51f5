/**
 * A small app for the end-to-end tests, run as a real process behind a sidecar.
 *
 * Environment: `PORT` (0 picks one), `SERVICE_NAME`, `VERSION`, `FAIL_STATUS` (answer every
 * request with this status), `TERM_EXIT_CODE` (exit code after SIGTERM/SIGINT, default 0),
 * `TERM_DELAY_MS` (wait this long after the signal before exiting), `EXIT_AFTER_MS` + `EXIT_CODE`
 * (a batch job: exit by itself). Prints `SERVICE VERSION listening on http://127.0.0.1:PORT/`.
 *
 * Paths: `/status/NNN` answers NNN, `/delay/MS` answers after MS milliseconds, `/env` the mesh
 * variables it was given; anything else a JSON echo `{service, version, port, path, headers}`.
 *
 * @module
 */

const service = Deno.env.get("SERVICE_NAME") ?? "app";
const version = Deno.env.get("VERSION") ?? "v1";
const failStatus = Number(Deno.env.get("FAIL_STATUS") ?? 0);
const termExit = Number(Deno.env.get("TERM_EXIT_CODE") ?? 0);
const termDelay = Number(Deno.env.get("TERM_DELAY_MS") ?? 0);
let port = 0;

function onSignal(signal: Deno.Signal) {
  console.log(`${service} ${version} got ${signal}`);
  setTimeout(() => Deno.exit(termExit), termDelay);
}
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => {
    if (signal === "SIGHUP") console.log(`${service} ${version} got SIGHUP`);
    else onSignal(signal);
  });
}

const exitAfter = Deno.env.get("EXIT_AFTER_MS");
if (exitAfter !== undefined) {
  setTimeout(() => {
    console.log(`${service} ${version} done`);
    Deno.exit(Number(Deno.env.get("EXIT_CODE") ?? 0));
  }, Number(exitAfter));
}

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: (addr) => {
    port = addr.port;
    console.log(`${service} ${version} listening on http://127.0.0.1:${addr.port}/`);
  },
}, async (req) => {
  const url = new URL(req.url);
  const path = url.pathname;
  const reply = (status: number, body: unknown) =>
    Response.json(body, {
      status,
      headers: { "x-app": `${service}-${version}-${port}` },
    });
  if (failStatus > 0) return reply(failStatus, { service, version, port, failing: true });
  let m = /^\/status\/(\d{3})$/.exec(path);
  if (m) return reply(Number(m[1]), { service, version, port });
  m = /^\/delay\/(\d+)$/.exec(path);
  if (m) {
    await new Promise((r) => setTimeout(r, Number(m![1])));
    return reply(200, { service, version, port, delayed: Number(m[1]) });
  }
  if (path === "/env") {
    return reply(200, {
      MESH_OUTBOUND: Deno.env.get("MESH_OUTBOUND") ?? null,
      HTTP_PROXY: Deno.env.get("HTTP_PROXY") ?? null,
    });
  }
  return reply(200, {
    service,
    version,
    port,
    path,
    headers: Object.fromEntries(req.headers),
  });
});
