/**
 * `npm run bench -- dist`: the bridge as a gen_server beside a real Erlang node, measured from a
 * third (the caller) in the same run, on the caller's clock (erlang:monotonic_time):
 *
 *   - a trivial gen_server:call, 1 caller and 16 concurrent callers: p50, p99, calls/s;
 *   - the CPU time the server and the caller spent per call with 16 callers (from the OS, for
 *     the whole process: the bridge's Node process, the server's and the caller's BEAM);
 *   - one-way throughput of 64 KiB binaries, to the server node (with the CPU per MiB it cost the
 *     server and the caller) and from it.
 *
 * All of it twice: over TCP distribution, then over TLS distribution (`-proto_dist inet_tls`
 * for the three erl nodes, the bridge's TLS transport, the same certificates and options: TLS
 * 1.2 or 1.3 as the two ends agree, both verifying the other's certificate).
 *
 * Each figure is the median of several rounds; in each round both servers are measured, and
 * they take turns at going first, so that both see the same machine. Both get the same calls
 * from the same caller node, the same warm-up round, and each reply is matched by the caller.
 * Ratios are bridge / Erlang (for latency and CPU, lower is better; for rates, higher is
 * better). BEAM's schedulers spin a while before they sleep (`+sbwt`), which counts as CPU
 * time: BENCH_ERL_ARGS="+sbwt none" measures without that.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pid, Tuple, atom, type Term } from "../etf/terms.js";
import { reply, serveCalls } from "../bridge/gen-server.js";
import { silentLogger } from "../bridge/log.js";
import { DistNode } from "../bridge/node.js";
import type { DistTransport } from "../bridge/dist-transport.js";
import { makePki } from "../test/support/certs.js";
import { Epmd, ErlNode, randomCookie, randomName, stopAll } from "../test/support/erlang.js";
import { mutualOptfile, tlsDistArgs, tlsDistTransport } from "../test/support/tls-dist.js";
import { benchRounds, ERL_ARGS, median, processCpuUs } from "./stats.js";

const ROUNDS = benchRounds(5);
const SERIAL_CALLS = 20_000;
const CONCURRENT_CALLERS = 16;
const CALLS_PER_CALLER = 4_000;
const BLOBS = 4_000;
const BLOB_SIZE = 64 * 1024;

/** The Erlang server: the plainest gen_server there is. */
const serverModule = `
-module(bench_server).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).
start() -> gen_server:start({local, bench_server}, ?MODULE, [], []).
init([]) -> {ok, nil}.
handle_call(Req, _From, S) -> {reply, Req, S}.
handle_cast(_, S) -> {noreply, S}.
handle_info(_, S) -> {noreply, S}.
`;

/** Measurements, defined on the caller node once. Each returns what the report needs. */
const callerFuns = `
Pct = fun(Sorted, Len, P) -> lists:nth(max(1, min(Len, round(P * Len))), Sorted) end,
Serial = fun(Dest, N) ->
  [begin T0 = erlang:monotonic_time(nanosecond), ping = gen_server:call(Dest, ping, 60000),
         erlang:monotonic_time(nanosecond) - T0 end || _ <- lists:seq(1, N)]
end,
Calls = fun(Dest, C, N) ->
  Parent = self(),
  T0 = erlang:monotonic_time(nanosecond),
  Ps = [spawn_link(fun() -> Parent ! {self(), Serial(Dest, N)} end) || _ <- lists:seq(1, C)],
  All = lists:append([receive {P, Ds} -> Ds end || P <- Ps]),
  Wall = erlang:monotonic_time(nanosecond) - T0,
  Sorted = lists:sort(All), Len = length(Sorted),
  {Pct(Sorted, Len, 0.5), Pct(Sorted, Len, 0.99), Len * 1000000000 / Wall}
end,
SendBlobs = fun(Sink, K, Size) ->
  Blob = binary:copy(<<7>>, Size),
  T0 = erlang:monotonic_time(nanosecond),
  [Sink ! {blob, Blob} || _ <- lists:seq(1, K)],
  Sink ! {done, self()},
  receive done -> ok after 120000 -> exit(timeout) end,
  K * Size / ((erlang:monotonic_time(nanosecond) - T0) / 1.0e9) / 1048576
end,
PullBlobs = fun(Source, K, Size) ->
  T0 = erlang:monotonic_time(nanosecond),
  Source ! {blast, self(), K, Size},
  Recv = fun Loop(0) -> ok; Loop(Left) -> receive {blob, _} -> Loop(Left - 1) after 120000 -> exit(timeout) end end,
  Recv(K),
  K * Size / ((erlang:monotonic_time(nanosecond) - T0) / 1.0e9) / 1048576
end,
ok.
`;

/** The Erlang sink and source processes, on the server node. */
const serverBlobs = `
Sink = fun SinkLoop() -> receive {blob, _} -> SinkLoop(); {done, From} -> From ! done, SinkLoop() end end,
register(bench_sink, spawn(Sink)),
Source = fun SourceLoop() ->
  receive {blast, To, K, Size} -> Blob = binary:copy(<<7>>, Size), [To ! {blob, Blob} || _ <- lists:seq(1, K)], SourceLoop() end
end,
register(bench_source, spawn(Source)),
ok.
`;

interface Figures {
  p50us1: number;
  p99us1: number;
  rate1: number;
  p50us16: number;
  p99us16: number;
  rate16: number;
  /** CPU microseconds per call with 16 callers: the server's process, the caller's. */
  serverCpu16: number;
  callerCpu16: number;
  toMiBs: number;
  fromMiBs: number;
  /** CPU milliseconds per MiB of the 64 KiB binaries sent to the server: the server's, the caller's. */
  serverCpuTo: number;
  callerCpuTo: number;
}

export async function run(): Promise<void> {
  await runOver("TCP distribution", [], undefined, true);
  const pki = makePki();
  try {
    const file = mutualOptfile(pki.dir, "bench", pki.server, pki.caFile);
    await runOver("TLS distribution (-proto_dist inet_tls, every node)", tlsDistArgs(file), tlsDistTransport(file), false);
  } finally {
    pki.remove();
  }
}

/** Every figure for the bridge and the Erlang server, the nodes started with `distArgs`. */
async function runOver(title: string, distArgs: string[], transport: DistTransport | undefined, withTargets: boolean): Promise<void> {
  const epmd = await Epmd.start();
  const cookie = randomCookie();
  const bridge = await DistNode.start({
    name: randomName("benchbridge"),
    cookie,
    epmdPort: epmd.port,
    logger: silentLogger,
    ...(transport !== undefined ? { transport } : {}),
  });
  const dir = mkdtempSync(join(tmpdir(), "bench-dist-"));
  try {
    const server = await ErlNode.start({ epmdPort: epmd.port, cookie, args: [...distArgs, ...ERL_ARGS] });
    const caller = await ErlNode.start({ epmdPort: epmd.port, cookie, args: [...distArgs, ...ERL_ARGS] });
    writeFileSync(join(dir, "bench_server.erl"), serverModule);
    await server.eval(`{ok, bench_server} = c:c("${join(dir, "bench_server.erl")}", [{outdir, "${dir}"}]), {ok, _} = bench_server:start(), ok`);
    await server.eval(serverBlobs);
    startBridgeSide(bridge);
    await caller.eval(callerFuns);

    const targets = {
      bridge: { node: bridge.name.name, name: "bench_bridge", cpu: () => ownCpuUs() },
      erlang: { node: server.nodeName, name: "bench_server", cpu: () => processCpuUs(server.pid) },
    };
    const callerCpu = () => processCpuUs(caller.pid);
    const rounds: Record<keyof typeof targets, Figures[]> = { bridge: [], erlang: [] };
    for (let round = 0; round <= ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["bridge", "erlang"] as const) : (["erlang", "bridge"] as const)) {
        const t = targets[which];
        const f = await measure(caller, t.node, t.name, t.cpu, callerCpu);
        // Round 0 warms both sides up (JIT, connections) and is not counted.
        if (round > 0) rounds[which].push(f);
      }
    }
    report(title, medians(rounds.bridge), medians(rounds.erlang), withTargets);
  } finally {
    await bridge.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bridge's server, sink and source: the same work as the Erlang ones. */
function startBridgeSide(bridge: DistNode): void {
  const server = serveCalls(bridge, atom("bench_bridge"), (request, from) => reply(server, from, request));
  const blob = atom("blob");
  const done = atom("done");
  bridge.spawn(
    {
      message(msg, self) {
        if (msg instanceof Tuple && msg.elements[0] === done) self.send(msg.elements[1] as Pid, done);
      },
    },
    { register: atom("bench_sink") },
  );
  bridge.spawn(
    {
      message(msg, self) {
        if (!(msg instanceof Tuple) || msg.size !== 4) return;
        const [, to, k, size] = msg.elements as [Term, Pid, number, number];
        const m = new Tuple([blob, Buffer.alloc(size, 7)]);
        for (let i = 0; i < k; i++) self.send(to, m);
      },
    },
    { register: atom("bench_source") },
  );
}

async function measure(caller: ErlNode, node: string, name: string, serverCpu: () => number, callerCpu: () => number): Promise<Figures> {
  const dest = `{${name}, '${node}'}`;
  const one = await caller.eval(`Calls(${dest}, 1, ${SERIAL_CALLS})`);
  const [s0, c0] = [serverCpu(), callerCpu()];
  const many = await caller.eval(`Calls(${dest}, ${CONCURRENT_CALLERS}, ${CALLS_PER_CALLER})`);
  const calls = CONCURRENT_CALLERS * CALLS_PER_CALLER;
  const [s1, c1] = [serverCpu(), callerCpu()];
  const to = await caller.eval(`SendBlobs({bench_sink, '${node}'}, ${BLOBS}, ${BLOB_SIZE})`);
  const [s2, c2] = [serverCpu(), callerCpu()];
  const mib = (BLOBS * BLOB_SIZE) / 1048576;
  const from = await caller.eval(`PullBlobs({bench_source, '${node}'}, ${BLOBS}, ${BLOB_SIZE})`);
  const [p50a, p99a, ratea] = numbers(one.text);
  const [p50b, p99b, rateb] = numbers(many.text);
  return {
    p50us1: p50a! / 1000,
    p99us1: p99a! / 1000,
    rate1: ratea!,
    p50us16: p50b! / 1000,
    p99us16: p99b! / 1000,
    rate16: rateb!,
    serverCpu16: (s1 - s0) / calls,
    callerCpu16: (c1 - c0) / calls,
    toMiBs: Number(to.text),
    fromMiBs: Number(from.text),
    serverCpuTo: (s2 - s1) / 1e3 / mib,
    callerCpuTo: (c2 - c1) / 1e3 / mib,
  };
}

/** This process's CPU time (user and system), in microseconds. */
function ownCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function numbers(text: string): number[] {
  return text
    .replace(/[{}\s]/g, "")
    .split(",")
    .map(Number);
}

/** Each figure's median over the rounds. */
function medians(all: Figures[]): Figures {
  const out = { ...all[0]! };
  for (const k of Object.keys(out) as Array<keyof Figures>) out[k] = median(all.map((f) => f[k]));
  return out;
}

function report(title: string, b: Figures, e: Figures, withTargets: boolean): void {
  const rows: Array<[string, number, number, string]> = [
    ["call p50, 1 caller (us)", b.p50us1, e.p50us1, "<= 1.2"],
    ["call p99, 1 caller (us)", b.p99us1, e.p99us1, ""],
    ["calls/s, 1 caller", b.rate1, e.rate1, ""],
    [`call p50, ${CONCURRENT_CALLERS} callers (us)`, b.p50us16, e.p50us16, ""],
    [`call p99, ${CONCURRENT_CALLERS} callers (us)`, b.p99us16, e.p99us16, ""],
    [`calls/s, ${CONCURRENT_CALLERS} callers`, b.rate16, e.rate16, ">= 1.0"],
    [`server CPU per call, ${CONCURRENT_CALLERS} callers (us)`, b.serverCpu16, e.serverCpu16, ""],
    [`caller CPU per call, ${CONCURRENT_CALLERS} callers (us)`, b.callerCpu16, e.callerCpu16, ""],
    ["64 KiB binaries to the node (MiB/s)", b.toMiBs, e.toMiBs, ""],
    ["  its server CPU per MiB (ms)", b.serverCpuTo, e.serverCpuTo, ""],
    ["  its caller CPU per MiB (ms)", b.callerCpuTo, e.callerCpuTo, ""],
    ["64 KiB binaries from the node (MiB/s)", b.fromMiBs, e.fromMiBs, ""],
  ];
  console.log(`${title}: medians of ${ROUNDS} rounds; times measured on the calling erl node, CPU time as the OS counts it`);
  console.log(`${"".padEnd(40)}${"bridge".padStart(12)}${"erlang".padStart(12)}${"ratio".padStart(9)}${withTargets ? "  target" : ""}`);
  for (const [what, x, y, target] of rows) {
    console.log(`${what.padEnd(40)}${fmt(x).padStart(12)}${fmt(y).padStart(12)}${(x / y).toFixed(2).padStart(9)}${withTargets ? `  ${target}` : ""}`);
  }
}

function fmt(n: number): string {
  return n >= 1000 ? Math.round(n).toLocaleString("en-US") : n.toFixed(n < 10 ? 2 : 1);
}
