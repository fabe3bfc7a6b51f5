/**
 * Helpers for the gateway, egress and TCP end-to-end tests: start `mesh gateway`, generate
 * certificates with `openssl`, keep one HTTP/1.1 connection open across requests, and talk to
 * TLS and raw TCP listeners.
 *
 * @module
 */

import { type Proc, spawnMesh, tempDir, waitReady } from "./e2e_helpers.ts";

/** The line a gateway prints once it serves. */
export const GATEWAY_READY =
  /mesh gateway (\S+) ready: admin 127\.0\.0\.1:(\d+) listeners \[([\d, ]*)\]/;

/** A running `mesh gateway`. */
export interface GatewayHandle {
  proc: Proc;
  admin: number;
  /** Listener ports from the ready line. */
  listeners: number[];
}

/** Options of {@linkcode startGateway}. */
export interface GatewayOptions {
  name?: string;
  namespace?: string;
  labels?: string;
  control?: string;
  config?: string;
  stateDir?: string;
  args?: string[];
  env?: Record<string, string>;
}

/** Starts `mesh gateway` with an OS-chosen admin port and waits for its ready line and `/ready`. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const args = [
    "gateway",
    "--name",
    options.name ?? "ingress",
    "--admin-port",
    "0",
    "--state-dir",
    options.stateDir ?? await tempDir("mesh-e2e-gateway-"),
  ];
  if (options.namespace) args.push("--namespace", options.namespace);
  if (options.labels) args.push("--labels", options.labels);
  if (options.control) args.push("--control", options.control);
  if (options.config) args.push("--config", options.config);
  args.push(...(options.args ?? []));
  const proc = spawnMesh(args, { name: `gateway ${options.name ?? "ingress"}`, env: options.env });
  const m = await proc.waitForOutput(GATEWAY_READY, 60_000);
  const handle = {
    proc,
    admin: Number(m[2]),
    listeners: m[3].trim() === "" ? [] : m[3].split(",").map((p) => Number(p.trim())),
  };
  await waitReady(handle.admin);
  return handle;
}

/** Whether `openssl` can be run. */
export async function haveOpenssl(): Promise<boolean> {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** PEM files in a temp directory: a CA, a server certificate for `names`, a client certificate. */
export interface CertFiles {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA (must be rejected by MUTUAL). */
  strangerCert: string;
  strangerKey: string;
}

/** Generates a CA, a server certificate (SANs `names` and 127.0.0.1) and client certificates. */
export async function makeCerts(names: string[]): Promise<CertFiles> {
  const dir = await tempDir("mesh-e2e-certs-");
  const ca = async (name: string) => {
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ], dir);
  };
  const leaf = async (name: string, signer: string, ext: string) => {
    await openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ], dir);
    await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${signer}.pem`,
      "-CAkey",
      `${signer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ], dir);
  };
  await ca("ca");
  await ca("other-ca");
  const sans = [...names.map((n) => `DNS:${n}`), "IP:127.0.0.1"].join(",");
  await leaf("server", "ca", `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  await leaf("client", "ca", "subjectAltName=DNS:client.test\nextendedKeyUsage=clientAuth\n");
  await leaf(
    "stranger",
    "other-ca",
    "subjectAltName=DNS:stranger.test\nextendedKeyUsage=clientAuth\n",
  );
  return {
    dir,
    ca: `${dir}/ca.pem`,
    caKey: `${dir}/ca.key`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
    strangerCert: `${dir}/stranger.pem`,
    strangerKey: `${dir}/stranger.key`,
  };
}

/** A parsed response. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 connection reused for several requests (keep-alive), over TCP or TLS. Responses
 * must carry `content-length` (or no body).
 */
export class KeepAlive {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to 127.0.0.1:`port` (TLS with `tls`). */
  static async open(
    port: number,
    tls?: { caCerts: string[]; hostname?: string; cert?: string; key?: string },
  ): Promise<KeepAlive> {
    if (tls === undefined) {
      return new KeepAlive(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    const conn = await Deno.connectTls({
      hostname: tls.hostname ?? "127.0.0.1",
      port,
      caCerts: tls.caCerts,
      ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    });
    await conn.handshake();
    return new KeepAlive(conn);
  }

  /** Sends one request and reads its response. */
  async request(
    host: string,
    path = "/",
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    let head = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += "\r\n";
    const bytes = new TextEncoder().encode(head);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
    return await this.#readResponse();
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(16384);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("connection closed by the peer");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  async #readResponse(): Promise<Reply> {
    const latin = new TextDecoder("latin1");
    let end = -1;
    while ((end = latin.decode(this.#buf).indexOf("\r\n\r\n")) < 0) await this.#fill();
    const lines = latin.decode(this.#buf.subarray(0, end)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    while (this.#buf.length < end + 4 + length) await this.#fill();
    const body = new TextDecoder().decode(this.#buf.subarray(end + 4, end + 4 + length));
    this.#buf = this.#buf.slice(end + 4 + length);
    return { status, headers, body };
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Sends `data` on a fresh TCP connection to `port`, half-closes, and reads until the peer closes. */
export async function tcpExchange(port: number, data: string, timeoutMs = 10_000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const bytes = new TextEncoder().encode(data);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        n = null;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    let text = "";
    const dec = new TextDecoder();
    for (const c of chunks) text += dec.decode(c, { stream: true });
    return text + dec.decode();
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}
