/**
 * ssl sockets made by connect/3,4, against node:tls servers, driven through SslService without
 * Erlang: delivery in every mode, framing, sending, closing, and the owner's rules.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer as createTcpServer } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { atom, Pid, type Term, type Tuple } from "../../etf/index.js";
import { makePki, type Pki } from "../support/certs.js";
import { a, Bench, infinity, portOf, s, show, t, type Caller } from "./harness.js";
import { collect, credentials, readBytes, silentServer, TlsPeerServer } from "./peers.js";

let pki: Pki;
let bench: Bench;
let server: TlsPeerServer;

beforeAll(async () => {
  pki = makePki();
  server = await TlsPeerServer.start(credentials(pki.server));
});
afterAll(() => {
  server.close();
  pki.remove();
});
beforeAll(() => {
  bench = new Bench();
});
afterEach(() => bench.service.closeAll());
afterAll(() => bench.stop());

/** connect from `owner` with `options`; the socket and the server's side of it. */
async function connected(owner: Caller, options: Term[], host: Term = s("localhost")): Promise<[Tuple, TLSSocket]> {
  const peer = server.accepted();
  const socket = await owner.socket("connect", host, server.port, options, infinity);
  return [socket, await peer];
}

describe("connect/3,4", () => {
  it("gives {ok, {sslsocket, Id, Pid}} with Pid a process of the bridge", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, []);
    expect(show(S)).toMatch(/^\{sslsocket,\d+,<local@localhost\.\d+\.0>\}$/);
    expect(S.elements[2]).toBeInstanceOf(Pid);
  });

  it("takes an IP tuple, an IP string and an atom host name", async () => {
    const owner = bench.caller();
    for (const host of [t(127, 0, 0, 1), s("127.0.0.1"), a("localhost")]) {
      const [S] = await connected(owner, [], host);
      expect(show(await owner.call("close", S))).toBe("ok");
    }
  });

  it("fails with POSIX reasons: econnrefused, nxdomain", async () => {
    const owner = bench.caller();
    const free = await silentServer();
    free.close();
    await new Promise((r) => setTimeout(r, 10));
    expect(show(await owner.call("connect", s("127.0.0.1"), free.port, [], infinity))).toBe("{error,econnrefused}");
    expect(show(await owner.call("connect", s("no-such-host.invalid"), 443, [], infinity))).toBe("{error,nxdomain}");
  });

  it("times out ({error, timeout}) against a server that never answers the handshake", async () => {
    const owner = bench.caller();
    const silent = await silentServer();
    expect(show(await owner.call("connect", s("127.0.0.1"), silent.port, [], 100))).toBe("{error,timeout}");
    silent.close();
  });

  it("a connect that fails leaves no exit signal for a caller that traps exits", async () => {
    const owner = bench.caller(true);
    const refused = await silentServer();
    refused.close();
    const silent = await silentServer();
    const failures = [
      await owner.call("connect", s("127.0.0.1"), refused.port, [], infinity),
      await owner.call("connect", s("127.0.0.1"), silent.port, [], 100),
      // A handshake that completes, then a peer certificate that {verify, 2} refuses.
      await owner.call("connect", s("localhost"), server.port, [t(a("verify"), 2), t(a("cacertfile"), s("/ca.pem"), pki.rogueRoot.cert)], infinity),
    ];
    silent.close();
    expect(failures.map(show)).toEqual(["{error,econnrefused}", "{error,timeout}", "{error,enoissuercert}"]);
    // The first message is the exit of a socket that was made and closed: none came before it.
    const [S] = await connected(owner, []);
    expect(show(await owner.call("close", S))).toBe("ok");
    expect(await owner.next()).toBe(`{'EXIT',${show(S.elements[2]!)},normal}`);
  });

  it("binds {ip, Addr} and {port, P}", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("ip"), t(127, 0, 0, 1)), t(a("port"), 0)]);
    expect(show(await owner.call("sockname", S))).toBe(`{ok,{{127,0,0,1},${peer.remotePort}}}`);
    expect(show(await owner.call("peername", S))).toBe(`{ok,{{127,0,0,1},${server.port}}}`);
  });

  it("refuses bad arguments: eoptions for options, einval for the rest", async () => {
    const owner = bench.caller();
    expect(show(await owner.call("connect", s("localhost"), server.port, [t(a("backlog"), 5)], infinity))).toBe("{error,eoptions}");
    expect(show(await owner.call("connect", s("localhost"), server.port, a("binary"), infinity))).toBe("{error,eoptions}");
    expect(show(await owner.call("connect", s("localhost"), 70000, [], infinity))).toBe("{error,einval}");
    expect(show(await owner.call("connect", s("localhost"), server.port, [], -1))).toBe("{error,einval}");
    expect(show(await owner.call("connect", 42, server.port, [], infinity))).toBe("{error,einval}");
  });
});

describe("active delivery", () => {
  it("{active, true} in list mode (the defaults): {ssl, S, Charlist}", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    peer.write("hello");
    expect(await owner.next(S)).toBe('{ssl,S,"hello"}');
  });

  it("binary mode: {ssl, S, Binary}; with {header, 2}: [B1, B2 | Rest]", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [a("binary")]);
    peer.write("hello");
    expect(await owner.next(S)).toBe('{ssl,S,<<"hello">>}');
    expect(show(await owner.call("setopts", S, [t(a("header"), 2)]))).toBe("ok");
    peer.write("world");
    expect(await owner.next(S)).toBe('{ssl,S,[119,111|<<"rld">>]}');
  });

  it("{active, once}: one message, then nothing until asked again", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [a("binary"), t(a("active"), a("once")), t(a("packet"), 1)]);
    peer.write(Buffer.from([1, 65, 1, 66, 1, 67]));
    expect(await owner.next(S)).toBe('{ssl,S,<<"A">>}');
    expect(show(await owner.call("getopts", S, [a("active")]))).toBe("{ok,[{active,false}]}");
    expect(owner.pending).toEqual([]);
    expect(show(await owner.call("setopts", S, [t(a("active"), a("once"))]))).toBe("ok");
    expect(await owner.next(S)).toBe('{ssl,S,<<"B">>}');
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,<<"C">>}');
  });

  it("{active, N}: N messages, then {ssl_passive, S}; setopts adds to the count", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), 2), t(a("packet"), 1)]);
    peer.write(Buffer.from([1, 65, 1, 66, 1, 67, 1, 68]));
    expect(await owner.next(S)).toBe('{ssl,S,"A"}');
    expect(await owner.next(S)).toBe('{ssl,S,"B"}');
    expect(await owner.next(S)).toBe("{ssl_passive,S}");
    expect(show(await owner.call("setopts", S, [t(a("active"), 1)]))).toBe("ok");
    expect(await owner.next(S)).toBe('{ssl,S,"C"}');
    expect(await owner.next(S)).toBe("{ssl_passive,S}");
    expect(show(await owner.call("setopts", S, [t(a("active"), 32768)]))).toBe("{error,eoptions}");
    expect(show(await owner.call("setopts", S, [t(a("active"), 32767)]))).toBe("ok");
    expect(await owner.next(S)).toBe('{ssl,S,"D"}');
    expect(show(await owner.call("setopts", S, [t(a("active"), 2)]))).toBe("{error,einval}");
    expect(show(await owner.call("getopts", S, [a("active")]))).toBe("{ok,[{active,32766}]}");
    expect(show(await owner.call("setopts", S, [t(a("active"), -32766)]))).toBe("ok");
    expect(await owner.next(S)).toBe("{ssl_passive,S}");
  });

  it("{active, true} stops reading while the owner's connection is backed up, and goes on when it drains", async () => {
    const owner = bench.caller();
    // The connections of the owner's node, backed up until drained: the one part of a
    // distributed node this test stands in for, so the socket's flow control can be watched.
    const drainWaits: Term[] = [];
    let drained: () => void = () => {};
    const backedUp = new Promise<void>((resolve) => (drained = resolve));
    let up = true;
    bench.node.peers = {
      send: () => {},
      isBackedUp: () => up,
      whenDrained: (node) => {
        drainWaits.push(node);
        return backedUp;
      },
    };
    try {
      const [S, peer] = await connected(owner, [t(a("packet"), 1)]);
      expect(drainWaits).toEqual([bench.node.name]);
      peer.write(Buffer.from([1, 65]));
      // The socket waits for the owner's node to drain before it reads; once it has, data flows.
      up = false;
      drained();
      expect(await owner.next(S)).toBe('{ssl,S,"A"}');
    } finally {
      bench.node.peers = undefined;
    }
  });

  it("{ssl_closed, S} when the peer closes, after the last data", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    peer.end("bye");
    expect(await owner.next(S)).toBe('{ssl,S,"bye"}');
    expect(await owner.next(S)).toBe("{ssl_closed,S}");
    expect(show(await owner.call("send", S, Buffer.from("x")))).toBe("{error,closed}");
  });

  it("packet over packet_size: {ssl_error, S, emsgsize} then {ssl_closed, S}", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("packet"), 2), t(a("packet_size"), 4)]);
    peer.write(Buffer.from([0, 2, 1, 2, 0, 5, 1, 2, 3, 4, 5]));
    expect(await owner.next(S)).toBe("{ssl,S,[1,2]}");
    expect(await owner.next(S)).toBe("{ssl_error,S,emsgsize}");
    expect(await owner.next(S)).toBe("{ssl_closed,S}");
    await once(peer, "close");
    expect(show(await owner.call("setopts", S, [t(a("active"), a("false"))]))).toBe("ok");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{error,closed}");
  });

  it("a send waiting for the peer to read gets {error, closed} when a packet over packet_size closes the socket", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("packet"), 4), t(a("packet_size"), 4)]);
    peer.pause();
    const sending = owner.call("send", S, Buffer.alloc(64 << 20));
    // More than the kernel's buffers hold: the send waits while the peer does not read.
    const answered = await Promise.race([sending.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
    expect(answered).toBe(false);
    peer.write(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4, 5]));
    expect(await owner.next(S)).toBe("{ssl_error,S,emsgsize}");
    expect(show(await sending)).toBe("{error,closed}");
  });
});

describe("passive delivery: recv/2,3", () => {
  it("recv(S, 0) gives what is there; recv(S, N) exactly N bytes", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [a("binary"), t(a("active"), a("false"))]);
    peer.write("hello world");
    expect(show(await owner.call("recv", S, 5, infinity))).toBe('{ok,<<"hello">>}');
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,<<" world">>}');
  });

  it("waits for data, and times out with {error, timeout} without losing any", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), a("false"))]);
    expect(show(await owner.call("recv", S, 0, 50))).toBe("{error,timeout}");
    const waiting = owner.call("recv", S, 3, infinity);
    peer.write("ab");
    peer.write("cd");
    expect(show(await waiting)).toBe('{ok,"abc"}');
    expect(show(await owner.call("recv", S, 0, 0))).toBe('{ok,"d"}');
  });

  it("a recv whose caller exits while it waits takes nothing: the data goes to the next recv", async () => {
    const owner = bench.caller();
    const doomed = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), a("false"))]);
    const abandoned = doomed.call("recv", S, 0, infinity);
    doomed.mailbox.process.terminate(a("killed"));
    expect(show(await abandoned)).toBe("{error,closed}");
    peer.write("for the living");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,"for the living"}');
  });

  it("recv on an active socket is {error, {badcall, Request}}", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, []);
    const r = show(await owner.call("recv", S, 0, infinity));
    expect(r).toBe(`{error,{badcall,{recv,${show(S)},0,infinity}}}`);
  });

  it("{packet, 1|2|4} with recv(S, N > 0) is einval; recv(S, 0) gives a packet", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("packet"), 4), t(a("active"), a("false")), a("binary")]);
    expect(show(await owner.call("recv", S, 2, infinity))).toBe("{error,einval}");
    peer.write(Buffer.from([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0]));
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{ok,<<1,2,3>>}");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{ok,<<>>}");
  });

  it("after the peer closes: the rest, then {error, closed}", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), a("false"))]);
    peer.end("last words");
    await once(peer, "finish");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,"last words"}');
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{error,closed}");
    expect(show(await owner.call("recv", S, 5, infinity))).toBe("{error,closed}");
    expect(show(await owner.call("send", S, Buffer.from("x")))).toBe("{error,closed}");
  });

  it("after a reset: what arrived before it, then {error, closed}, as gen_tcp and OTP's ssl tell a reset", async () => {
    // A TLS server over a TCP socket of its own, so that it can reset the connection.
    const context = createSecureContext(credentials(pki.server));
    const tcp = createTcpServer((raw) => {
      const tlsSide = new TLSSocket(raw, { isServer: true, secureContext: context });
      tlsSide.on("error", () => {});
      tlsSide.once("secure", () => {
        for (let i = 0; i < 104; i++) tlsSide.write(Buffer.from([48 + (i % 10)]));
        tlsSide.once("drain", () => {});
        setTimeout(() => raw.resetAndDestroy(), 50);
      });
    });
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    try {
      const owner = bench.caller();
      const S = await owner.socket("connect", s("localhost"), portOf(tcp), [t(a("active"), a("false")), a("binary")], infinity);
      // Nothing is read until asked; the reset comes while the data waits in the bridge.
      await new Promise((r) => setTimeout(r, 300));
      let got = "";
      for (;;) {
        const reply = show(await owner.call("recv", S, 0, infinity));
        const m = /^\{ok,<<"(.*)">>\}$/.exec(reply);
        if (m === null) {
          expect(reply).toBe("{error,closed}");
          break;
        }
        got += m[1];
      }
      expect(got).toBe("0123456789".repeat(10) + "0123");
    } finally {
      tcp.close();
    }
  });

  it("a packet over packet_size: the waiting recv gets emsgsize, later ones closed", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), a("false")), t(a("packet"), 1), t(a("packet_size"), 2)]);
    peer.write(Buffer.from([3, 1, 2, 3]));
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{error,emsgsize}");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe("{error,closed}");
  });

  it("switches from passive to active with what is buffered", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("active"), a("false")), t(a("packet"), a("line"))]);
    peer.write("one\ntwo\n");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,"one\\n"}');
    expect(show(await owner.call("setopts", S, [t(a("active"), a("true"))]))).toBe("ok");
    expect(await owner.next(S)).toBe('{ssl,S,"two\\n"}');
  });
});

describe("send/2", () => {
  it("frames with {packet, 2}; an empty send is an empty packet", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [t(a("packet"), 2)]);
    expect(show(await owner.call("send", S, Buffer.from("hi")))).toBe("ok");
    expect(show(await owner.call("send", S, Buffer.alloc(0)))).toBe("ok");
    expect([...(await readBytes(peer, 6))]).toEqual([0, 2, 104, 105, 0, 0]);
  });

  it("refuses a packet its length field cannot hold: {badarg, {packet_to_large, Size, Max}}", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, [t(a("packet"), 1)]);
    expect(show(await owner.call("send", S, Buffer.alloc(300)))).toBe("{error,{badarg,{packet_to_large,300,255}}}");
  });

  it("takes iodata as a direct caller may send it", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    expect(show(await owner.call("send", S, [104, [Buffer.from("el")], s("lo")]))).toBe("ok");
    expect((await readBytes(peer, 5)).toString()).toBe("hello");
    expect(show(await owner.call("send", S, a("nope")))).toBe("{error,einval}");
  });

  it("moves 10 MiB each way intact (SHA-256 on both ends)", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, [a("binary"), t(a("active"), a("false"))]);
    const up = randomBytes(10 << 20);
    const down = randomBytes(10 << 20);
    const received = readBytes(peer, up.length);
    for (let i = 0; i < up.length; i += 64 << 10) {
      expect(show(await owner.call("send", S, up.subarray(i, i + (64 << 10))))).toBe("ok");
    }
    expect(createHash("sha256").update(await received).digest("hex")).toBe(createHash("sha256").update(up).digest("hex"));
    peer.write(down);
    const hash = createHash("sha256");
    let got = 0;
    while (got < down.length) {
      const r = (await owner.call("recv", S, 0, infinity)) as Tuple;
      const chunk = r.elements[1] as Uint8Array;
      hash.update(chunk);
      got += chunk.length;
    }
    expect(got).toBe(down.length);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(down).digest("hex"));
  });

  it("a recv that waits holds up neither a send on the same socket nor calls on another", async () => {
    const owner = bench.caller();
    const [S1, peer1] = await connected(owner, [t(a("active"), a("false"))]);
    const [S2] = await connected(owner, []);
    const blocked = owner.call("recv", S1, 0, infinity);
    expect(show(await owner.call("send", S1, Buffer.from("ping")))).toBe("ok");
    expect(show(await owner.call("getopts", S2, [a("active")]))).toBe("{ok,[{active,true}]}");
    expect((await readBytes(peer1, 4)).toString()).toBe("ping");
    peer1.write("pong");
    expect(show(await blocked)).toBe('{ok,"pong"}');
  });
});

describe("close/1 and the owner", () => {
  it("close/1: the peer sees the TLS close, later calls get {error, closed}", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    const seen = collect(peer);
    expect(show(await owner.call("send", S, Buffer.from("bye")))).toBe("ok");
    expect(show(await owner.call("close", S))).toBe("ok");
    expect((await seen).toString()).toBe("bye");
    for (const [name, ...args] of [["send", Buffer.from("x")], ["recv", 0, infinity], ["close"], ["getopts", [a("mode")]], ["sockname"]] as const) {
      expect(show(await owner.call(name, S, ...(args as Term[])))).toBe("{error,closed}");
    }
  });

  it("a recv waiting when the socket closes gets {error, closed}", async () => {
    const owner = bench.caller();
    const other = bench.caller();
    const [S] = await connected(owner, [t(a("active"), a("false"))]);
    const waiting = other.call("recv", S, 0, infinity);
    await owner.call("close", S);
    expect(show(await waiting)).toBe("{error,closed}");
  });

  it("the owner's exit closes the socket", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    const ended = once(peer, "end");
    owner.mailbox.process.terminate(atom("crashed"));
    await ended;
    expect(show(await bench.caller().call("sockname", S))).toBe("{error,closed}");
  });

  it("controlling_process/2: only the owner may; messages then go to the new owner", async () => {
    const owner = bench.caller();
    const next = bench.caller();
    const [S, peer] = await connected(owner, []);
    const refused = show(await next.call("controlling_process", S, next.pid));
    expect(refused).toBe(`{error,{badcall,{controlling_process,${show(S)},${show(next.pid)}}}}`);
    expect(show(await owner.call("controlling_process", S, next.pid))).toBe("ok");
    peer.write("to the new owner");
    expect(await next.next(S)).toBe('{ssl,S,"to the new owner"}');
    expect(owner.pending).toEqual([]);
    // The old owner's exit no longer closes the socket; the new owner's does.
    owner.mailbox.process.terminate(atom("done"));
    expect(show(await next.call("send", S, Buffer.from("still open")))).toBe("ok");
    expect(show(await next.call("controlling_process", S, a("notapid")))).toBe("{error,einval}");
  });

  it("a socket that dies abnormally takes its owner with it ({badinfo, Msg}, as 3.9)", async () => {
    const owner = bench.caller(true);
    const [S] = await connected(owner, []);
    const socketPid = S.elements[2] as Pid;
    bench.caller().mailbox.process.send(socketPid, a("unexpected"));
    expect(await owner.next()).toBe(`{'EXIT',${show(socketPid)},{error,{badinfo,unexpected}}}`);
    expect(show(await owner.call("sockname", S))).toBe("{error,closed}");
  });

  it("close/1 by any process, and the owner then gets the socket's normal exit", async () => {
    const owner = bench.caller(true);
    const [S] = await connected(owner, []);
    expect(show(await bench.caller().call("close", S))).toBe("ok");
    expect(await owner.next()).toBe(`{'EXIT',${show(S.elements[2]!)},normal}`);
  });
});

describe("options on a socket", () => {
  it("getopts answers in the order asked, defaults included; setopts changes them", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, [t(a("packet"), 2), a("binary")]);
    expect(show(await owner.call("getopts", S, [a("packet"), a("header"), a("mode"), a("active"), a("nodelay"), a("verify"), a("depth")]))).toBe(
      "{ok,[{packet,2},{header,0},{mode,binary},{active,true},{nodelay,false},{verify,0},{depth,1}]}",
    );
    expect(show(await owner.call("setopts", S, [t(a("nodelay"), a("true")), a("list"), t(a("packet"), a("raw"))]))).toBe("ok");
    expect(show(await owner.call("getopts", S, [a("nodelay"), a("mode"), a("packet")]))).toBe("{ok,[{nodelay,true},{mode,list},{packet,0}]}");
  });

  it("setopts refuses ssl options and connect-only options with eoptions; getopts an unknown tag with einval", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, []);
    expect(show(await owner.call("setopts", S, [t(a("verify"), 1)]))).toBe("{error,eoptions}");
    expect(show(await owner.call("setopts", S, [t(a("port"), 1)]))).toBe("{error,eoptions}");
    expect(show(await owner.call("getopts", S, [a("backlog")]))).toBe("{error,einval}");
  });

  it("connection_info/1: {ok, {Protocol, Cipher}}; versions picks the protocol", async () => {
    const owner = bench.caller();
    const [S13] = await connected(owner, []);
    expect(show(await owner.call("connection_info", S13))).toBe(`{ok,{'tlsv1.3',"TLS_AES_256_GCM_SHA384"}}`);
    const [S12] = await connected(owner, [t(a("versions"), [a("tlsv1.2")]), t(a("ciphers"), s("ECDHE-ECDSA-AES128-GCM-SHA256"))]);
    expect(show(await owner.call("connection_info", S12))).toBe(`{ok,{'tlsv1.2',"ECDHE-ECDSA-AES128-GCM-SHA256"}}`);
  });

  it("ciphers limits every protocol: a list without TLS 1.3 suites gives TLS 1.2 with a listed cipher", async () => {
    const owner = bench.caller();
    const [S] = await connected(owner, [t(a("ciphers"), s("ECDHE-ECDSA-AES256-GCM-SHA384"))]);
    expect(show(await owner.call("connection_info", S))).toBe(`{ok,{'tlsv1.2',"ECDHE-ECDSA-AES256-GCM-SHA384"}}`);
    const [S13] = await connected(owner, [t(a("ciphers"), s("TLS_AES_128_GCM_SHA256"))]);
    expect(show(await owner.call("connection_info", S13))).toBe(`{ok,{'tlsv1.3',"TLS_AES_128_GCM_SHA256"}}`);
    const only13 = [t(a("versions"), [a("tlsv1.3")]), t(a("ciphers"), s("ECDHE-ECDSA-AES128-GCM-SHA256"))];
    expect(show(await owner.call("connect", s("localhost"), server.port, only13, infinity))).toBe("{error,ecipher}");
  });

  it("sends SNI for a host name (not for an address, nor with {server_name_indication, disable}); ALPN", async () => {
    const owner = bench.caller();
    const names: Array<string | false | null> = [];
    const alpn = await TlsPeerServer.start({ ...credentials(pki.server), ALPNProtocols: ["h2", "http/1.1"] }, (sock) => names.push(sock.servername));
    const via = async (host: Term, options: Term[]) => {
      const peer = alpn.accepted();
      await owner.socket("connect", host, alpn.port, options, infinity);
      return peer;
    };
    await via(s("localhost"), []);
    await via(s("127.0.0.1"), []);
    await via(s("localhost"), [t(a("server_name_indication"), a("disable"))]);
    await via(s("127.0.0.1"), [t(a("server_name_indication"), s("example.org"))]);
    const negotiated = await via(s("localhost"), [t(a("alpn_advertised_protocols"), [Buffer.from("spdy/1"), Buffer.from("http/1.1")])]);
    expect(negotiated.alpnProtocol).toBe("http/1.1");
    expect(names).toEqual(["localhost", false, false, "example.org", "localhost"]);
    alpn.close();
  });

  it("speaks TLS 1.0 and 1.1 when versions asks for them", async () => {
    const old = await TlsPeerServer.start({ ...credentials(pki.server), minVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" });
    const owner = bench.caller();
    for (const [version, atomText] of [["tlsv1", "tlsv1"], ["tlsv1.1", "'tlsv1.1'"]] as const) {
      const S = await owner.socket("connect", s("127.0.0.1"), old.port, [t(a("versions"), [a(version)])], infinity);
      expect(show(await owner.call("connection_info", S))).toMatch(new RegExp(`^\\{ok,\\{${atomText.replace(".", "\\.")},"ECDHE-ECDSA-AES\\d+-SHA"\\}\\}$`));
    }
    old.close();
  });

  it("peercert/1 gives the server's certificate as DER, also once the connection is gone", async () => {
    const owner = bench.caller();
    const [S, peer] = await connected(owner, []);
    const expected = pki.server.cert.toString("latin1").replace(/-----[A-Z ]+-----|\s/g, "");
    const peercert = async () => Buffer.from(((await owner.call("peercert", S)) as Tuple).elements[1] as Uint8Array).toString("base64");
    expect(await peercert()).toBe(expected);
    peer.destroy();
    expect(await owner.next(S)).toBe("{ssl_closed,S}");
    expect(await peercert()).toBe(expected);
  });
});
