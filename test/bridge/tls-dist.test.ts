/**
 * TLS distribution against real OTP 25 nodes started with `-proto_dist inet_tls
 * -ssl_dist_optfile FILE`: ping both ways, ts_ssl end to end through a TLS bridge, a 20 MiB
 * message, the bridge dialling a node it has not met, the refusals (a certificate from a CA the
 * bridge does not trust, no certificate where one is required, a plain TCP node, a TLS node to
 * a plain bridge, a peer lying about a handshake message's length), and, captured with tcpdump
 * on loopback, no plaintext on the wire.
 * Certificates are made for the run by the openssl command line and by
 * public_key:pkix_test_data/1.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atom } from "../../etf/terms.js";
import { reply, serveCalls } from "../../bridge/gen-server.js";
import type { MemoryLogger } from "../../bridge/log.js";
import type { DistNode } from "../../bridge/node.js";
import { serveSsl } from "../../ts-ssl/server.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, randomCookie, shortHost, stopAll } from "../support/erlang.js";
import { erlString, mutualOptfile, nodeOptions, optfile, tlsDistArgs, tlsDistTransport } from "../support/tls-dist.js";
import { erlAtom, startBridge } from "./helpers.js";

describe("TLS distribution with -proto_dist inet_tls nodes", () => {
  let pki: Pki;
  let epmd: Epmd;
  let cookie: string;
  let bridge: DistNode;
  let log: MemoryLogger;
  let B: string;
  let goodFile: string;
  let bothCas: string;
  const bridges: DistNode[] = [];

  /** An erl node (short names: its host name is one the certificates carry). */
  const erl = (args: string[], bridgeName = bridge.name.name) =>
    ErlNode.start({ epmdPort: epmd.port, cookie, args: [...args, "-ts_ssl", "bridge", erlAtom(bridgeName)] });

  /** A bridge serving ts_ssl, with TLS distribution as `file` configures it, or plain TCP. */
  async function tlsBridge(file: string | undefined): Promise<{ bridge: DistNode; log: MemoryLogger }> {
    const b = await startBridge(epmd.port, cookie, file !== undefined ? { transport: tlsDistTransport(file) } : {});
    bridges.push(b.bridge);
    serveSsl(b.bridge);
    return b;
  }
  const plainBridge = () => tlsBridge(undefined);

  /** What crosses loopback to and from `port` while `during` runs, as tcpdump saves it. */
  async function capture(port: number, during: () => Promise<void>): Promise<Buffer> {
    const file = join(pki.dir, `capture-${port}-${randomBytes(4).toString("hex")}.pcap`);
    const dump = spawn("tcpdump", ["-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", file, `tcp port ${port}`], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<void>((resolve) => dump.once("exit", () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let said = "";
        dump.stderr.on("data", (d: Buffer) => {
          said += d.toString();
          if (said.includes("listening on")) resolve();
        });
        void exited.then(() => reject(new Error(`tcpdump ended: ${said}`)));
      });
      await during();
      // Packets are written as they come (--immediate-mode, -U); give the last ones a moment.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      dump.kill("SIGINT");
      await exited;

    }
    return readFileSync(file);
  }

  beforeAll(async () => {
    pki = makePki();
    epmd = await Epmd.start();
    cookie = randomCookie();
    const bridgeFile = mutualOptfile(pki.dir, "bridge", pki.server, pki.caFile);
    goodFile = mutualOptfile(pki.dir, "node", pki.client, pki.caFile);
    // A node showing a certificate of the rogue CA trusts it too, to send its chain.
    bothCas = join(pki.dir, "both-cas.pem");
    writeFileSync(bothCas, Buffer.concat([pki.root.cert, pki.rogueRoot.cert]));
    ({ bridge, log } = await tlsBridge(bridgeFile));
    B = erlAtom(bridge.name);
    const echo = serveCalls(bridge, atom("echo"), (request, from) => reply(echo, from, request));
  });
  afterAll(async () => {
    await Promise.all(bridges.map((b) => b.stop()));
    await stopAll();
    pki?.remove();
  });

  it("a TLS node pings the bridge, and the bridge pings it back over the same connection", async () => {
    const node = await erl(tlsDistArgs(goodFile));
    expect((await node.eval(`net_adm:ping(${B})`)).text).toBe("pong");
    expect(await bridge.ping(atom(node.nodeName))).toBe("pong");
    // The node sees a TLS connection.
    expect((await node.eval(`{ok, I} = net_kernel:node_info(${B}), element(4, proplists:get_value(address, I))`)).text).toBe("tls");
  });

  it("serves ts_ssl end to end: connect, send, passive recv, active messages", async () => {
    const node = await erl(tlsDistArgs(goodFile));
    const { text } = await node.eval(`
      ok = ts_ssl:start(),
      {Port, Server} = ${nativeServer(pki.server)},
      {ok, C} = ts_ssl:connect("localhost", Port, [binary, {active, false}]),
      ok = ts_ssl:send(C, <<"hello">>),
      Passive = ts_ssl:recv(C, 5, 10000),
      ok = ts_ssl:setopts(C, [{active, true}]),
      ok = ts_ssl:send(C, <<"again">>),
      Active = receive {ssl, C, D} -> D after 10000 -> none end,
      Heard = receive {Server, H} -> H after 10000 -> none end,
      ts_ssl:close(C),
      {Passive, Active, Heard}`);
    expect(text).toBe(`{{ok,<<"world">>},<<"echo:again">>,[<<"hello">>,<<"again">>]}`);
  });

  it("a socket call waiting when the connection drops returns {error, closed} (over TLS a process controls the connection)", async () => {
    const node = await erl(tlsDistArgs(goodFile));
    await node.eval(`
      ok = ts_ssl:start(),
      {Port, _Server} = ${nativeServer(pki.server)},
      Waiter = spawn(fun() ->
          process_flag(trap_exit, true),
          {ok, C} = ts_ssl:connect("localhost", Port, [binary, {active, false}]),
          Before = [ts_ssl:sockname(C), ts_ssl:sockname(C)],
          receive go -> ok end,
          Waiting = ts_ssl:recv(C, 0, 30000),
          timer:sleep(300),
          receive {result, From} -> From ! {self(), {Before, Waiting, element(2, process_info(self(), messages))}} end
        end),
      Waiter ! go,
      Waiting = fun Poll(0) -> timeout;
                    Poll(N) -> case process_info(Waiter, current_function) of
                                   {current_function, {ts_ssl_call, watched_call, 3}} -> ok;
                                   _ -> timer:sleep(20), Poll(N - 1)
                               end
                end,
      ok = Waiting(1000),
      [{_, Controller}] = [X || {N, _} = X <- erlang:system_info(dist_ctrl), N =:= ${B}],
      true = is_pid(Controller)`);
    expect(bridge.disconnect(atom(node.nodeName))).toBe(true);
    const { text } = await node.eval(`Waiter ! {result, self()}, receive {Waiter, R} -> R after 10000 -> none end`);
    // The caller owns the socket and traps exits: besides the call's answer, its link's exit signal.
    expect(text.replace(/\s+/g, "")).toMatch(/^\{\[\{ok,\{\{127,0,0,1\},\d+\}\},\{ok,\{\{127,0,0,1\},\d+\}\}\],\{error,closed\},\[\{'EXIT',<\d+\.\d+\.\d+>,noconnection\}\]\}$/);
  });

  it("carries a 20 MiB message each way", async () => {
    const node = await erl(tlsDistArgs(goodFile));
    const { text } = await node.eval(`
      Big = crypto:strong_rand_bytes(20 * 1024 * 1024),
      Back = gen_server:call({echo, ${B}}, Big, 60000),
      {byte_size(Back), Back =:= Big}`);
    expect(text).toBe(`{${20 * 1024 * 1024},true}`);
  });

  it("dials a TLS node it has not met, as controlling_process to a process there makes it", async () => {
    const a = await erl(tlsDistArgs(goodFile));
    const c = await erl(tlsDistArgs(goodFile));
    expect(bridge.connectedNodes()).not.toContain(atom(c.nodeName));
    const { text } = await a.eval(`
      ok = ts_ssl:start(),
      Self = self(),
      Owner = spawn(${erlAtom(c.nodeName)}, fun() -> receive {ssl, _, D} -> Self ! {owner_got, D} after 15000 -> Self ! {owner_got, none} end end),
      {Port, _Server} = ${nativeServer(pki.server)},
      {ok, S} = ts_ssl:connect("localhost", Port, [binary, {active, true}]),
      ok = ts_ssl:controlling_process(S, Owner),
      ok = ts_ssl:send(S, <<"hello">>),
      receive {owner_got, Got} -> Got after 20000 -> none end`);
    expect(text).toBe(`<<"world">>`);
    expect(bridge.connectedNodes()).toContain(atom(c.nodeName));
  });

  it("refuses, with the reason logged, a wrong CA either way, no certificate where one is required, a chain past depth, and a plain TCP node; and goes on serving", async () => {
    const plainNode = await erl([]);
    const cases: Array<{ file: string; logged: RegExp }> = [
      // A certificate from a CA the bridge does not trust.
      {
        file: optfile(pki.dir, "rogue", nodeOptions(pki.unknownIssuer, bothCas), nodeOptions(pki.unknownIssuer, bothCas)),
        logged: /refused .*: .*(unable to get local issuer|unknown ca|certificate)/i,
      },
      // A node that trusts another CA refuses the bridge's certificate (and says so with an alert).
      {
        file: optfile(pki.dir, "distrust", nodeOptions(pki.client, pki.rogueRoot.certFile), nodeOptions(pki.client, pki.rogueRoot.certFile)),
        logged: /refused .*: .*alert/i,
      },
      // No client certificate, to a bridge with fail_if_no_peer_cert.
      {
        file: optfile(pki.dir, "anonymous", nodeOptions(pki.client, pki.caFile), nodeOptions(undefined, pki.caFile)),
        logged: /refused .*: .*certificate/i,
      },
    ];
    for (const [i, { file, logged }] of cases.entries()) {
      const node = await erl(tlsDistArgs(file));
      if (i === 0) {
        // The other way: the bridge dials that node and refuses its certificate.
        const before = log.entries.length;
        expect(await bridge.ping(atom(node.nodeName))).toBe("pang");
        await until(() => log.entries.slice(before).some((e) => /connection to .*: TLS distribution to .*: .*certificate/i.test(e.message)), () => log.text());
      }
      const before = log.entries.length;
      expect((await node.eval(`net_adm:ping(${B})`)).text).toBe("pang");
      expect(bridge.connectedNodes()).not.toContain(atom(node.nodeName));
      await until(() => log.entries.slice(before).some((e) => logged.test(e.message)), () => `${log.text()}\nthe node:\n${node.log}`);
    }

    // A plain TCP node: not TLS.
    const before = log.entries.length;
    expect((await plainNode.eval(`net_adm:ping(${B})`)).text).toBe("pang");
    await until(() => log.entries.slice(before).some((e) => /refused .*not TLS/.test(e.message)), () => log.text());

    // A chain longer than {depth, 0}: one intermediate certificate.
    const shallow = await tlsBridge(
      optfile(pki.dir, "shallow", nodeOptions(pki.server, pki.caFile, ["{fail_if_no_peer_cert, true}", "{depth, 0}"]), nodeOptions(pki.server, pki.caFile)),
    );
    const chained = await erl(tlsDistArgs(optfile(pki.dir, "chained", nodeOptions(pki.chained, pki.caFile), nodeOptions(pki.chained, pki.caFile))));
    expect((await chained.eval(`net_adm:ping(${erlAtom(shallow.bridge.name)})`)).text).toBe("pang");
    await until(() => /refused .*1 intermediate certificates, more than \{depth, 0\}/.test(shallow.log.text()), () => shallow.log.text());

    // The bridge still serves the nodes it should.
    const good = await erl(tlsDistArgs(goodFile));
    expect((await good.eval(`net_adm:ping(${B})`)).text).toBe("pong");
  });

  it("without fail_if_no_peer_cert, lets in a node that sends no certificate, but not one whose certificate does not verify", async () => {
    const lenient = await tlsBridge(optfile(pki.dir, "lenient", nodeOptions(pki.server, pki.caFile), nodeOptions(pki.server, pki.caFile)));
    const anonymous = await erl(tlsDistArgs(optfile(pki.dir, "anonymous2", nodeOptions(pki.client, pki.caFile), nodeOptions(undefined, pki.caFile))));
    expect((await anonymous.eval(`net_adm:ping(${erlAtom(lenient.bridge.name)})`)).text).toBe("pong");
    const rogue = await erl(tlsDistArgs(optfile(pki.dir, "rogue2", nodeOptions(pki.unknownIssuer, bothCas), nodeOptions(pki.unknownIssuer, bothCas))));
    expect((await rogue.eval(`net_adm:ping(${erlAtom(lenient.bridge.name)})`)).text).toBe("pang");
    await until(() => /refused .*: its certificate does not verify/.test(lenient.log.text()), () => lenient.log.text());
  });

  it("drops a TLS peer whose first handshake message is too long, and goes on serving", async () => {
    const before = log.entries.length;
    const peer = connect({ host: "127.0.0.1", port: bridge.port, cert: pki.client.cert, key: pki.client.key, ca: pki.root.cert, checkServerIdentity: () => undefined });
    await new Promise<void>((resolve, reject) => peer.once("secureConnect", resolve).once("error", reject));
    const closed = new Promise<void>((resolve) => peer.once("close", () => resolve()));
    peer.on("error", () => {});
    // inet_tls_dist's 4-byte length, claiming 1 GiB.
    peer.write(Buffer.from([0x40, 0, 0, 0, 0x4e]));
    await closed;
    await until(() => log.entries.slice(before).some((e) => /a handshake message of 1073741824 bytes/.test(e.message)), () => log.text());
    const node = await erl(tlsDistArgs(goodFile));
    expect((await node.eval(`net_adm:ping(${B})`)).text).toBe("pong");
  });

  it("a plain bridge refuses a TLS node, saying it speaks TLS", async () => {
    const plain = await plainBridge();
    const node = await erl(tlsDistArgs(goodFile), plain.bridge.name.name);
    expect((await node.eval(`net_adm:ping(${erlAtom(plain.bridge.name)})`)).text).toBe("pang");
    await until(() => /speaks TLS: it runs TLS distribution/.test(plain.log.text()), () => plain.log.text());
  });

  it("puts no plaintext on the wire: a ts_ssl:send/2 marker crosses TLS distribution encrypted, plain distribution in clear", async () => {
    const plain = await plainBridge();
    for (const tls of [true, false]) {
      const target = tls ? bridge : plain.bridge;
      const node = await erl(tls ? tlsDistArgs(goodFile) : [], target.name.name);
      expect((await node.eval(`net_adm:ping(${erlAtom(target.name)})`)).text).toBe("pong");
      const marker = `MARKER-${randomBytes(12).toString("hex")}`;
      const wire = await capture(target.port, async () => {
        const { text } = await node.eval(`
          ok = ts_ssl:start(),
          {Port, Server} = ${nativeServer(pki.server)},
          {ok, C} = ts_ssl:connect("localhost", Port, [binary, {active, false}]),
          ok = ts_ssl:send(C, <<"${marker}">>),
          Heard = receive {Server, H} -> H after 10000 -> none end,
          ts_ssl:close(C), Heard`);
        expect(text).toBe(`[<<"${marker}">>]`);
      });
      expect(wire.length).toBeGreaterThan(1000);
      expect(wire.includes(marker)).toBe(!tls);
    }
  });

  it("works with certificates from public_key:pkix_test_data/1, and refuses at start its defaults OpenSSL will not use", async () => {
    const maker = await erl([]);
    await maker.eval(`
      Dir = ${erlString(pki.dir)},
      Write = fun(Prefix, #{server_config := S}) ->
                  {cert, Cert} = lists:keyfind(cert, 1, S),
                  {key, {Type, Key}} = lists:keyfind(key, 1, S),
                  {cacerts, CAs} = lists:keyfind(cacerts, 1, S),
                  Pem = fun(File, Entries) -> ok = file:write_file(filename:join(Dir, Prefix ++ File), public_key:pem_encode(Entries)) end,
                  Pem("cert.pem", [{'Certificate', Cert, not_encrypted}]),
                  Pem("key.pem", [{Type, Key, not_encrypted}]),
                  Pem("cacerts.pem", [{'Certificate', C, not_encrypted} || C <- CAs])
              end,
      Default = #{root => [], intermediates => [], peer => []},
      Write("pkix_default_", public_key:pkix_test_data(#{server_chain => Default, client_chain => Default})),
      Modern = [{key, {namedCurve, secp256r1}}, {digest, sha256}],
      SAN = {'Extension', {2,5,29,17}, false, [{dNSName, ${erlString(shortHost)}}]},
      Write("pkix_", public_key:pkix_test_data(#{server_chain => #{root => Modern, intermediates => [], peer => [{extensions, [SAN]} | Modern]},
                                                client_chain => #{root => Modern, intermediates => [], peer => Modern}}))`);
    const pkix = (prefix: string) => {
      const cred = { certFile: join(pki.dir, `${prefix}cert.pem`), keyFile: join(pki.dir, `${prefix}key.pem`) } as Credential;
      return mutualOptfile(pki.dir, prefix, cred, join(pki.dir, `${prefix}cacerts.pem`));
    };
    // SHA-1 signatures on 160-bit EC keys: below OpenSSL's default security level.
    expect(() => tlsDistTransport(pkix("pkix_default_"))).toThrow(
      new RegExp(`^server: OpenSSL refuses the certificate, key or options: .*(too weak|too small)`),
    );
    const file = pkix("pkix_");
    const b = await tlsBridge(file);
    const node = await erl(tlsDistArgs(file), b.bridge.name.name);
    expect((await node.eval(`net_adm:ping(${erlAtom(b.bridge.name)})`)).text).toBe("pong");
    const other = await erl(tlsDistArgs(file), b.bridge.name.name);
    expect(await b.bridge.ping(atom(other.nodeName))).toBe("pong");
  });
});

/**
 * An Erlang expression: a native ssl server on the node, for one connection, that answers
 * `world` to its first 5 bytes and `echo:` + them to the next 5, and sends what it heard to the
 * caller as `{Server, [Heard, ...]}`. Its value is `{Port, Server}`.
 */
function nativeServer(cred: Credential): string {
  return `(fun() ->
      {ok, _} = application:ensure_all_started(ssl),
      Caller = self(), Ref = make_ref(),
      {ok, L} = ssl:listen(0, [binary, {active, false}, {reuseaddr, true}, {certfile, ${erlString(cred.certFile)}}, {keyfile, ${erlString(cred.keyFile)}}]),
      {ok, {_, P}} = ssl:sockname(L),
      spawn(fun() ->
          {ok, T} = ssl:transport_accept(L, 20000),
          {ok, S} = ssl:handshake(T, 20000),
          Recv = fun(Len) -> case ssl:recv(S, Len, 10000) of {ok, D} -> D; _ -> none end end,
          First = Recv(0),
          ok = ssl:send(S, <<"world">>),
          Second = case byte_size(First) of 5 -> Recv(5); _ -> none end,
          Second =/= none andalso ssl:send(S, <<"echo:", Second/binary>>),
          Caller ! {Ref, [X || X <- [First, Second], X =/= none]},
          timer:sleep(2000), ssl:close(L)
      end),
      {P, Ref}
    end)()`;
}

/** Waits until `ok()` holds (what the bridge logs may come a moment after the node's answer). */
async function until(ok: () => boolean, what: () => string, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`not seen within ${ms} ms; the log:\n${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
