/**
 * What README.md's table says `ts_ssl_otp` does otherwise than OTP's `ssl`, where no conformance
 * scenario can compare the two: each claim checked from a real `erl` node over a bridge in this
 * process, with certificates made by the openssl command line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { startSslBridge } from "../support/bridge.js";
import { makePki, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";

let pki: Pki;
let epmd: Epmd;
let bridge: Node;
let erl: ErlNode;

beforeAll(async () => {
  pki = makePki();
  const cookie = randomCookie();
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port);
  erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
  await erl.eval(`application:load(ts_ssl), application:set_env(ts_ssl, bridge, '${bridge.name.name}'), ok = ts_ssl:start(), {ok, _} = application:ensure_all_started(ssl)`);
}, 60_000);

afterAll(async () => {
  await erl?.stop();
  await bridge?.stop();
  await epmd?.stop();
  await stopAll();
  pki?.remove();
});

const str = (s: string) => JSON.stringify(s);

/** Erlang expressions run in a fun, so that they bind nothing the node's later evaluations see. */
const inFun = (body: string) => `(fun() -> ${body} end)()`;

/**
 * Erlang source that makes a connected pair with ts_ssl_otp (binary, passive) and runs `body`
 * with `C` (client) and `S` (server) bound, in one evaluation (the sockets end with it).
 */
function withPair(body: string): string {
  return `(fun() ->
    {ok, L} = ts_ssl_otp:listen(0, [{ip, {127,0,0,1}}, binary, {active, false},
                                    {certfile, ${str(pki.server.certFile)}}, {keyfile, ${str(pki.server.keyFile)}}]),
    {ok, {_, Port}} = ts_ssl_otp:sockname(L),
    Self = self(),
    spawn(fun() ->
                  {ok, T} = ts_ssl_otp:transport_accept(L, 5000),
                  {ok, S0} = ts_ssl_otp:handshake(T, 5000),
                  ok = ts_ssl_otp:controlling_process(S0, Self),
                  Self ! {server, S0}
          end),
    {ok, C} = ts_ssl_otp:connect("localhost", Port, [binary, {active, false}], 5000),
    S = receive {server, S1} -> S1 after 5000 -> exit(no_server) end,
    ${body}
  end)()`;
}

describe("ts_ssl_otp where it differs from OTP's ssl (README.md's table)", () => {
  it("refuses verify_fun, which node:tls cannot call during the handshake", async () => {
    const got = await erl.eval(
      inFun(`case ts_ssl_otp:connect("localhost", 1, [{verify_fun, {fun(_, _, St) -> {valid, St} end, []}}], 1000) of
         {error, {options, {verify_fun, {F, []}}}} when is_function(F, 3) -> refused;
         Other -> Other
       end`),
    );
    expect(got.text).toBe("refused");
  });

  it("counts application sends and sizes in getstat, and the connection's bytes", async () => {
    const got = await erl.eval(
      withPair(`ok = ts_ssl_otp:send(C, <<"twelve bytes">>), {ok, _} = ts_ssl_otp:recv(S, 12, 5000),
                {ok, [{send_oct, Oct}, {send_cnt, Cnt}, {send_max, Max}]} = ts_ssl_otp:getstat(C, [send_oct, send_cnt, send_max]),
                {Oct > 12, Cnt, Max, ts_ssl_otp:getstat(S, [recv_dvi])}`),
    );
    expect(got.text.replace(/\s+/g, "")).toBe("{true,1,12,{ok,[{recv_dvi,0}]}}");
  });

  it("shutdown(S, read): the socket stops delivering, and the peer is not told", async () => {
    const got = await erl.eval(
      withPair(`ok = ts_ssl_otp:shutdown(S, read), ok = ts_ssl_otp:send(C, <<"unread">>),
                {ts_ssl_otp:recv(S, 0, 200), ts_ssl_otp:recv(C, 0, 200), ts_ssl_otp:send(S, <<"still writes">>),
                 ts_ssl_otp:recv(C, 0, 5000)}`),
    );
    expect(got.text).toBe('{{error,closed},{error,timeout},ok,{ok,<<"still writes">>}}');
  });

  it("versions/0 names the ts_ssl application and TLS only", async () => {
    const got = await erl.eval(
      inFun(`{ok, Vsn} = application:get_key(ts_ssl, vsn), V = ts_ssl_otp:versions(),
       {proplists:get_value(ssl_app, V) =:= Vsn, proplists:get_value(supported, V), proplists:get_value(supported_dtls, V)}`),
    );
    expect(got.text).toBe("{true,['tlsv1.3','tlsv1.2'],[]}");
  });

  // TLS 1.2, so that the server's handshake ends after the client's Finished: OTP's client
  // would have sent its alert instead.
  it("gives a host name mismatch OTP's reason, after the server has finished its handshake", async () => {
    const got = await erl.eval(
      `(fun() ->
          {ok, L} = ssl:listen(0, [{ip, {127,0,0,1}}, {versions, ['tlsv1.2']}, {certfile, ${str(pki.server.certFile)}}, {keyfile, ${str(pki.server.keyFile)}}]),
          {ok, {_, Port}} = ssl:sockname(L),
          Self = self(),
          spawn(fun() -> {ok, T} = ssl:transport_accept(L, 5000), Self ! {server, ssl:handshake(T, 5000)} end),
          Client = ts_ssl_otp:connect("localhost", Port, [{verify, verify_peer}, {cacertfile, ${str(pki.caFile)}},
                                                          {server_name_indication, "elsewhere.example"}], 5000),
          {element(1, element(2, element(2, Client))), receive {server, {ok, _}} -> handshake_done after 5000 -> none end}
        end)()`,
    );
    expect(got.text).toBe("{handshake_failure,handshake_done}");
  });
});
