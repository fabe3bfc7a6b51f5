import assert from "node:assert/strict";
import { hostsFileLookup, parseHostsFile } from "../../control/mod.ts";

Deno.test("dns: localhost names resolve locally, without asking a nameserver", async () => {
  assert.deepEqual(await hostsFileLookup("localhost"), ["127.0.0.1"]);
  assert.deepEqual(await hostsFileLookup("api.localhost."), ["127.0.0.1"]);
});

Deno.test("dns: /etc/hosts entries win, IPv4 first, comments and aliases understood", () => {
  const text =
    "# comment\n127.0.0.2  db.internal db  # trailing\n::1 db.internal\n10.0.0.1 other\n";
  assert.deepEqual(parseHostsFile(text, "db"), ["127.0.0.2"]);
  assert.deepEqual(parseHostsFile(text, "db.internal"), ["127.0.0.2"]);
  assert.deepEqual(parseHostsFile("::1 v6only\n", "v6only"), ["::1"]);
  assert.deepEqual(parseHostsFile(text, "missing"), []);
});
