/**
 * Test PKI made with the `openssl` CLI in a temporary directory: a CA, a
 * server certificate for 127.0.0.1 and localhost, and a client certificate
 * with a SPIFFE URI SAN (as a mesh workload identity would carry).
 *
 * @module
 */

/** PEM material for the TLS tests. */
export interface TestPki {
  /** CA certificate. */
  ca: string;
  /** Server certificate (SAN IP:127.0.0.1, DNS:localhost) and key. */
  serverCert: string;
  /** Server private key. */
  serverKey: string;
  /** Client certificate (SAN URI spiffe://cluster.local/ns/default/sa/client) and key. */
  clientCert: string;
  /** Client private key. */
  clientKey: string;
  /** A self-signed certificate from another CA (must be rejected). */
  strangerCert: string;
  /** Its key. */
  strangerKey: string;
}

/** Why TLS tests cannot run here, or null when `openssl` is available. */
export function opensslMissing(): string | null {
  try {
    const out = new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success ? null : "openssl version failed";
  } catch {
    return "the openssl CLI is not installed (apt-get install openssl)";
  }
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Issues a leaf certificate `name` signed by the CA in `dir`. */
async function leaf(dir: string, name: string, san: string, eku: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-addext",
    `subjectAltName=${san}`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature",
    "-addext",
    `extendedKeyUsage=${eku}`,
  ]);
}

let cached: Promise<TestPki> | undefined;

/** Creates (once per test process) the test PKI. */
export function testPki(): Promise<TestPki> {
  cached ??= makePki();
  return cached;
}

async function makePki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-tls-" });
  try {
    const ca = ["-days", "2", "-addext", "basicConstraints=critical,CA:TRUE"];
    await openssl(dir, [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=mesh test CA",
      ...ca,
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await Promise.all([
      leaf(dir, "server", "IP:127.0.0.1,DNS:localhost", "serverAuth"),
      leaf(dir, "client", "URI:spiffe://cluster.local/ns/default/sa/client", "clientAuth"),
      openssl(dir, [
        "req",
        "-x509",
        ...EC,
        "-keyout",
        "stranger.key",
        "-out",
        "stranger.crt",
        "-subj",
        "/CN=stranger",
        "-days",
        "2",
      ]),
    ]);
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      ca: await read("ca.crt"),
      serverCert: await read("server.crt"),
      serverKey: await read("server.key"),
      clientCert: await read("client.crt"),
      clientKey: await read("client.key"),
      strangerCert: await read("stranger.crt"),
      strangerKey: await read("stranger.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
