/**
 * `npm run bench -- ssl`: the ssl API through the bridge beside native OTP ssl, measured in one
 * run from an `erl` node (the caller) on its own clock (erlang:monotonic_time). The TLS peer is
 * native OTP ssl on a second `erl` node; the bridge runs in this process.
 *
 *   - round trip of `send/2` of 100 bytes and of `sockname/1` through the bridge, beside a plain
 *     Erlang-to-Erlang `gen_server:call` (caller -> peer node) and native `ssl:send/2`;
 *   - bulk throughput of 64 KiB sends, caller -> peer (upload) and peer -> caller in active mode
 *     (download), bridge and native;
 *   - full handshakes per second (connect, then close), bridge and native.
 *
 * Every figure is the median of its samples; rounds alternate bridge and native so both see the
 * same machine. Ratios are bridge / native: for times lower is better, for rates higher.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../bridge/log.js";
import { makePki } from "../test/support/certs.js";
import { startSslBridge } from "../test/support/bridge.js";
import { Epmd, ErlNode, erlc, randomCookie, stopAll } from "../test/support/erlang.js";
import { median } from "./stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROUND_TRIPS = 2_000;
const BULK_BYTES = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const HANDSHAKES = 200;

/** Helpers compiled on both erl nodes: the TLS peer's server and the caller's measurements. */
const benchModule = String.raw`
-module(ts_ssl_bench).
-export([start_server/1, start_echo/0, rtt/2, upload/4, download/3, handshake/3]).

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

%% Median nanoseconds of a full handshake: connect, then close, N times.
handshake(Mod, Port, N) ->
    rtt(fun() -> {ok, S} = connect(Mod, Port, [binary, {active, false}]), ok = Mod:close(S) end, N).
`;

interface Row {
  what: string;
  bridge: number;
  native: number;
  /** How the figures read: a time in microseconds, a rate in MiB/s, or in handshakes/s. */
  unit: "us" | "MiB/s" | "/s";
  nativeIs: string;
}

function fmt(value: number, unit: Row["unit"]): string {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit === "us" ? "µs" : unit}`;
}

function report(rows: Row[]): void {
  const w = Math.max(...rows.map((r) => r.what.length));
  console.log(`  ${"".padEnd(w)}  ${"bridge".padStart(14)}  ${"native".padStart(14)}  ratio   native is`);
  for (const r of rows) {
    const ratio = r.bridge / r.native;
    console.log(
      `  ${r.what.padEnd(w)}  ${fmt(r.bridge, r.unit).padStart(14)}  ${fmt(r.native, r.unit).padStart(14)}  ${ratio.toFixed(2).padStart(5)}x  ${r.nativeIs}`,
    );
  }
}

export async function run(): Promise<void> {
  const pki = makePki();
  const dir = mkdtempSync(join(tmpdir(), "ts-ssl-bench-"));
  writeFileSync(join(dir, "ts_ssl_bench.erl"), benchModule);
  erlc([join(dir, "ts_ssl_bench.erl")], dir);
  const cookie = randomCookie();
  const epmd = await Epmd.start();
  const bridge = await startSslBridge(cookie, epmd.port, silentLogger);
  try {
    const peer = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [dir] });
    const caller = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [dir], args: ["-ts_ssl", "bridge", bridge.name.name] });
    const port = Number(
      (
        await peer.eval(`
          {ok, _} = application:ensure_all_started(ssl), ok = ts_ssl_bench:start_echo(),
          ts_ssl_bench:start_server([{certfile, "${pki.server.certFile}"}, {keyfile, "${pki.server.keyFile}"}])`)
      ).text,
    );
    await caller.eval(`{ok, _} = application:ensure_all_started(ssl), ok = ts_ssl:start(), Peer = '${peer.nodeName}', Port = ${port}`);
    const num = async (expr: string) => Number((await caller.eval(expr)).text);

    const samples = { send: [] as number[], sockname: [] as number[], call: [] as number[], nativeSend: [] as number[] };
    const bulk = { up: [[], []] as number[][], down: [[], []] as number[][] };
    const hs: number[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      // Round trips, on one connection each way kept for the round.
      const [send, sockname, call, nativeSend] = (
        await caller.eval(`(fun() ->
          Bin = binary:copy(<<"z">>, 100),
          {ok, S} = ts_ssl:connect({127,0,0,1}, Port, [binary, {active, false}]),
          ok = ts_ssl:send(S, <<"s">>),
          {ok, N} = ssl:connect({127,0,0,1}, Port, [binary, {active, false}, {verify, verify_none}]),
          ok = ssl:send(N, <<"s">>),
          R = [ts_ssl_bench:rtt(fun() -> ok = ts_ssl:send(S, Bin) end, ${ROUND_TRIPS}),
               ts_ssl_bench:rtt(fun() -> {ok, _} = ts_ssl:sockname(S) end, ${ROUND_TRIPS}),
               ts_ssl_bench:rtt(fun() -> ping = gen_server:call({bench_echo, Peer}, ping) end, ${ROUND_TRIPS}),
               ts_ssl_bench:rtt(fun() -> ok = ssl:send(N, Bin) end, ${ROUND_TRIPS})],
          ok = ts_ssl:close(S), ok = ssl:close(N),
          R end)()`)
      ).text
        .replace(/[[\]\s]/g, "")
        .split(",")
        .map(Number);
      samples.send.push(send! / 1e3);
      samples.sockname.push(sockname! / 1e3);
      samples.call.push(call! / 1e3);
      samples.nativeSend.push(nativeSend! / 1e3);
      for (const [i, mod] of (["ts_ssl", "ssl"] as const).entries()) {
        const mib = BULK_BYTES / 1048576;
        bulk.up[i]!.push(mib / ((await num(`ts_ssl_bench:upload(${mod}, Port, ${BULK_BYTES}, ${CHUNK})`)) / 1e9));
        bulk.down[i]!.push(mib / ((await num(`ts_ssl_bench:download(${mod}, Port, ${BULK_BYTES})`)) / 1e9));
        hs[i]!.push(1e9 / (await num(`ts_ssl_bench:handshake(${mod}, Port, ${HANDSHAKES})`)));
      }
    }

    console.log(`ssl API through the bridge vs native OTP ssl (Node ${process.version}, OpenSSL ${process.versions.openssl});`);
    console.log(`medians of ${ROUNDS} rounds (${ROUND_TRIPS} round trips, ${BULK_BYTES >> 20} MiB in ${CHUNK >> 10} KiB sends, ${HANDSHAKES} handshakes each)`);
    report([
      { what: "send/2, 100 bytes", bridge: median(samples.send), native: median(samples.call), unit: "us", nativeIs: "gen_server:call erl -> erl" },
      { what: "sockname/1", bridge: median(samples.sockname), native: median(samples.call), unit: "us", nativeIs: "gen_server:call erl -> erl" },
      { what: "send/2, 100 bytes", bridge: median(samples.send), native: median(samples.nativeSend), unit: "us", nativeIs: "ssl:send/2" },
      { what: "upload, 64 KiB sends", bridge: median(bulk.up[0]!), native: median(bulk.up[1]!), unit: "MiB/s", nativeIs: "ssl" },
      { what: "download, active", bridge: median(bulk.down[0]!), native: median(bulk.down[1]!), unit: "MiB/s", nativeIs: "ssl" },
      { what: "handshakes (connect + close)", bridge: median(hs[0]!), native: median(hs[1]!), unit: "/s", nativeIs: "ssl" },
    ]);
  } finally {
    await bridge.stop();
    await stopAll();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
