/** Request bodies are buffered for replay up to the limit; beyond it a request is not retried. */

import assert from "node:assert/strict";
import { instance, makeSnapshot, request, startProxy, startUpstream } from "./upstreams.ts";

const VS = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo}}]
    retries: {attempts: 2, retryOn: 5xx}
`;

Deno.test("a buffered body is replayed on the retry", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const good = startUpstream("good");
  const proxy = startProxy(makeSnapshot(VS, [instance("echo", bad), instance("echo", good)]));
  try {
    for (let i = 0; i < 6; i++) {
      const r = await request(proxy.port, "/post", { host: "echo", method: "POST", body: `b${i}` });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).body, `b${i}`);
    }
    assert.ok(bad.count > 0);
    assert.ok(bad.seen.every((s) => /^b\d$/.test(s.body)), "every attempt carried the body");
  } finally {
    await proxy.close();
    await bad.close();
    await good.close();
  }
});

Deno.test("a body over the replay limit is streamed once and not retried", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const proxy = startProxy(makeSnapshot(VS, [instance("echo", bad)]), {
    pipeline: { replayLimit: 8 },
  });
  try {
    const big = "x".repeat(100);
    const r = await request(proxy.port, "/post", { host: "echo", method: "POST", body: big });
    assert.equal(r.status, 503);
    assert.equal(bad.count, 1, "no retry once the body exceeded the buffer");
    assert.equal(bad.seen[0].body, big);
    const small = await request(proxy.port, "/post", { host: "echo", method: "POST", body: "s" });
    assert.equal(small.status, 503);
    assert.equal(bad.count, 4, "a small body is retried twice");
  } finally {
    await proxy.close();
    await bad.close();
  }
});

Deno.test("a chunked body is buffered, replayed and re-chunked", async () => {
  const bad = startUpstream("bad", { status: 503 });
  const good = startUpstream("good");
  const proxy = startProxy(makeSnapshot(VS, [instance("echo", bad), instance("echo", good)]));
  try {
    for (let i = 0; i < 4; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      await conn.write(new TextEncoder().encode(
        "POST /c HTTP/1.1\r\nhost: echo\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n" +
          "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      ));
      let text = "";
      const buf = new Uint8Array(8192);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assert.match(text, /^HTTP\/1.1 200/);
      assert.match(text, /"body":"abcde"/);
    }
  } finally {
    await proxy.close();
    await bad.close();
    await good.close();
  }
});
