/**
 * One socket's failure is that socket's alone: an exception thrown in one socket's data handler
 * (injected with TS_SSL_INJECT_FAULT, see ts-ssl/fault.ts) ends that socket as a crash ends an
 * Erlang process, and the bridge, its other sockets and its other callers go on.
 */
import { expect, it } from "vitest";
import { BridgeProcess } from "./bridge-process.js";
import { holds, useBridge, worldOfFile } from "./fixture.js";

const w = worldOfFile();

it("an exception in one socket's handler ends that socket only: its owner gets {exception, Message}, the others echo on", async () => {
  const marker = "INJECTED-FAULT-7f3a";
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie, env: { TS_SSL_INJECT_FAULT: marker } });
  const n = await w.erl();
  await useBridge(n, b);
  // One evaluation, whose process owns two other sockets that echo before and after the fault.
  const others = await n.eval(`{EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1),
    Col = rel:collector(),
    Echo = fun(S, Bin) -> case ts_ssl:send(S, Bin) of ok -> ts_ssl:recv(S, byte_size(Bin), 5000); E -> E end end,
    {ok, O1} = rel:connect(EchoPort, []), {ok, O2} = rel:connect(EchoPort, []),
    Before = [Echo(O, <<"other">>) || O <- [O1, O2]],
    rel:watched(Col, victim, fun() -> {ok, S} = rel:connect(EchoPort, []), S end,
                fun(S) -> [Echo(S, <<"before">>), Echo(S, <<"${marker}">>), Echo(S, <<"after">>)] end),
    rel:wait_until(fun() -> [x || {exit, _} <- rel:reports(Col, victim)] =/= [] end, 10000),
    Before ++ [Echo(O, <<"other">>) || O <- [O1, O2]]`);
  expect(others.text).toBe(`[{ok,<<"other">>},{ok,<<"other">>},{ok,<<"other">>},{ok,<<"other">>}]`);
  const victim = await n.eval(`[R || {K, _} = R <- rel:reports(Col, victim), K =/= ready]`);
  console.log(`the socket whose handler threw: ${victim.text}`);
  expect(
    await holds(n, `(fun([{returned, [{ok, <<"before">>}, {error, closed}, {error, closed}]},
                          {exit, {'EXIT', P, {exception, Text}}}]) -> is_pid(P) andalso is_binary(Text); (_) -> false end)(
       [R || {K, _} = R <- rel:reports(Col, victim), K =/= ready])`),
  ).toBe(true);
  expect(b.alive).toBe(true);
  expect(b.output).toContain("fault injected");
  expect(await holds(n, `{ok, S} = rel:connect(EchoPort, []), {ok, <<"later">>} =:= Echo(S, <<"later">>)`)).toBe(true);
  await b.stop();
});
