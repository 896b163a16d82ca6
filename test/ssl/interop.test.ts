/**
 * End to end: real `erl` nodes call the bridge (DistNode + serveSsl in this process) with
 * `gen_server:call({ts_ssl_bridge, Bridge}, Request, infinity)`, the requests of the README
 * table, and talk TLS to native OTP ssl in the same node (as client and as server), to node:tls
 * in this process, and to openssl.
 *
 * Each `eval` runs in a process of its own that ends with it, so a socket made in one eval
 * closes when that eval returns (its owner exits): scenarios that keep a socket make it in a
 * long-lived owner (`ts_ssl_interop:owner/0`).
 */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { MemoryLogger } from "../../bridge/log.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";
import { startSslBridge } from "../support/bridge.js";
import { Epmd, ErlNode, erlc, randomCookie, stopAll } from "../support/erlang.js";
import { OpensslPeer, readBytes, TlsPeerServer } from "./peers.js";

const helper = String.raw`
-module(ts_ssl_interop).
-compile([export_all, nowarn_export_all]).

call(B, Request) -> gen_server:call({ts_ssl_bridge, B}, Request, infinity).

%% File options as ts_ssl sends them: {Tag, Path, Contents}.
files(Options) ->
    [case O of
         {T, P} when T =:= certfile; T =:= keyfile; T =:= cacertfile ->
             {T, P, case file:read_file(P) of {ok, C} -> C; E -> E end};
         _ -> O
     end || O <- Options].

%% A native ssl server on 127.0.0.1 for one connection: {Port, Ref}; {Ref, Socket} comes to
%% the caller, which then owns the socket.
native_server(Options) ->
    Parent = self(), Ref = make_ref(),
    {ok, L} = ssl:listen(0, [binary, {active, false}, {reuseaddr, true}, {ip, {127,0,0,1}} | Options]),
    {ok, {_, Port}} = ssl:sockname(L),
    spawn(fun() ->
                  {ok, T} = ssl:transport_accept(L, 20000),
                  Parent ! {Ref, case ssl:handshake(T, 20000) of
                                     {ok, S} -> ok = ssl:controlling_process(S, Parent), S;
                                     Error -> Error
                                 end},
                  timer:sleep(500), ssl:close(L)
          end),
    {Port, Ref}.

%% A native ssl client to 127.0.0.1:Port: Ref; {Ref, {ok, Socket} | Error} comes to the caller.
native_client(Port, Options) ->
    Parent = self(), Ref = make_ref(),
    spawn(fun() ->
                  R = ssl:connect({127,0,0,1}, Port, [binary, {active, false}, {verify, verify_none} | Options], 20000),
                  case R of {ok, S} -> ok = ssl:controlling_process(S, Parent); _ -> ok end,
                  Parent ! {Ref, R}
          end),
    Ref.

await(Ref) -> receive {Ref, V} -> V after 20000 -> exit({no_answer, Ref}) end.

%% Every message now in the mailbox.
flush() -> receive M -> [M | flush()] after 0 -> [] end.

%% The next message, or none.
next() -> receive M -> M after 10000 -> none end.

%% A process that runs what it is sent, {run, From, Fun}, and answers {done, Result}; it stays
%% until told to stop, so sockets it makes stay open.
owner() ->
    spawn(fun Loop() ->
                  receive
                      {run, From, Fun} -> From ! {done, Fun()}, Loop();
                      stop -> ok
                  end
          end).

run(Owner, Fun) ->
    Owner ! {run, self(), Fun},
    receive {done, R} -> R after 30000 -> exit(owner_hung) end.
`;

let pki: Pki;
let epmd: Epmd;
let bridge: Node;
let a: ErlNode;
let helperDir: string;
const cookie = randomCookie();
const log = new MemoryLogger();

beforeAll(async () => {
  pki = makePki();
  helperDir = mkdtempSync(join(tmpdir(), "ts-ssl-interop-"));
  writeFileSync(join(helperDir, "ts_ssl_interop.erl"), helper);
  erlc([join(helperDir, "ts_ssl_interop.erl")], helperDir);
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port, log);
  a = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [helperDir] });
  await a.eval(`
    {ok, _} = application:ensure_all_started(ssl),
    B = '${bridge.name.name}',
    Server = ts_ssl_interop:files([{certfile, "${pki.server.certFile}"}, {keyfile, "${pki.server.keyFile}"}]),
    Client = ts_ssl_interop:files([{certfile, "${pki.client.certFile}"}, {keyfile, "${pki.client.keyFile}"}]),
    Ca = ts_ssl_interop:files([{cacertfile, "${pki.caFile}"}]),
    NativeServer = [{certfile, "${pki.server.certFile}"}, {keyfile, "${pki.server.keyFile}"}],
    ok`);
});

afterAll(async () => {
  await bridge?.stop();
  await stopAll();
  pki?.remove();
  if (helperDir !== undefined) rmSync(helperDir, { recursive: true, force: true });
});

/**
 * Evaluates a scenario on node A; the value as Erlang prints it. The scenario runs inside a fun
 * so that what it binds stays its own: the next one may use the same names.
 */
async function erl(source: string): Promise<string> {
  return (await a.eval(`(fun() -> ${source} end)()`)).text;
}

describe("every request of the README table, from an erl node", () => {
  it("connect, send, recv, getopts, setopts, peername, sockname, peercert, connection_info, close", async () => {
    const r = await erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {Port, Ref} = ts_ssl_interop:native_server(NativeServer),
      {ok, S} = C({connect, "localhost", Port, [binary, {active, false}, {verify, 1} | Ca], infinity}),
      {sslsocket, Id, Pid} = S,
      true = is_integer(Id) andalso node(Pid) =:= B,
      Peer = ts_ssl_interop:await(Ref),
      ok = C({send, S, <<"ping">>}),
      {ok, <<"ping">>} = ssl:recv(Peer, 4, 5000),
      ok = ssl:send(Peer, <<"pong">>),
      {ok, <<"pong">>} = C({recv, S, 4, 5000}),
      {ok, [{active, false}, {mode, binary}, {verify, 1}, {depth, 1}]} = C({getopts, S, [active, mode, verify, depth]}),
      ok = C({setopts, S, [{packet, 2}, list]}),
      {ok, Local} = C({sockname, S}), {ok, Local} = ssl:peername(Peer),
      {ok, Remote} = C({peername, S}), {ok, Remote} = ssl:sockname(Peer),
      {ok, Pem} = file:read_file("${pki.server.certFile}"),
      [{'Certificate', Der, not_encrypted}] = public_key:pem_decode(Pem),
      {ok, Der} = C({peercert, S}),
      {ok, {Protocol, Cipher}} = C({connection_info, S}),
      ok = C({close, S}),
      {error, closed} = ssl:recv(Peer, 0, 5000),
      {error, closed} = C({send, S, <<"x">>}),
      {Protocol, Cipher}`);
    expect(r).toBe(`{'tlsv1.3',"TLS_AES_256_GCM_SHA384"}`);
  });

  it("listen, transport_accept, ssl_accept, accept; a native client on the other end", async () => {
    const r = await erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {ok, L} = C({listen, 0, [binary, {active, false}, {ip, {127,0,0,1}} | Server]}),
      {ok, {{127,0,0,1}, Port}} = C({sockname, L}),
      Ref1 = ts_ssl_interop:native_client(Port, []),
      {ok, S1} = C({transport_accept, L, 5000}),
      ok = C({ssl_accept, S1, 5000}),
      {ok, P1} = ts_ssl_interop:await(Ref1),
      ok = ssl:send(P1, <<"one">>),
      {ok, <<"one">>} = C({recv, S1, 0, 5000}),
      Ref2 = ts_ssl_interop:native_client(Port, [{certfile, "${pki.client.certFile}"}, {keyfile, "${pki.client.keyFile}"}]),
      {ok, S2} = C({accept, L, 5000}),
      {ok, P2} = ts_ssl_interop:await(Ref2),
      ok = C({send, S2, <<"two">>}),
      {ok, <<"two">>} = ssl:recv(P2, 0, 5000),
      {error, enopeercert} = C({peercert, S2}),
      {error, timeout} = C({transport_accept, L, 20}),
      ok = C({close, L}),
      {error, closed} = C({accept, L, 100}),
      done`);
    expect(r).toBe("done");
  });

  it("ciphers, version, seed, an unknown request", async () => {
    const r = await erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {ok, Ciphers} = C(ciphers),
      true = lists:member("TLS_AES_256_GCM_SHA384", string:lexemes(Ciphers, ":")),
      {ok, {"3.9", Compiled, Runtime}} = C(version),
      ok = C({seed, <<"entropy">>}),
      {error, edata} = C({seed, not_data}),
      {C({no_such_call, 1}), Compiled =:= Runtime}`);
    expect(r).toBe("{{error,{badcall,{no_such_call,1}}},true}");
  });
});

describe("delivery, from an erl node", () => {
  for (const mode of ["list", "binary"]) {
    it(`active, passive and once in ${mode} mode`, async () => {
      const r = await erl(`
        C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
        {Port, Ref} = ts_ssl_interop:native_server(NativeServer),
        {ok, S} = C({connect, {127,0,0,1}, Port, [${mode}, {packet, 2}], 5000}),
        Peer = ts_ssl_interop:await(Ref),
        ok = ssl:setopts(Peer, [{packet, 2}]),
        ok = ssl:send(Peer, <<"active">>),
        M1 = ts_ssl_interop:next(),
        ok = C({setopts, S, [{active, false}]}),
        ok = ssl:send(Peer, <<"passive">>),
        {ok, D2} = C({recv, S, 0, 5000}),
        {error, einval} = C({recv, S, 3, 5000}),
        ok = ssl:send(Peer, <<"once">>), ok = ssl:send(Peer, <<"later">>),
        ok = C({setopts, S, [{active, once}]}),
        M3 = ts_ssl_interop:next(),
        {ok, [{active, false}]} = C({getopts, S, [active]}),
        {ok, D4} = C({recv, S, 0, 5000}),
        ok = C({setopts, S, [{active, 2}]}),
        ok = ssl:send(Peer, <<"n1">>), ok = ssl:send(Peer, <<"n2">>),
        M5 = ts_ssl_interop:next(), M6 = ts_ssl_interop:next(), M7 = ts_ssl_interop:next(),
        ok = ssl:close(Peer),
        {ok, D8} = {ok, C({recv, S, 0, 5000})},
        Strip = fun({Tag, S0, D}) when S0 =:= S -> {Tag, D}; ({Tag, S0}) when S0 =:= S -> Tag; (M) -> M end,
        [Strip(M1), D2, Strip(M3), D4, Strip(M5), Strip(M6), Strip(M7), D8]`);
      const data = (s: string) => (mode === "list" ? `"${s}"` : `<<"${s}">>`);
      expect(r.replace(/\s+/g, "")).toBe(
        `[{ssl,${data("active")}},${data("passive")},{ssl,${data("once")}},${data("later")},{ssl,${data("n1")}},{ssl,${data("n2")}},ssl_passive,{error,closed}]`,
      );
    });
  }
});

describe("owners and links across the distribution", () => {
  it("controlling_process: refused to a stranger; then delivery and the link move, to a process on another node", async () => {
    const other = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [helperDir] });
    await other.eval("register(receiver, self()), ok");
    const r = await erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {Port, Ref} = ts_ssl_interop:native_server(NativeServer),
      {ok, S} = C({connect, {127,0,0,1}, Port, [binary], 5000}),
      Peer = ts_ssl_interop:await(Ref),
      Stranger = ts_ssl_interop:owner(),
      {error, {badcall, _}} = ts_ssl_interop:run(Stranger, fun() -> C({controlling_process, S, self()}) end),
      NewOwner = rpc:call('${other.nodeName}', ts_ssl_interop, owner, []),
      ok = C({controlling_process, S, NewOwner}),
      ok = ssl:send(Peer, <<"to the other node">>),
      Got = ts_ssl_interop:run(NewOwner, fun() -> receive {ssl, _, D} -> D after 5000 -> none end end),
      Mine = ts_ssl_interop:flush(),
      NewOwner ! stop,
      {Got, Mine, ssl:recv(Peer, 0, 5000)}`);
    expect(r).toBe('{<<"to the other node">>,[],{error,closed}}');
    await other.stop();
  });
});

describe("peers other than native ssl, from an erl node", () => {
  it("a node:tls server in the test process", async () => {
    const server = await TlsPeerServer.start({ cert: pki.server.cert, key: pki.server.key }, (s) => s.write("from node:tls"));
    const answer = erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {ok, S} = C({connect, "localhost", ${server.port}, [{verify, 2}, {active, false} | Ca], 5000}),
      {ok, Greeting} = C({recv, S, 13, 5000}),
      ok = C({send, S, "from erl"}),
      Greeting`);
    const peer = await server.accepted();
    expect((await readBytes(peer, 8)).toString()).toBe("from erl");
    expect(await answer).toBe('"from node:tls"');
    server.close();
  });

  it("ts_ssl:connect with a certificate file that changed on disk presents the new certificate (OTP's ssl: the old one, from its PEM cache)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ts-ssl-changed-"));
    const seen: Array<string | undefined> = [];
    const server = await TlsPeerServer.start({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, (s) =>
      seen.push(s.getPeerX509Certificate()?.subject),
    );
    try {
      const [certFile, keyFile] = [join(dir, "own.pem"), join(dir, "own.key")];
      const use = (c: Credential) => {
        writeFileSync(certFile, c.cert);
        writeFileSync(keyFile, c.key);
      };
      // The subject of the certificate the server saw from one connect.
      const presented = async (mod: string) => {
        const connected = erl(`
          {ok, S} = ${mod}:connect("127.0.0.1", ${server.port}, [{verify, verify_none}, {certfile, "${certFile}"}, {keyfile, "${keyFile}"}, {active, false}], 5000),
          ${mod}:close(S)`);
        await server.accepted();
        expect(await connected).toBe("ok");
        return seen.shift();
      };
      const [client, other] = [new X509Certificate(pki.client.cert).subject, new X509Certificate(pki.server.cert).subject];
      await erl(`application:set_env(ts_ssl, bridge, B)`);
      for (const mod of ["ts_ssl", "ts_ssl_otp"]) {
        use(pki.client);
        expect(await presented(mod)).toBe(client);
        use(pki.server);
        expect(await presented(mod)).toBe(other);
      }
      // OTP's ssl, on the same files, keeps what it read first until its PEM cache is cleared.
      await erl(`ssl:clear_pem_cache()`);
      use(pki.client);
      expect(await presented("ssl")).toBe(client);
      use(pki.server);
      expect(await presented("ssl")).toBe(client);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("openssl s_client to a listen socket, with a client certificate checked ({verify, 2})", async () => {
    const port = await erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      Acceptor = ts_ssl_interop:owner(),
      {ok, L} = ts_ssl_interop:run(Acceptor, fun() -> C({listen, 0, [{active, false}, {verify, 2} | Server ++ Ca]}) end),
      persistent_term:put(interop_listener, {Acceptor, L}),
      {ok, {_, LPort}} = C({sockname, L}),
      LPort`);
    const client = OpensslPeer.client(Number(port), ["-quiet", "-cert", pki.client.certFile, "-key", pki.client.keyFile]);
    const r = erl(`
      C = fun(Req) -> ts_ssl_interop:call(B, Req) end,
      {Acceptor, L} = persistent_term:get(interop_listener),
      {ok, S} = ts_ssl_interop:run(Acceptor, fun() -> C({accept, L, 10000}) end),
      {ok, _Der} = C({peercert, S}),
      {ok, Line} = C({recv, S, 0, 10000}),
      ok = C({send, S, <<"hello s_client\\n">>}),
      Line`);
    client.type("hello bridge\n");
    await client.waitFor("hello s_client");
    expect(await r).toBe('"hello bridge\\n"');
    await client.stop();
  });
});

it("the bridge logged no failed request", () => {
  expect(log.matching(/failed/)).toEqual([]);
});
