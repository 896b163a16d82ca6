/**
 * Faults, each against a bridge started as `npm start` starts it, in a process of its own, and
 * driven from real `erl` nodes: the bridge SIGKILLed, SIGTERMed, an owner's node SIGKILLed, an
 * owner's node paused (its connection silent, no FIN). Each says what callers see and how fast.
 */
import { describe, expect, it } from "vitest";
import { BridgeProcess, sleep, until } from "./bridge-process.js";
import { holds, int, useBridge, waitFor, worldOfFile } from "./fixture.js";

const w = worldOfFile();

const MiB = 1 << 20;

describe("the bridge process killed or stopped", () => {
  it("SIGKILL mid-transfer: waiting calls return closed at once, owners get noconnection, a new bridge serves at once, old sockets are closed", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const n = await w.erl();
    await useBridge(n, b);
    await n.eval(`Creds = ${w.creds},
      {StallPort, _} = rel:server(Creds, fun rel:stall/1),
      {SourcePort, _} = rel:server(Creds, fun rel:source/1),
      {EchoPort, _} = rel:server(Creds, fun rel:echo/1),
      Col = rel:collector(),
      Big = binary:copy(<<"0123456789abcdef">>, ${(100 * MiB) / 16}),
      Stalled = fun() -> {ok, S} = rel:connect(StallPort, []), S end,
      rel:watched(Col, send, Stalled, fun(S) -> ts_ssl:send(S, Big) end),
      rel:watched(Col, recv, Stalled, fun(S) -> ts_ssl:recv(S, 0) end),
      rel:watched(Col, accept, fun() -> {ok, L} = ts_ssl:listen(0, [binary | Creds]), L end,
                  fun(L) -> ts_ssl:transport_accept(L) end),
      rel:watched(Col, active, fun() -> {ok, S} = rel:connect(SourcePort, [{active, true}]), S end,
                  fun rel:active_loop/1),
      ok`);
    await waitFor(n, "length([x || {ready, _} <- rel:reports(Col, send) ++ rel:reports(Col, recv) ++ rel:reports(Col, accept) ++ rel:reports(Col, active)]) =:= 4", 30_000);
    // The 100 MiB reach the bridge and wait there behind the peer that does not read.
    await sleep(1500);
    expect(await holds(n, "rel:reports(Col, send) =:= [R || {ready, _} = R <- rel:reports(Col, send)]")).toBe(true);

    b.signal("SIGKILL");
    const returned = await waitFor(
      n,
      // The active owner's exit signal is what ends its receive loop, so it is reported as returned.
      "lists:all(fun(T) -> [x || {exit, _} <- rel:reports(Col, T)] =/= [] end, [send, recv, accept]) andalso [x || {returned, _} <- rel:reports(Col, active)] =/= []",
      10_000,
    );
    console.log(`SIGKILL: every waiting call returned and every owner had its exit signal within ${returned} ms`);
    expect(returned).toBeLessThan(3000);
    const seen = await n.eval(`[{T, [R || {K, _} = R <- rel:reports(Col, T), K =/= ready]} || T <- [send, recv, accept, active]]`);
    console.log(`what owners saw: ${seen.text}`);
    for (const t of ["send", "recv", "accept"]) {
      expect(
        await holds(n, `(fun([{returned, {error, closed}}, {exit, {'EXIT', P, noconnection}}]) -> is_pid(P); (_) -> false end)(
          [R || {K, _} = R <- rel:reports(Col, ${t}), K =/= ready])`),
      ).toBe(true);
    }
    expect(
      await holds(n, `(fun([{returned, {'EXIT', P, noconnection}} | _]) -> is_pid(P); (_) -> false end)(
        [R || {K, _} = R <- rel:reports(Col, active), K =/= ready])`),
    ).toBe(true);

    // The same name again: new calls work as soon as it is up; old socket terms are closed, also
    // while the new bridge has a socket open with the same Id (its pids have a new creation).
    const b2 = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie, name: b.name });
    const t0 = Date.now();
    // One evaluation: its process owns S2, which closes when it ends.
    const after = await n.eval(`{ok, S2} = rel:connect(EchoPort, []),
      First = {ts_ssl:send(S2, <<"again">>), ts_ssl:recv(S2, 5, 5000)},
      Old = [S || T <- [send, recv, active], {ready, S} <- rel:reports(Col, T)],
      [OldL] = [L || {ready, L} <- rel:reports(Col, accept)],
      OldAnswers = lists:usort([ts_ssl:send(S, <<"x">>) || S <- Old] ++ [ts_ssl:recv(S, 0, 100) || S <- Old]
                               ++ [ts_ssl:transport_accept(OldL, 100), ts_ssl:getopts(OldL, [active]), ts_ssl:close(OldL)]
                               ++ [ts_ssl:close(S) || S <- Old]),
      Still = {ts_ssl:send(S2, <<"still">>), ts_ssl:recv(S2, 5, 5000)},
      {First, OldAnswers, Still, S2, OldL}`);
    console.log(`a restarted bridge: connect + echo in ${Date.now() - t0} ms; ${after.text}`);
    expect(
      await holds(n, `{First, OldAnswers, Still} =:= {{ok, {ok, <<"again">>}}, [{error, closed}], {ok, {ok, <<"still">>}}}`),
    ).toBe(true);
    await b2.stop();
    await n.stop();
  });

  it("SIGTERM under load: peers see the end after every byte send/2 acknowledged (SHA-256 of the prefix equal)", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const n = await w.erl();
    await useBridge(n, b);
    const owners = 8;
    await n.eval(`Creds = ${w.creds},
      Col = rel:collector(),
      {SinkPort, _} = rel:server(Creds, rel:sink(Col)),
      [rel:watched(Col, I, fun() ->
                              {ok, S} = rel:connect(SinkPort, []),
                              {ok, {_, P}} = ts_ssl:sockname(S),
                              {S, P, rel:random_bytes(${8 * MiB})}
                          end,
                   fun({S, _, Data}) -> rel:send_acked(S, Data, 65536, Col, I) end) || I <- lists:seq(1, ${owners})],
      ok`);
    // Under load: every owner has had at least 1 MiB acknowledged, none has finished.
    await waitFor(n, `lists:all(fun(I) -> lists:max([0 | [A || {acked, A} <- rel:reports(Col, I)]]) >= ${MiB} end, lists:seq(1, ${owners}))`, 30_000);
    b.signal("SIGTERM");
    const t0 = Date.now();
    const end = await b.exited;
    console.log(`SIGTERM: the bridge exited in ${Date.now() - t0} ms (${JSON.stringify(end)})`);
    expect(end).toEqual({ code: 0, signal: null });
    await waitFor(n, `length(rel:reports(Col, sink)) =:= ${owners}`, 10_000);
    const check = await n.eval(`[begin
        [{S, P, Data}] = [X || {ready, X} <- rel:reports(Col, I)],
        Acked = lists:max([0 | [A || {acked, A} <- rel:reports(Col, I)]]),
        [{How, Got}] = [{H, B} || {Pp, H, B} <- rel:reports(Col, sink), Pp =:= P],
        {I, Acked, byte_size(Got), How,
         crypto:hash(sha256, binary:part(Got, 0, min(Acked, byte_size(Got)))) =:= crypto:hash(sha256, binary:part(Data, 0, Acked)),
         rel:prefix_ok(Data, Acked, Got)}
      end || I <- lists:seq(1, ${owners})]`);
    console.log(`per owner {I, acknowledged, received, how the peer saw the end, SHA-256 equal, prefix}: ${check.text}`);
    expect(await holds(n, `lists:all(fun({_, A, _, closed, true, true}) when A >= ${MiB}, A < ${8 * MiB} -> true; (_) -> false end, ${check.text})`)).toBe(true);
    // Each socket closed as by close/1: its owner, trapping exits, sees it end normally.
    await waitFor(n, `lists:all(fun(I) -> [x || {exit, _} <- rel:reports(Col, I)] =/= [] end, lists:seq(1, ${owners}))`, 15_000);
    const exits = await n.eval(`lists:usort([case E of {'EXIT', P, R} when is_pid(P) -> R; _ -> E end || I <- lists:seq(1, ${owners}), {exit, E} <- rel:reports(Col, I)])`);
    console.log(`SIGTERM: the owners' exit signals: ${exits.text}`);
    expect(exits.text).toBe("[normal]");
    await n.stop();
  });
});

describe("an owner's node lost", () => {
  it("SIGKILL of a node owning 1,000 sockets closes them all on the bridge: fds back to baseline, memory flat across rounds", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const peers = await w.erl();
    const echoPort = await int(peers, `{EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1), EchoPort`);
    const baseFds = b.fds();
    const rss: number[] = [b.rss()];
    for (const round of [1, 2]) {
      const owner = await w.erl();
      await useBridge(owner, b);
      const t0 = Date.now();
      await owner.eval(`{ok, _} = rel:owners(${echoPort}, 1000, 20)`);
      const upFds = b.fds();
      console.log(`round ${round}: 1,000 sockets up in ${Date.now() - t0} ms; bridge fds ${baseFds} -> ${upFds}, RSS ${(b.rss() / MiB).toFixed(0)} MiB`);
      expect(upFds).toBeGreaterThanOrEqual(baseFds + 1000);
      await owner.kill();
      const t1 = Date.now();
      expect(await until(() => b.fds() === baseFds, 20_000)).toBe(true);
      rss.push(b.rss());
      console.log(`round ${round}: node killed; fds back to ${baseFds} in ${Date.now() - t1} ms; RSS ${(rss.at(-1)! / MiB).toFixed(0)} MiB`);
    }
    expect(b.alive).toBe(true);
    // Memory: the second round leaves the bridge within 32 MiB of where the first left it.
    expect(rss[2]! - rss[1]!).toBeLessThan(32 * MiB);
    // And the bridge still serves.
    const again = await w.erl();
    await useBridge(again, b);
    expect(await holds(again, `{ok, S} = rel:connect(${echoPort}, []), ok = ts_ssl:send(S, <<"hi">>), {ok, <<"hi">>} =:= ts_ssl:recv(S, 2, 5000)`)).toBe(true);
    await b.stop();
  });

  it("a node that goes silent without a FIN (SIGSTOP) is dropped by ticks within net_ticktime; its sockets close; resumed, it reconnects and works", async () => {
    const tick = 4;
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie, netTickTime: tick });
    const peers = await w.erl();
    const echoPort = await int(peers, `{EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1), EchoPort`);
    const baseFds = b.fds();
    const owner = await w.erl(["-kernel", "net_ticktime", String(tick)]);
    await useBridge(owner, b);
    await owner.eval(`{ok, _} = rel:owners(${echoPort}, 100, 4)`);
    expect(b.fds()).toBeGreaterThanOrEqual(baseFds + 100);
    process.kill(owner.pid!, "SIGSTOP");
    const t0 = Date.now();
    try {
      expect(await until(() => b.fds() === baseFds, tick * 1000 * 3)).toBe(true);
    } finally {
      process.kill(owner.pid!, "SIGCONT");
    }
    const detected = Date.now() - t0;
    console.log(`net_ticktime ${tick} s: the silent node's 100 sockets closed ${detected} ms after it stopped`);
    // Erlang's own bound: a peer silent for net_ticktime is dropped within another quarter of it.
    expect(detected).toBeLessThan(tick * 1250 + 1000);
    // Resumed, the node finds its connection gone, and its next call connects again.
    expect(await holds(owner, `{ok, S} = rel:connect(${echoPort}, []), ok = ts_ssl:send(S, <<"back">>), {ok, <<"back">>} =:= ts_ssl:recv(S, 4, 5000)`)).toBe(true);
    expect(b.alive).toBe(true);
    await b.stop();
  });
});
