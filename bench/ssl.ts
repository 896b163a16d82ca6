/**
 * `npm run bench -- ssl`: the ssl API through the bridge beside native OTP ssl, measured in one
 * run from an `erl` node (the caller) on its own clock (erlang:monotonic_time). Upload and
 * download go to a native OTP ssl server on a second `erl` node; handshakes are made with a
 * node:tls peer in a process of its own (bench/tls-peer.ts); the bridge runs in this process.
 *
 *   - upload: 64 KiB `send/2`s to the native receiver, once with its default buffer and once
 *     with `{buffer, 65536}`; download: the same receiver's 64 KiB writes in active mode;
 *   - handshakes per second, 16 at a time: as a client (`connect` + `close`) against a node:tls
 *     server (RSA-2048), not verifying it and then verifying it against a CA file of public
 *     roots and ours, and as a server (`transport_accept` + `ssl_accept` + `close`, natively
 *     `transport_accept` + `handshake` + `close`) for node:tls clients;
 *   - calls per second from 16 concurrent callers: `sockname/1` against `gen_server:call` from
 *     the caller to a process on the second node;
 *   - the p50 of one `sockname/1` beside that `gen_server:call`, in alternated blocks: the median
 *     of the blocks' p50s.
 *
 * Rounds alternate bridge and native so both see the same machine; each figure is the median of
 * its rounds. Ratios are bridge / native: for times lower is better, for rates higher. A first
 * round, not counted, lets both sides reach their steady state, as in a bridge that has been up
 * a while (V8 compiles the bridge's hot paths as they run: cold, its upload is a third slower,
 * and a handshake takes a fifth more CPU).
 *
 * On Linux the CPU time of each process (user + system, from /proc) is taken around every
 * measurement and printed per unit of work: for the bridge's figures the caller's node, the
 * bridge and the peer; for native's the caller's node and the peer. When the processes keep every
 * core busy, as on a small machine, the rate follows the total: native's total over the bridge's
 * is then the ratio to expect. One more upload, by a bare node:tls client in a process of its
 * own, shows what node:tls alone reaches against the same receiver. BENCH_ERL_ARGS gives both
 * `erl` nodes extra flags.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../bridge/log.js";
import { makePki } from "../test/support/certs.js";
import { startSslBridge } from "../test/support/bridge.js";
import { Epmd, ErlNode, erlc, randomCookie, stopAll } from "../test/support/erlang.js";
import { benchRounds, ERL_ARGS, median, processCpuUs } from "./stats.js";

const ROUNDS = benchRounds(3);
const BLOCKS = 5;
const ROUND_TRIPS = 2_000;
const BULK_BYTES = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const CONCURRENCY = 16;
const HANDSHAKES = 320;
const CALLS_PER_CALLER = 1_000;

const benchModule = String.raw`
-module(ts_ssl_bench).
-export([start_server/1, start_echo/0, rtt/2, upload/4, download/3, listen/2, handshakes_as_client/4, handshakes_verified/5,
         handshakes_as_server/4, calls/3]).

%% The peer: a native ssl server; the first bytes of a connection say what to do:
%% <<"u", Total:64>> read Total bytes then answer <<"k">>; <<"d", Total:64>> send Total bytes in
%% 64 KiB writes; <<"s">> read until the end.
%% The listen socket belongs to the accepting process, which outlives the caller.
start_server(Options) ->
    Parent = self(),
    spawn(fun() ->
                  {ok, L} = ssl:listen(0, [binary, {active, false}, {reuseaddr, true}, {ip, {127,0,0,1}},
                                           {backlog, 128} | Options]),
                  {ok, {_, Port}} = ssl:sockname(L),
                  Parent ! {port, Port},
                  accept_loop(L)
          end),
    receive {port, Port} -> Port end.

accept_loop(L) ->
    {ok, T} = ssl:transport_accept(L),
    Pid = spawn(fun() -> receive go -> serve(T) end end),
    ok = ssl:controlling_process(T, Pid),
    Pid ! go,
    accept_loop(L).

serve(T) ->
    case ssl:handshake(T, 10000) of
        {ok, S} -> command(S);
        _ -> ok
    end.

command(S) ->
    case ssl:recv(S, 1) of
        {ok, <<"u">>} -> {ok, <<Total:64>>} = ssl:recv(S, 8), sink(S, Total), ok = ssl:send(S, <<"k">>), drain(S);
        {ok, <<"d">>} -> {ok, <<Total:64>>} = ssl:recv(S, 8), source(S, Total, binary:copy(<<"x">>, 65536)), drain(S);
        _ -> drain(S)
    end.

sink(_S, 0) -> ok;
sink(S, Left) -> {ok, D} = ssl:recv(S, 0), sink(S, Left - byte_size(D)).

source(_S, 0, _Chunk) -> ok;
source(S, Left, Chunk) ->
    N = min(Left, byte_size(Chunk)),
    <<Part:N/binary, _/binary>> = Chunk,
    ok = ssl:send(S, Part),
    source(S, Left - N, Chunk).

drain(S) -> case ssl:recv(S, 0) of {ok, _} -> drain(S); _ -> ssl:close(S) end.

%% A registered process answering gen_server calls with the request.
start_echo() ->
    Pid = spawn(fun Loop() -> receive {'$gen_call', From, Req} -> gen:reply(From, Req), Loop() end end),
    true = register(bench_echo, Pid),
    ok.

%% The caller: median nanoseconds of N calls of Fun.
rtt(Fun, N) ->
    median([begin T0 = erlang:monotonic_time(nanosecond), Fun(), erlang:monotonic_time(nanosecond) - T0 end
            || _ <- lists:seq(1, N)]).

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

connect(ssl, Port, Options) -> ssl:connect({127,0,0,1}, Port, [{verify, verify_none} | Options], 10000);
connect(ts_ssl, Port, Options) -> ts_ssl:connect({127,0,0,1}, Port, Options, 10000).

%% Nanoseconds to send Total bytes in Chunk-sized sends and hear that they all arrived.
upload(Mod, Port, Total, Chunk) ->
    {ok, S} = connect(Mod, Port, [binary, {active, false}]),
    ok = Mod:send(S, <<"u", Total:64>>),
    Data = binary:copy(<<"y">>, Chunk),
    T0 = erlang:monotonic_time(nanosecond),
    send_all(Mod, S, Data, Total),
    {ok, <<"k">>} = Mod:recv(S, 1, 60000),
    T = erlang:monotonic_time(nanosecond) - T0,
    ok = Mod:close(S),
    T.

send_all(_Mod, _S, _Data, 0) -> ok;
send_all(Mod, S, Data, Left) ->
    N = min(Left, byte_size(Data)),
    <<Part:N/binary, _/binary>> = Data,
    ok = Mod:send(S, Part),
    send_all(Mod, S, Data, Left - N).

%% Nanoseconds to receive Total bytes as {ssl, S, Data} messages (the peer sends 64 KiB writes).
download(Mod, Port, Total) ->
    {ok, S} = connect(Mod, Port, [binary, {active, true}]),
    T0 = erlang:monotonic_time(nanosecond),
    ok = Mod:send(S, <<"d", Total:64>>),
    receive_all(S, Total),
    T = erlang:monotonic_time(nanosecond) - T0,
    ok = Mod:close(S),
    T.

receive_all(_S, Left) when Left =< 0 -> ok;
receive_all(S, Left) ->
    receive
        {ssl, S, D} -> receive_all(S, Left - byte_size(D));
        {ssl_closed, S} -> exit(closed)
    after 60000 -> exit(timeout)
    end.

%% Nanoseconds for Conc processes to run Fun Total times in all (Total a multiple of Conc).
parallel(Conc, Total, Fun) ->
    Parent = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pids = [spawn_link(fun() -> repeat(Fun, Total div Conc), Parent ! {done, self()} end) || _ <- lists:seq(1, Conc)],
    [receive {done, P} -> ok end || P <- Pids],
    erlang:monotonic_time(nanosecond) - T0.

repeat(_Fun, 0) -> ok;
repeat(Fun, N) -> Fun(), repeat(Fun, N - 1).

%% Nanoseconds for Total full handshakes as a client, Conc at a time: connect, then close.
handshakes_as_client(Mod, Port, Conc, Total) ->
    parallel(Conc, Total, fun() -> {ok, S} = connect(Mod, Port, [binary, {active, false}]), ok = Mod:close(S) end).

%% The same, verifying the server's certificate against the CA file CaFile (no host name check:
%% ssl 3.9 made none).
handshakes_verified(Mod, Port, CaFile, Conc, Total) ->
    Verify = case Mod of
                 ssl -> [{verify, verify_peer}, {server_name_indication, disable}];
                 ts_ssl -> [{verify, 2}]
             end,
    Options = [binary, {active, false}, {cacertfile, CaFile} | Verify],
    parallel(Conc, Total, fun() -> {ok, S} = Mod:connect({127,0,0,1}, Port, Options, 10000), ok = Mod:close(S) end).

%% A listen socket on 127.0.0.1 with the given certificate options, held by a process of its own
%% (each evaluation runs in a short-lived one) until it is told to close it: {Holder, L, Port}.
listen(Mod, Options) ->
    Parent = self(),
    Holder = spawn(fun() ->
                           {ok, L} = Mod:listen(0, [binary, {active, false}, {reuseaddr, true}, {ip, {127,0,0,1}},
                                                    {backlog, 128} | Options]),
                           {ok, {_, Port}} = Mod:sockname(L),
                           Parent ! {self(), L, Port},
                           receive {close, From} -> ok = Mod:close(L), From ! {self(), closed} end
                   end),
    receive {Holder, L, Port} -> {Holder, L, Port} end.

accept(ssl, L) -> {ok, T} = ssl:transport_accept(L), {ok, S} = ssl:handshake(T), ok = ssl:close(S);
accept(ts_ssl, L) -> {ok, S} = ts_ssl:transport_accept(L), ok = ts_ssl:ssl_accept(S), ok = ts_ssl:close(S).

%% Nanoseconds for Total full handshakes as a server, Conc at a time, once the clients are there.
handshakes_as_server(Mod, L, Conc, Total) ->
    _ = parallel(Conc, Conc, fun() -> accept(Mod, L) end),
    parallel(Conc, Total, fun() -> accept(Mod, L) end).

%% Nanoseconds for Conc callers to make PerCaller calls of Fun each.
calls(Fun, Conc, PerCaller) -> parallel(Conc, Conc * PerCaller, Fun).
`;

/** One side's samples of a row: the figure of each round, and the CPU seconds per unit of work of each process. */
interface Side {
  figures: number[];
  cpu: number[][];
}

interface Row {
  what: string;
  bridge: Side;
  native: Side;
  /** How the figures read: a time in microseconds, a rate in MiB/s, or in handshakes/s. */
  unit: "us" | "MiB/s" | "/s";
  nativeIs: string;
  /** The unit of work the CPU times are given for, if they were taken. */
  per?: string;
}

const side = (): Side => ({ figures: [], cpu: [] });

function fmt(value: number, unit: Row["unit"]): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit === "us" ? "µs" : unit}`;
}

/** The median of each process's CPU per unit over the rounds, or undefined if a round had none. */
function cpuMedians(s: Side): number[] | undefined {
  if (s.cpu.length === 0 || s.cpu.some((c) => c.length === 0)) return undefined;
  return s.cpu[0]!.map((_, p) => median(s.cpu.map((c) => c[p]!)));
}

function report(rows: Row[]): void {
  const w = Math.max(...rows.map((r) => r.what.length));
  console.log(`  ${"".padEnd(w)}  ${"bridge".padStart(14)}  ${"native".padStart(14)}  ratio   native is`);
  for (const r of rows) {
    const [bridge, native] = [median(r.bridge.figures), median(r.native.figures)];
    console.log(
      `  ${r.what.padEnd(w)}  ${fmt(bridge, r.unit).padStart(14)}  ${fmt(native, r.unit).padStart(14)}  ${(bridge / native).toFixed(2).padStart(5)}x  ${r.nativeIs}`,
    );
  }
  const withCpu = rows.flatMap((r) => {
    const [bridge, native] = [cpuMedians(r.bridge), cpuMedians(r.native)];
    return r.per !== undefined && bridge !== undefined && native !== undefined ? [{ r, bridge, native }] : [];
  });
  if (withCpu.length === 0) return;
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const n = (x: number): string => x.toFixed(x >= 10 ? 1 : 2);
  console.log(`\nCPU per unit of work (user + system; medians of the rounds):`);
  console.log(`  ${"".padEnd(w)}  ${"per".padEnd(9)}  bridge: caller + bridge + peer = total    native: caller + peer = total   native/bridge`);
  for (const { r, bridge, native } of withCpu) {
    const [b, nat] = [sum(bridge), sum(native)];
    const bridgeText = `${bridge.map(n).join(" + ")} = ${n(b)}`;
    const nativeText = `${native.map(n).join(" + ")} = ${n(nat)}`;
    console.log(`  ${r.what.padEnd(w)}  ${r.per!.padEnd(9)}  ${bridgeText.padEnd(39)}  ${nativeText.padEnd(29)}  ${(nat / b).toFixed(2).padStart(5)}x`);
  }
}

/** The node:tls peer (tls-peer.ts) in a process of its own; the first line it prints, if asked. */
async function tlsPeer(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), "tls-peer.js");
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  if (args[0] !== "server") return { child, port: 0 };
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return { child, port: Number(line.toString().trim()) };
}

async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill();
  await exited;
}

export async function run(): Promise<void> {
  const pki = makePki();
  const dir = mkdtempSync(join(tmpdir(), "ts-ssl-bench-"));
  writeFileSync(join(dir, "ts_ssl_bench.erl"), benchModule);
  // What clients verify against in practice: a bundle of public roots (node:tls's), and ours.
  const caBundle = join(dir, "ca-bundle.pem");
  writeFileSync(caBundle, [...rootCertificates, readFileSync(pki.caFile, "latin1")].join("\n"));
  const bundleSize = `${rootCertificates.length + 1} roots`;
  erlc([join(dir, "ts_ssl_bench.erl")], dir);
  const cookie = randomCookie();
  const epmd = await Epmd.start();
  const bridge = await startSslBridge(cookie, epmd.port, silentLogger);
  const peers: ChildProcess[] = [];
  try {
    const peer = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [dir], args: ERL_ARGS });
    const caller = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [dir], args: ["-ts_ssl", "bridge", bridge.name.name, ...ERL_ARGS] });
    const certificate = `[{certfile, "${pki.rsaServer.certFile}"}, {keyfile, "${pki.rsaServer.keyFile}"}]`;
    const ports = (
      await peer.eval(`
        {ok, _} = application:ensure_all_started(ssl), ok = ts_ssl_bench:start_echo(),
        [ts_ssl_bench:start_server(${certificate}), ts_ssl_bench:start_server([{buffer, 65536} | ${certificate}])]`)
    ).text
      .replace(/[[\]\s]/g, "")
      .split(",")
      .map(Number);
    const tlsServer = await tlsPeer(["server", pki.rsaServer.certFile, pki.rsaServer.keyFile]);
    peers.push(tlsServer.child);
    await caller.eval(`{ok, _} = application:ensure_all_started(ssl), ok = ts_ssl:start(), Peer = '${peer.nodeName}',
      Port = ${ports[0]}, Port64k = ${ports[1]}, TlsPort = ${tlsServer.port}, Cert = ${certificate},
      {ok, S} = ts_ssl:connect({127,0,0,1}, Port, [binary, {active, false}]), ok = ts_ssl:send(S, <<"s">>),
      %% Each evaluation runs in a process of its own; the socket needs an owner that stays.
      Holder = spawn(fun() -> receive stop -> ok end end), ok = ts_ssl:controlling_process(S, Holder),
      Sockname = fun() -> {ok, _} = ts_ssl:sockname(S) end,
      Call = fun() -> ping = gen_server:call({bench_echo, Peer}, ping) end, ok`);
    const num = async (expr: string) => {
      const { text } = await caller.eval(expr);
      if (!/^\d+$/.test(text)) throw new Error(`${expr} gave ${text}`);
      return Number(text);
    };
    const [callerPid, peerPid] = [caller.pid, peer.pid];
    const mods = ["ts_ssl", "ssl"] as const;
    /**
     * Runs one measurement of side `s`, which answers its nanoseconds, for `work` units of work
     * (the figure: units per second), and takes the CPU of the processes involved: the caller's
     * node, the bridge (for ts_ssl) and the peer, in `cpuUnit` parts of a second per unit.
     */
    const measure = async (s: Side, mod: (typeof mods)[number], expr: string, work: number, cpuUnit: number, peerOs?: number) => {
      const pids = mod === "ts_ssl" ? [callerPid, process.pid, peerOs] : [callerPid, peerOs];
      const before = pids.map(processCpuUs);
      const ns = await num(expr);
      const used = pids.map((pid, p) => processCpuUs(pid) - before[p]!);
      s.figures.push(work / (ns / 1e9));
      if (used.every(Number.isFinite)) s.cpu.push(used.map((us) => (us / 1e6) * (cpuUnit / work)));
    };

    // Small calls first, alone on the machine as far as this run goes.
    const p50: Side[] = [side(), side()];
    for (let block = 0; block < BLOCKS; block++) {
      p50[0]!.figures.push((await num(`ts_ssl_bench:rtt(Sockname, ${ROUND_TRIPS})`)) / 1e3);
      p50[1]!.figures.push((await num(`ts_ssl_bench:rtt(Call, ${ROUND_TRIPS})`)) / 1e3);
    }
    const mib = BULK_BYTES / 1048576;
    const up: Side[] = [side(), side()];
    const up64k: Side[] = [side(), side()];
    const down: Side[] = [side(), side()];
    const hsClient: Side[] = [side(), side()];
    const hsVerified: Side[] = [side(), side()];
    const hsServer: Side[] = [side(), side()];
    const calls: Side[] = [side(), side()];
    const alone = side();
    const [ms, us] = [1e3, 1e6];
    // Round -1 is the uncounted first one.
    for (let round = -1; round < ROUNDS; round++) {
      const counted = (s: Side): Side => (round < 0 ? side() : s);
      for (const [i, mod] of mods.entries()) {
        const bulk = (rows: Side[], expr: string) => measure(counted(rows[i]!), mod, expr, mib, ms, peerPid);
        await bulk(up, `ts_ssl_bench:upload(${mod}, Port, ${BULK_BYTES}, ${CHUNK})`);
        await bulk(up64k, `ts_ssl_bench:upload(${mod}, Port64k, ${BULK_BYTES}, ${CHUNK})`);
        await bulk(down, `ts_ssl_bench:download(${mod}, Port, ${BULK_BYTES})`);
        const clientExpr = `ts_ssl_bench:handshakes_as_client(${mod}, TlsPort, ${CONCURRENCY}, ${HANDSHAKES})`;
        await measure(counted(hsClient[i]!), mod, clientExpr, HANDSHAKES, ms, tlsServer.child.pid);
        const verifiedExpr = `ts_ssl_bench:handshakes_verified(${mod}, TlsPort, "${caBundle}", ${CONCURRENCY}, ${HANDSHAKES})`;
        await measure(counted(hsVerified[i]!), mod, verifiedExpr, HANDSHAKES, ms, tlsServer.child.pid);
        // Bindings last for the node's life: each listen socket gets a name of its own.
        const l = `L${round + 1}_${i}`;
        const listenPort = await num(`{H${l}, ${l}, P${l}} = ts_ssl_bench:listen(${mod}, Cert), P${l}`);
        const clients = await tlsPeer(["client", String(listenPort), String(CONCURRENCY)]);
        peers.push(clients.child);
        const serverExpr = `ts_ssl_bench:handshakes_as_server(${mod}, ${l}, ${CONCURRENCY}, ${HANDSHAKES})`;
        await measure(counted(hsServer[i]!), mod, serverExpr, HANDSHAKES, ms, clients.child.pid);
        await stopPeer(clients.child);
        await caller.eval(`H${l} ! {close, self()}, receive {H${l}, closed} -> ok end`);
        const fun = mod === "ts_ssl" ? "Sockname" : "Call";
        const callsExpr = `ts_ssl_bench:calls(${fun}, ${CONCURRENCY}, ${CALLS_PER_CALLER})`;
        await measure(counted(calls[i]!), mod, callsExpr, CONCURRENCY * CALLS_PER_CALLER, us, peerPid);
      }
      const peerBefore = processCpuUs(peerPid);
      const [ns, clientCpu] = await nodeTlsUpload(ports[1]!);
      counted(alone).figures.push(mib / (ns / 1e9));
      const peerCpu = (processCpuUs(peerPid) - peerBefore) / 1e6;
      if (Number.isFinite(peerCpu)) counted(alone).cpu.push([(clientCpu * ms) / mib, 0, (peerCpu * ms) / mib]);
    }
    await caller.eval(`ok = ts_ssl:close(S), Holder ! stop, ok`);

    console.log(`ssl API through the bridge vs native OTP ssl (Node ${process.version}, OpenSSL ${process.versions.openssl});`);
    console.log(
      `medians of ${ROUNDS} rounds (${BULK_BYTES >> 20} MiB in ${CHUNK >> 10} KiB sends, ${HANDSHAKES} handshakes and ` +
        `${CALLS_PER_CALLER} calls per caller, ${CONCURRENCY} at a time), and of ${BLOCKS} blocks' p50 of ${ROUND_TRIPS} calls`,
    );
    const row = (what: string, [bridgeSide, nativeSide]: Side[], unit: Row["unit"], nativeIs: string, per?: string): Row => ({
      what,
      bridge: bridgeSide!,
      native: nativeSide!,
      unit,
      nativeIs,
      per,
    });
    report([
      row("upload, 64 KiB sends", up, "MiB/s", "ssl:send/2, receiver's default buffer", "ms/MiB"),
      row("upload, 64 KiB sends, {buffer, 65536}", up64k, "MiB/s", "ssl:send/2, receiver with {buffer, 65536}", "ms/MiB"),
      row("download, active", down, "MiB/s", "ssl", "ms/MiB"),
      row(`handshakes as client, ${CONCURRENCY} at a time`, hsClient, "/s", "ssl:connect + close, node:tls server", "ms/each"),
      row(`handshakes as client, verifying, ${CONCURRENCY} at a time`, hsVerified, "/s", `the same, verify_peer, CA file of ${bundleSize}`, "ms/each"),
      row(`handshakes as server, ${CONCURRENCY} at a time`, hsServer, "/s", "ssl:transport_accept + handshake + close", "ms/each"),
      row(`calls/s, ${CONCURRENCY} callers (sockname/1)`, calls, "/s", "gen_server:call erl -> erl", "µs/call"),
      row("small call p50 (sockname/1)", p50, "us", "gen_server:call erl -> erl"),
      row("upload, node:tls alone, {buffer, 65536}", [alone, up64k[1]!], "MiB/s", "as above; bridge: a bare node:tls client", "ms/MiB"),
    ]);
  } finally {
    await Promise.all(peers.map(stopPeer));
    await bridge.stop();
    await stopAll();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  }

  /** A bare node:tls client's upload to the native receiver on `port`: its nanoseconds and CPU seconds. */
  async function nodeTlsUpload(port: number): Promise<[number, number]> {
    const { child } = await tlsPeer(["upload", String(port), String(BULK_BYTES), String(CHUNK)]);
    const exited = once(child, "exit");
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    await exited;
    const [ns, cpu] = line.toString().trim().split(" ").map(Number);
    return [ns!, cpu!];
  }
}
