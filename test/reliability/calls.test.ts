/**
 * A call on a socket watches the connection to the socket's bridge, locally, instead of monitoring
 * `ts_ssl_bridge` across it (README.md, "How ts_ssl talks to the bridge"). These tests hold the
 * bridge (SIGSTOP) while calls are on their way, then kill it (SIGKILL), or kill it and start it
 * again under the same name, and look at what each caller got and at everything else that reached
 * it: its own exit signals, DOWN messages and nodedowns, and nothing from the calls.
 */
import { describe, expect, it } from "vitest";
import { BridgeProcess, sleep } from "./bridge-process.js";
import { holds, useBridge, waitFor, worldOfFile } from "./fixture.js";

const w = worldOfFile();

/** The kinds of caller of the first test, each started by rel:caller/4 with this Setup and Call. */
const callers: Record<string, { setup: string; call: string }> = {
  // Calls on a socket another process owns.
  plain: { setup: "fun() -> none end", call: "Sockname" },
  // Holds a monitor of the socket's process on the bridge and one of a local process.
  monitors: {
    setup: "fun() -> Local = spawn(fun() -> receive stop -> ok end end), {erlang:monitor(process, SocketPid), erlang:monitor(process, Local)} end",
    call: "Sockname",
  },
  // Watches the bridge's node itself, twice.
  monitor_node: { setup: "fun() -> true = erlang:monitor_node(Bridge, true), true = erlang:monitor_node(Bridge, true), none end", call: "Sockname" },
  // Traps exits and owns the socket it calls on, so it is linked to the socket's process.
  trapping_owner: {
    setup: "fun() -> process_flag(trap_exit, true), {ok, Own} = rel:connect(EchoPort, []), Own end",
    call: "fun(Own) -> ts_ssl:getopts(Own, [active]) end",
  },
};

/** A pattern test of a caller's mailbox after the bridge was killed, given its Setup's State. */
const leftAfterKill: Record<string, string> = {
  plain: "fun(_, []) -> true; (_, _) -> false end",
  // The local process lives on: the one DOWN is its own monitor's of the socket's process.
  monitors: "fun({R, _}, [{'DOWN', R, process, P, noconnection}]) -> P =:= SocketPid; (_, _) -> false end",
  monitor_node: "fun(_, [{nodedown, B}, {nodedown, B}]) -> B =:= Bridge; (_, _) -> false end",
  trapping_owner: "fun({sslsocket, _, P}, [{'EXIT', P, noconnection}]) -> true; (_, _) -> false end",
};

describe("a socket call whose bridge goes away mid-call", () => {
  it("SIGKILL: every waiting call returns {error, closed} at once; each caller keeps exactly its own messages", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const n = await w.erl();
    await useBridge(n, b);
    const tags = Object.keys(callers);
    await n.eval(`{EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1),
      Col = rel:collector(), Bridge = '${b.nodeName}',
      S = rel:held(EchoPort), {sslsocket, _, SocketPid} = S,
      Sockname = fun(_) -> ts_ssl:sockname(S) end,
      Callers = [${tags.map((t) => `rel:caller(Col, ${t}, ${callers[t]!.setup}, ${callers[t]!.call})`).join(",\n        ")}],
      ok`);
    await waitFor(n, `lists:all(fun(T) -> length(rel:reports(Col, T)) =:= 1 end, [${tags}])`, 30_000);
    // Before: the calls work, and leave nothing behind.
    expect(
      await holds(n, `lists:all(fun(T) -> case rel:reports(Col, T) of [{ready, _, [{ok, _}, {ok, _}, {ok, _}], []}] -> true; _ -> false end end, [${tags}])`),
    ).toBe(true);

    b.signal("SIGSTOP");
    await n.eval(`[P ! go || P <- Callers], ok`);
    await sleep(500);
    expect(await holds(n, `[x || T <- [${tags}], {returned, _, _} <- rel:reports(Col, T)] =:= []`)).toBe(true);
    b.signal("SIGKILL");
    const t0 = Date.now();
    await waitFor(n, `lists:all(fun(T) -> [x || {returned, _, _} <- rel:reports(Col, T)] =/= [] end, [${tags}])`, 10_000);
    const returned = Date.now() - t0;
    await waitFor(n, `lists:all(fun(T) -> [x || {mailbox, _} <- rel:reports(Col, T)] =/= [] end, [${tags}])`, 10_000);
    const seen = await n.eval(`[{T, tl(rel:reports(Col, T))} || T <- [${tags}]]`);
    console.log(`SIGKILL mid-call: every call returned within ${returned} ms; what each caller saw: ${seen.text}`);
    expect(returned).toBeLessThan(3000);
    for (const t of tags) {
      const report = `rel:reports(Col, ${t})`;
      expect(
        await holds(
          n,
          // In a fun of its own: variables bound by a case last for the node's later evaluations.
          `(fun() -> case ${report} of [{ready, State, _, _}, {returned, {error, closed}, _}, {mailbox, Left}] -> (${leftAfterKill[t]})(State, Left); _ -> false end end)()`,
        ),
        t,
      ).toBe(true);
    }
    await n.stop();
  });

  it("restarted under the same name: the waiting call returns {error, closed}; the caller's unread nodedown survives its later calls", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const n = await w.erl();
    await useBridge(n, b);
    await n.eval(`{EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1),
      Col = rel:collector(), Bridge = '${b.nodeName}', Old = rel:held(EchoPort),
      C = spawn(fun() ->
                    true = erlang:monitor_node(Bridge, true),
                    Col ! {c, {ready, ts_ssl:sockname(Old)}},
                    receive go -> ok end,
                    Col ! {c, {returned, ts_ssl:sockname(Old)}},
                    receive again -> ok end,
                    %% Its nodedown is in its mailbox, unread, through all of these.
                    {ok, New} = rel:connect(EchoPort, []),
                    Calls = [ts_ssl:sockname(New), ts_ssl:send(New, <<"hi">>), ts_ssl:recv(New, 2, 5000),
                             ts_ssl:sockname(Old), ts_ssl:close(New)],
                    timer:sleep(500),
                    Col ! {c, {again, Calls, element(2, process_info(self(), messages))}},
                    %% The calls left no watch of their own on the node: one more monitor_node, one more nodedown.
                    true = erlang:monitor_node(Bridge, true),
                    receive stopped -> ok end,
                    timer:sleep(500),
                    Col ! {c, {stopped, element(2, process_info(self(), messages))}},
                    receive stop -> ok end
                end),
      ok`);
    await waitFor(n, "[x || {ready, {ok, _}} <- rel:reports(Col, c)] =/= []", 30_000);
    b.signal("SIGSTOP");
    await n.eval("C ! go, ok");
    await sleep(300);
    b.signal("SIGKILL");
    const b2 = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie, name: b.name });
    await waitFor(n, "[x || {returned, _} <- rel:reports(Col, c)] =/= []", 10_000);
    expect(await holds(n, "[{returned, {error, closed}}] =:= [R || {returned, _} = R <- rel:reports(Col, c)]")).toBe(true);
    await n.eval("C ! again, ok");
    await waitFor(n, "[x || {again, _, _} <- rel:reports(Col, c)] =/= []", 30_000);
    await b2.stop();
    await n.eval("C ! stopped, ok");
    await waitFor(n, "[x || {stopped, _} <- rel:reports(Col, c)] =/= []", 10_000);
    console.log(`a restarted bridge: ${(await n.eval("rel:reports(Col, c)")).text}`);
    expect(
      await holds(
        n,
        `case [R || {again, _, _} = R <- rel:reports(Col, c)] of [{again, [{ok, _}, ok, {ok, <<"hi">>}, {error, closed}, ok], [{nodedown, B}]}] -> B =:= Bridge; _ -> false end`,
      ),
    ).toBe(true);
    expect(await holds(n, `[{stopped, [{nodedown, Bridge}, {nodedown, Bridge}]}] =:= [R || {stopped, _} = R <- rel:reports(Col, c)]`)).toBe(true);
    await n.stop();
  });

  it("a socket term whose pid is on a connected node without ts_ssl_bridge: {error, closed}, not a wait", async () => {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
    const n = await w.erl();
    const other = await w.erl();
    await useBridge(n, b);
    const answers = await n.eval(`Pid = erpc:call('${other.nodeName}', erlang, spawn, [timer, sleep, [infinity]]),
      S = {sslsocket, 1, Pid},
      {[ts_ssl:sockname(S), ts_ssl:getopts(S, [active]), ts_ssl:sockname(S)], element(2, process_info(self(), messages))}`);
    expect(answers.text).toBe("{[{error,closed},{error,closed},{error,closed}],[]}");
    await n.stop();
    await other.stop();
    await b.stop();
  });
});
