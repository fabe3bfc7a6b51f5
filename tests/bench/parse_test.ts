import assert from "node:assert/strict";
import {
  formatTable,
  parseH2loadLog,
  parseH2loadSummary,
  parseProcStat,
  parseWrk,
  percentile,
  procStatusKb,
  wrkDurationMs,
} from "./parse.ts";

const WRK_OUT = `Running 1s test @ http://127.0.0.1:18931/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   443.20us  509.62us   6.37ms   94.04%
    Req/Sec    42.74k     8.52k   52.53k    77.27%
  Latency Distribution
     50%  320.00us
     75%  435.00us
     90%  655.00us
     99%    3.08ms
  93348 requests in 1.10s, 98.37MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  84859.27
Transfer/sec:     89.43MB
`;

Deno.test("parseWrk reads rate, percentiles in ms and errors", () => {
  const r = parseWrk(WRK_OUT);
  assert.equal(r.requestsPerSec, 84859.27);
  assert.equal(r.requests, 93348);
  assert.deepEqual(r.percentiles, { 50: 0.32, 75: 0.435, 90: 0.655, 99: 3.08 });
  assert.equal(r.errors, 12);
});

Deno.test("parseWrk rejects output without a summary", () => {
  assert.throws(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused"), /summary/);
});

Deno.test("wrkDurationMs converts every unit", () => {
  assert.equal(wrkDurationMs("250.00us"), 0.25);
  assert.equal(wrkDurationMs("1.50ms"), 1.5);
  assert.equal(wrkDurationMs("2.00s"), 2000);
  assert.equal(wrkDurationMs("1.00m"), 60000);
  assert.throws(() => wrkDurationMs("3h"), /cannot read/);
});

const H2LOAD_OUT = `Main benchmark duration is over for thread #0. Stopping all clients.

finished in 3.00s, 1000.00 req/s, 1.05MB/s
requests: 2000 total, 2016 started, 1998 done, 1990 succeeded, 8 failed, 1 errored, 1 timeout
status codes: 1985 2xx, 0 3xx, 5 4xx, 0 5xx
traffic: 2.11MB (2210000) total, 157.99KB (161784) headers (space savings 0.00%), 2.93MB (3067904) data
                     min         max         mean         sd        +/- sd
time for request:       27us       631us       208us       113us    62.85%
`;

Deno.test("parseH2loadSummary reads rate and counts", () => {
  assert.deepEqual(parseH2loadSummary(H2LOAD_OUT), {
    requestsPerSec: 1000,
    total: 2000,
    succeeded: 1990,
    failed: 10,
    status2xx: 1985,
  });
  assert.throws(() => parseH2loadSummary("connect failed"), /no summary/);
});

Deno.test("parseH2loadLog reads start, status and duration", () => {
  const rows = parseH2loadLog("1795301799798661\t200\t979\n1795301799798646\t-1\t1028\t7\n\n");
  assert.deepEqual(rows, [
    { startUs: 1795301799798661, status: 200, durationUs: 979 },
    { startUs: 1795301799798646, status: -1, durationUs: 1028 },
  ]);
  assert.throws(() => parseH2loadLog("garbage"), /3 columns/);
});

Deno.test("percentile uses nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 90), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("procStatusKb and parseProcStat read /proc formats", () => {
  const status = "Name:\tdeno\nVmPeak:\t  900 kB\nVmHWM:\t   53124 kB\nVmRSS:\t   50000 kB\n";
  assert.equal(procStatusKb(status, "VmHWM"), 53124);
  assert.equal(procStatusKb(status, "VmRSS"), 50000);
  assert.ok(Number.isNaN(procStatusKb(status, "VmSwap")));
  const stat = "1234 (tokio (rt) x) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 5";
  assert.deepEqual(parseProcStat(stat), { ppid: 77, cpuTicks: 281 });
});

Deno.test("formatTable aligns columns", () => {
  const t = formatTable([["target", "req/s"], ["nginx", "12"], ["mesh", "1234"]]);
  assert.equal(t, "target  req/s\n------  -----\nnginx      12\nmesh     1234");
});
