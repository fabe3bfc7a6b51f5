/** Property-based tests (fast-check): parser/serializer round trip, noise never forwarded. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ByteWriter,
  Framing,
  parseRequest,
  ProtocolError,
  serializeRequestHead,
  writeForwardRequestHead,
} from "../../mesh/http/mod.ts";
import {
  bytes,
  dial,
  IO,
  readAll,
  recordingUpstream,
  startProxy,
  statuses,
  text,
  writeFully,
} from "./helpers.ts";

const TCHARS = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";
const tokenArb = (chars: string, min = 1, max = 12) =>
  fc.array(fc.constantFrom(...chars.split("")), { minLength: min, maxLength: max }).map((a) =>
    a.join("")
  );
const nameArb = tokenArb(TCHARS).filter((n) =>
  !["host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"].includes(n)
);
// field values: visible ASCII and inner spaces/tabs, no surrounding whitespace
const VCHAR = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");
const valueArb = fc.tuple(
  tokenArb(VCHAR, 1, 10),
  fc.array(fc.tuple(fc.constantFrom(" ", "\t"), tokenArb(VCHAR, 1, 8)), { maxLength: 3 }),
)
  .map(([first, rest]) => first + rest.map(([ws, t]) => ws + t).join(""));
const methodArb = fc.constantFrom(
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "HEAD",
  "PURGE",
);
const PATHCHARS =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@/?";
const targetArb = tokenArb(PATHCHARS, 0, 30).map((p) => "/" + p);

const requestArb = fc.record({
  method: methodArb,
  target: targetArb,
  minor: fc.constantFrom(0, 1),
  host: tokenArb("abcdefghijklmnopqrstuvwxyz0123456789.-:", 1, 20),
  fields: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 12 }),
  length: fc.option(fc.nat(1_000_000), { nil: undefined }),
});

Deno.test("property: random valid requests round-trip exactly through parser and serializer", () => {
  fc.assert(
    fc.property(requestArb, (r) => {
      const flat = ["host", r.host];
      for (const [n, v] of r.fields) flat.push(n, v);
      if (r.length !== undefined) flat.push("content-length", String(r.length));
      const wire = serializeRequestHead(r.method, r.target, { headers: flat, minor: r.minor });
      const parsed = parseRequest(wire);
      assert.ok(parsed !== null);
      const h = parsed.head;
      assert.equal(parsed.consumed, wire.length);
      assert.equal(h.method, r.method);
      assert.equal(h.target, r.target);
      assert.equal(h.minor, r.minor);
      assert.deepEqual(h.list(), flat);
      assert.equal(h.framing, r.length ? Framing.LENGTH : Framing.NONE);
      const again = serializeRequestHead(h.method, h.target, { headers: h.list(), minor: h.minor });
      assert.deepEqual(again, wire);
      // the forwarded head is itself a valid request carrying the same end-to-end fields
      const w = new ByteWriter();
      writeForwardRequestHead(w, h, { remoteHost: "10.1.2.3", attempt: 1, requestId: "rid" });
      const fwd = parseRequest(w.view().slice());
      assert.ok(fwd !== null);
      assert.equal(fwd.head.method, r.method);
      assert.equal(fwd.head.target, r.target);
      assert.equal(fwd.head.minor, 1);
      assert.equal(fwd.head.contentLength, h.contentLength);
      for (const [n, v] of r.fields) {
        if (n.startsWith("x-forwarded") || n === "x-request-id" || n === "x-envoy-attempt-count") {
          continue;
        }
        if (["keep-alive", "proxy-connection", "te", "trailer"].includes(n)) continue;
        assert.ok(fwd.head.getAll(n).includes(v), `${n} lost`);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: no strict prefix of a valid request is a complete head", () => {
  fc.assert(
    fc.property(requestArb, fc.array(fc.nat(400), { maxLength: 6 }), (r, cuts) => {
      const flat = ["host", r.host];
      for (const [n, v] of r.fields) flat.push(n, v);
      const wire = serializeRequestHead(r.method, r.target, { headers: flat, minor: r.minor });
      for (const cut of cuts) {
        const at = cut % wire.length;
        if (at === wire.length) continue;
        // a strict prefix is never a complete head
        assert.equal(parseRequest(wire.subarray(0, at)), null);
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: random byte noise is rejected, never throws anything but ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (noise) => {
      try {
        parseRequest(noise);
      } catch (err) {
        assert.ok(err instanceof ProtocolError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

const noiseArb = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }),
  // HTTP-looking noise: mutate a valid request by inserting random bytes
  fc.tuple(fc.nat(60), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([at, ins]) => {
    const base = bytes("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    const i = at % base.length;
    const out = new Uint8Array(base.length + ins.length);
    out.set(base.subarray(0, i));
    out.set(ins, i);
    out.set(base.subarray(i), i + ins.length);
    return out;
  }),
);

Deno.test({
  name:
    "property: noise sent to the proxy never crashes it and is never forwarded unless it is a valid request",
  ...IO,
  async fn() {
    const up = recordingUpstream();
    const proxy = startProxy(up.port);
    try {
      await fc.assert(
        fc.asyncProperty(noiseArb, async (noise) => {
          const before = up.received.join("").length;
          const c = await dial(proxy.port);
          try {
            await writeFully(c, noise).catch(() => {});
            // end our side so a partial head cannot wait for more
            await c.closeWrite().catch(() => {});
            const out = text(await readAll(c, 1000));
            const forwarded = up.received.join("").length > before;
            let valid = false;
            try {
              valid = parseRequest(noise) !== null;
            } catch {
              valid = false;
            }
            if (forwarded) {
              assert.ok(valid, `forwarded noise ${JSON.stringify(text(noise))}`);
            }
            for (const s of statuses(out)) assert.ok(s === 200 || (s >= 400 && s < 600));
          } finally {
            c.close();
          }
        }),
        { numRuns: 150 },
      );
      // still alive and forwarding
      const c = await dial(proxy.port);
      await writeFully(c, bytes("GET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n"));
      assert.deepEqual(statuses(text(await readAll(c))), [200]);
      c.close();
    } finally {
      await proxy.close();
      up.close();
    }
  },
});
